"""A prestarted Python interpreter that forks job processes (``prestarted`` is its client).

Starting Python costs a trivial training script most of its time (about 12 ms of CPU
here), and a tuning job of quick trials pays it once per trial. The fork server is one
idle interpreter, started as slipway starts its first job, that forks a copy of itself
for each job; the copy becomes the job's process and runs the entry point as
``python script.py`` would: a fresh ``__main__``, the script's ``sys.argv``,
``sys.path[0]``, working folder and environment, output to the job's log. It ends as the
interpreter ends a script (non-daemon threads joined, ``atexit`` handlers, output
flushed, the script's globals released, the exit code), but without the interpreter's
teardown of every other object: as with a forked ``multiprocessing`` worker, an object
that only that teardown would finalize is not finalized.

Only what Python reads as it starts cannot differ per job: the ``PYTHON*``, locale and
``HOME`` variables. A client keeps one server per distinct set of them, so a job whose
environment sets ``PYTHONPATH`` or ``PYTHONHASHSEED`` gets an interpreter started with it.
Jobs of one server share its string hash seed, as forked workers do.

Like the shell wrapper of the other start method, the server records each job's exit
code in the job's folder, and it outlives the slipway process that started it until its
jobs have ended, so that a later slipway process can adopt them.

The server side runs as a script and imports only the standard library.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import gc
import importlib.machinery
import json
import os
import select
import signal
import socket
import sys
import threading
import types
from typing import NoReturn

# Variables Python reads as it starts: a job whose values differ needs its own server.
_STARTUP_PREFIXES = ("PYTHON", "LC_")
_STARTUP_NAMES = frozenset({"LANG", "LANGUAGE", "HOME"})


def startup_variables(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (k, v) for k, v in env.items() if k in _STARTUP_NAMES or k.startswith(_STARTUP_PREFIXES)
        )
    )


# --- the server --------------------------------------------------------------------------


def _exit_code(status: int) -> int:
    """As a shell reports it: 128 + the signal for a process a signal ended."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def serve(channel: socket.socket) -> dict | None:
    """Fork a job per request line until the client hangs up and every job has ended.

    Returns only in a forked child: the request it is to run.
    """
    jobs: dict[int, tuple[int, str]] = {}  # pidfd -> (pid, exit code file)
    pending = b""
    accepting = True
    # poll, not select: no limit on descriptor numbers, however many jobs run
    poller = select.poll()
    poller.register(channel, select.POLLIN)
    while accepting or jobs:
        for ready, _ in poller.poll():
            if ready == channel.fileno():
                data = channel.recv(1 << 20)
                if not data:  # the client is gone: finish the jobs, take no more
                    accepting = False
                    poller.unregister(channel)
                    continue
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    request = json.loads(line)
                    try:
                        pid = os.fork()
                    except OSError as error:
                        _tell(channel, f"error {error}")
                        continue
                    if pid == 0:
                        channel.close()
                        for pidfd in jobs:
                            os.close(pidfd)
                        return request
                    pidfd = os.pidfd_open(pid)
                    jobs[pidfd] = (pid, request["exit"])
                    poller.register(pidfd, select.POLLIN)
                    _tell(channel, f"started {pid}")
            else:
                pid, exit_file = jobs.pop(ready)
                poller.unregister(ready)
                os.close(ready)
                code = _exit_code(os.waitpid(pid, 0)[1])
                # Written before the client hears of it: whoever learns of the end finds it.
                with contextlib.suppress(OSError), open(exit_file, "w") as stream:
                    stream.write(f"{code}\n")  # unless its folder is gone (job deleted)
                _tell(channel, f"ended {pid} {code}")
    return None


def _tell(channel: socket.socket, message: str) -> None:
    with contextlib.suppress(OSError):  # the client is gone; the exit code files say it all
        channel.sendall(message.encode() + b"\n")


def become_job(request: dict) -> NoReturn:
    """In the forked child: take on the job's session, files and environment, then run it."""
    os.setsid()
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]  # [python, script, arguments...]
    script = argv[1]
    sys.orig_argv = list(argv)
    sys.argv = argv[1:]
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    _end(*run_main(script))


def run_main(script: str) -> tuple[int, bool]:
    """Run a file as ``__main__``: its exit code, and whether it was interrupted (SIGINT).

    An uncaught error is printed as the interpreter prints it.
    """
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__cached__ = None
    main.__builtins__ = builtins
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
    sys.modules["__main__"] = main
    try:
        with open(script, "rb") as stream:
            code = compile(stream.read(), script, "exec")
        exec(code, main.__dict__)
    except SystemExit as exit:
        return _exit_status(exit), False
    except BaseException as error:
        # The traceback starts at the script, as with ``python script.py``.
        trace = error.__traceback__
        while trace is not None and trace.tb_frame.f_code.co_filename != script:
            trace = trace.tb_next
        sys.excepthook(type(error), error.with_traceback(trace), trace)
        return 1, isinstance(error, KeyboardInterrupt)
    return 0, False


def _exit_status(exit: SystemExit) -> int:
    """As the interpreter reads ``sys.exit(code)``: None is 0, a number is itself, else 1."""
    if exit.code is None:
        return 0
    if isinstance(exit.code, int):
        return exit.code
    print(exit.code, file=sys.stderr)
    return 1


def _end(code: int, interrupted: bool) -> NoReturn:
    """End the process as the interpreter ends one, less its teardown of every object.

    The teardown writes to every object the fork shares with the server, so the kernel
    copies their memory page by page: it cost a trivial job 4 to 6 ms, more than the
    rest of it. The steps a script can see are kept, in the interpreter's order.
    """
    threading._shutdown()  # non-daemon threads are joined
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # The script's globals go, as in the teardown: a file it left open is flushed.
    sys.modules["__main__"].__dict__.clear()
    gc.collect()  # only the job's own objects: the server's are frozen
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if interrupted:  # the interpreter ends by SIGINT then
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


if __name__ == "__main__":
    # What the jobs' processes need, imported once here rather than in each of them, and
    # kept out of their garbage collections (which would copy the pages they are on).
    gc.freeze()
    _job = serve(socket.socket(fileno=int(sys.argv[1])))
    if _job is not None:
        become_job(_job)
