"""A prestarted Python interpreter that forks job processes (``prestarted`` is its client).

Starting Python costs a trivial training script most of its time (about 12 ms of CPU
here), and a tuning job of quick trials pays it once per trial. The fork server is one
idle interpreter, started as slipway starts its first job, that forks a copy of itself
for each job; the copy becomes the job's process and runs the entry point as
``python script.py`` would: a fresh ``__main__``, the script's ``sys.argv``,
``sys.path[0]``, working folder, environment and time zone, output to the job's log. It
ends as the interpreter ends a script (non-daemon threads joined, ``atexit`` handlers,
the script's globals released, open files flushed, the exit status), but without the
interpreter's teardown of every other object: as with a forked ``multiprocessing``
worker, an object that only that teardown would finalize is not finalized.

What Python and the C library read as a process starts cannot differ per job: the
``PYTHON*``, locale, ``HOME``, ``LD_*`` and ``malloc`` variables. A client keeps one
server per distinct set of them, so a job whose environment sets ``PYTHONPATH`` or
``PYTHONHASHSEED`` gets an interpreter started with it. Jobs of one server share its
string hash seed, as forked workers do. The server imports nothing a script could shadow
with a file of its own but ``select``; its command line is what ``ps`` shows for a job.

Like the shell wrapper of the other start method, the server records each job's exit
code in the job's folder, and it outlives the slipway process that started it until its
jobs have ended, so that a later slipway process can adopt them. Once it has forked, it
never stops before its jobs end: a failure there would leave a job without its exit code.

The server runs as a script and imports only modules Python has loaded as it starts, or
built into the interpreter, and ``select``. The client sends each request as a
length-prefixed ``marshal`` frame; the server answers in lines: ``started <pid>``,
``ended <pid> <code>``, ``error <why>``.
"""

import atexit
import gc
import io
import marshal
import os
import select
import sys
import time

# Variables read as a process starts: a job whose values differ needs its own server.
_STARTUP_PREFIXES = ("PYTHON", "LC_", "LD_", "MALLOC_")
_STARTUP_NAMES = frozenset({"LANG", "LANGUAGE", "HOME", "GLIBC_TUNABLES"})
_SIZE_BYTES = 4
# Children a pidfd cannot watch (none to be had) are looked at this often.
_POLL_MS = 50


def startup_variables(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (k, v) for k, v in env.items() if k in _STARTUP_NAMES or k.startswith(_STARTUP_PREFIXES)
        )
    )


def frame(request: dict) -> bytes:
    """A request as the server reads it."""
    body = marshal.dumps(request)
    return len(body).to_bytes(_SIZE_BYTES, "big") + body


# --- the server --------------------------------------------------------------------------


class _Server:
    def __init__(self, channel: int) -> None:
        self.channel = channel
        self.by_pidfd: dict[int, tuple[int, str]] = {}  # pidfd -> (pid, exit code file)
        self.unwatched: dict[int, str] = {}  # pid -> exit code file
        self.poller = select.poll()
        self.poller.register(channel, select.POLLIN)

    def serve(self) -> dict | None:
        """Fork a job per request until the client hangs up and every job has ended.

        Returns only in a forked child: the request it is to run.
        """
        pending = b""
        accepting = True
        while accepting or self.by_pidfd or self.unwatched:
            for ready, _ in self.poller.poll(_POLL_MS if self.unwatched else None):
                if ready != self.channel:
                    pid, exit_file = self.by_pidfd.pop(ready)
                    self.poller.unregister(ready)
                    os.close(ready)
                    self._ended(pid, os.waitpid(pid, 0)[1], exit_file)
                    continue
                try:
                    data = os.read(self.channel, 1 << 20)
                except OSError:  # reset: the client died with answers unread
                    data = b""
                if not data:  # the client is gone: finish the jobs, take no more
                    accepting = False
                    self.poller.unregister(self.channel)
                    continue
                pending += data
                while len(pending) >= _SIZE_BYTES:
                    size = int.from_bytes(pending[:_SIZE_BYTES], "big")
                    if len(pending) < _SIZE_BYTES + size:
                        break
                    request = marshal.loads(pending[_SIZE_BYTES : _SIZE_BYTES + size])
                    pending = pending[_SIZE_BYTES + size :]
                    if self._fork(request):
                        return request
            for pid in list(self.unwatched):
                ended, status = os.waitpid(pid, os.WNOHANG)
                if ended:
                    self._ended(pid, status, self.unwatched.pop(pid))
        return None

    def _fork(self, request: dict) -> bool:
        """Start the job's process; True in that process."""
        if time.time() > request["deadline"]:  # the client has given up on it
            self._tell("error the request came too late")
            return False
        try:
            pid = os.fork()
        except OSError as error:
            self._tell(f"error {error}")
            return False
        if pid == 0:
            os.close(self.channel)
            for pidfd in self.by_pidfd:
                os.close(pidfd)
            return True
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # at the descriptor limit, or no pidfds here
            self.unwatched[pid] = request["exit"]
        else:
            self.by_pidfd[pidfd] = (pid, request["exit"])
            self.poller.register(pidfd, select.POLLIN)
        self._tell(f"started {pid}")
        return False

    def _ended(self, pid: int, status: int, exit_file: str) -> None:
        code = _exit_code(status)
        # Written before the client hears of it: whoever learns of the end finds it.
        try:
            with open(exit_file, "w") as stream:
                stream.write(f"{code}\n")
        except OSError:  # the job's folder is gone (the job was deleted)
            pass
        self._tell(f"ended {pid} {code}")

    def _tell(self, message: str) -> None:
        try:  # noqa: SIM105 (no contextlib here: a script's own contextlib.py must win)
            os.write(self.channel, message.encode() + b"\n")
        except OSError:  # the client is gone; the exit code files say it all
            pass


def _exit_code(status: int) -> int:
    """As a shell reports it: 128 + the signal for a process a signal ended."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


# --- the job's process -------------------------------------------------------------------


def become_job(request: dict) -> None:
    """In the forked child: take on the job's session, files and environment, then run it."""
    os.setsid()
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # TZ as the job sets it
    argv = request["argv"]  # [python, script, arguments...]
    script = argv[1]
    sys.orig_argv = list(argv)
    sys.argv = argv[1:]
    if not sys.flags.safe_path:  # else no script folder goes first (PYTHONSAFEPATH)
        sys.path[0] = os.path.dirname(os.path.realpath(script))
    _end(*run_main(script))


def run_main(script: str) -> tuple[int, bool]:
    """Run a file as ``__main__``: its exit status, and whether it was interrupted (SIGINT).

    An uncaught error is printed as the interpreter prints it.
    """
    main = type(sys)("__main__")
    main.__file__ = script
    main.__cached__ = None
    main.__builtins__ = sys.modules["builtins"]
    main.__loader__ = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", script)
    sys.modules["__main__"] = main
    try:
        with open(script, "rb") as stream:
            # dont_inherit: the script is compiled with its own __future__ imports only
            code = compile(stream.read(), script, "exec", dont_inherit=True)
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


def _end(code: int, interrupted: bool) -> None:
    """End the process as the interpreter ends one, less its teardown of every object.

    The teardown writes to every object the fork shares with the server, so the kernel
    copies their memory page by page: it cost a trivial job 4 to 6 ms, more than the
    rest of it. The steps a script can see are kept, in the interpreter's order.
    """
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()  # non-daemon threads are joined
        except BaseException:  # as the interpreter does: say so, and go on
            print("Exception ignored while joining threads at exit:", file=sys.stderr)
            sys.excepthook(*sys.exc_info())
    atexit._run_exitfuncs()
    _flush_standard_streams()
    # The script's globals go, as in the teardown, then every file still open is
    # flushed: the teardown would have closed them. Only the job's own objects are
    # looked at; the server's are frozen out of the collector's lists.
    sys.modules["__main__"].__dict__.clear()
    gc.collect()
    for item in gc.get_objects():
        if isinstance(item, io.BufferedWriter | io.BufferedRandom | io.TextIOWrapper):
            try:  # noqa: SIM105
                item.flush()
            except Exception:  # closed, or not writable
                pass
    _flush_standard_streams()
    if interrupted:  # the interpreter ends by SIGINT then
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code & 0xFF)  # as the operating system keeps it


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105
            stream.flush()
        except Exception:  # closed or replaced by the script
            pass


if __name__ == "__main__":
    # What the server has imported is kept out of the children's garbage collections,
    # which would otherwise copy the pages it is on.
    gc.freeze()
    _job = _Server(int(sys.argv[1])).serve()
    if _job is not None:
        become_job(_job)
