"""Starting job processes from prestarted interpreters: the client of ``forkserver``.

One server runs per distinct set of start-up variables (see ``forkserver``), started
with the first job that needs it and kept for the next ones. It gets this process's
environment with those variables, nothing of any one job. A server is replaced when a
site-packages folder changes (a package installed since it started may come with a
``.pth`` file that only a new interpreter reads).

A job must never run twice: once a request is sent, a server that does not answer fails
the job (``StartUnknown``) rather than have it started another way. The server refuses a
request it reads after its deadline, so a stuck server cannot start a job late.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from slipway.jobs import forkserver
from slipway.jobs.processes import alive

_MAX_SERVERS = 4
# A server answers a request in milliseconds. It refuses one it reads this late...
_START_SECONDS = 20.0
# ...and the client waits longer than that, so silence means it did not start the job.
_REPLY_SECONDS = 30.0
_SITE_FOLDERS = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]


class ServerGone(Exception):
    """No fork server took the request: start the job another way."""


class StartUnknown(Exception):
    """The server took the request but said nothing: the job may have started."""


class Forked:
    """A job process a fork server started; the server tells of its end."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._told = threading.Event()
        self._lost = False  # its server died: the process runs on, nobody to reap it

    def told_end(self) -> None:
        self._told.set()

    def lose(self) -> None:
        self._lost = True
        self._told.set()

    def finished(self) -> bool:
        return not alive(self.pid) if self._lost else self._told.is_set()

    def wait(self, timeout: float) -> None:
        if self._lost:
            time.sleep(timeout)
        else:
            self._told.wait(timeout)

    def reap(self) -> None:
        pass  # the server reaps it

    def close(self) -> None:
        pass


def _site_stamps() -> tuple[int, ...]:
    """When each site-packages folder last changed (0: it is gone)."""
    stamps = []
    for folder in _SITE_FOLDERS:
        try:
            stamps.append(os.stat(folder).st_mtime_ns)
        except OSError:
            stamps.append(0)
    return tuple(stamps)


class _Server:
    def __init__(self, startup: tuple[tuple[str, str], ...]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        env.update(startup)
        ours, theirs = socket.socketpair()
        with theirs:
            # Held, not waited for: it outlives this process while its jobs run.
            self.process = subprocess.Popen(
                [sys.executable, forkserver.__file__, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
                # Not this process's output: a caller that reads it to its end would wait
                # for the jobs too, as the server outlives this process.
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # outlives this process, as its jobs do
            )
        self.site_stamps = _site_stamps()
        self.gone = False
        self._channel = ours
        self._lock = threading.Lock()
        self._replies: queue.SimpleQueue[Forked | str] = queue.SimpleQueue()
        self._jobs: dict[int, Forked] = {}
        threading.Thread(target=self._read, name="slipway-forkserver", daemon=True).start()

    def launch(self, request: dict) -> Forked:
        with self._lock:
            try:
                self._channel.sendall(forkserver.frame(request))
            except OSError as error:  # not sent whole: the server cannot have read it
                self.gone = True
                raise ServerGone(repr(error)) from None
            try:
                reply = self._replies.get(timeout=_REPLY_SECONDS)
            except queue.Empty:
                self.retire()  # a late answer must not be taken for the next request's
                raise StartUnknown(
                    f"the fork server did not answer in {_REPLY_SECONDS:.0f} s"
                ) from None
        if isinstance(reply, str):
            if reply.startswith("error "):  # it said so: nothing started
                raise ServerGone(reply.removeprefix("error "))
            raise StartUnknown(reply)
        return reply

    def drop_channel(self) -> None:
        """In a forked child: close this copy of the channel (its reader is not here)."""
        with contextlib.suppress(OSError):
            os.close(self._channel.detach())

    def retire(self) -> None:
        """Take no more jobs; the server ends once its running jobs have ended."""
        self.gone = True
        with contextlib.suppress(OSError):
            self._channel.shutdown(socket.SHUT_WR)

    def _read(self) -> None:
        with self._channel, self._channel.makefile("rb") as lines:
            for line in lines:
                word, _, rest = line.decode().rstrip("\n").partition(" ")
                if word == "started":
                    job = Forked(int(rest))
                    self._jobs[job.pid] = job  # before the launcher hears: its end may follow
                    self._replies.put(job)
                elif word == "ended":
                    ended = self._jobs.pop(int(rest.split()[0]), None)
                    if ended is not None:
                        ended.told_end()
                else:
                    self._replies.put(f"error the fork server could not start the job: {rest}")
        self.gone = True
        self._replies.put("the fork server stopped before it said whether it started the job")
        for job in self._jobs.values():
            job.lose()
        self._jobs.clear()


_servers: dict[tuple[tuple[str, str], ...], _Server] = {}
_servers_lock = threading.Lock()


def _server_for(env: dict[str, str]) -> _Server:
    key = forkserver.startup_variables(env)
    with _servers_lock:
        server = _servers.get(key)
        if server is not None and not server.gone and server.site_stamps == _site_stamps():
            return server
        if server is not None:
            server.retire()
            del _servers[key]
        while len(_servers) >= _MAX_SERVERS:
            _servers.pop(next(iter(_servers))).retire()
        try:
            server = _Server(key)
        except OSError as error:
            raise ServerGone(f"the fork server did not start: {error}") from None
        _servers[key] = server
        return server


def launch(
    argv: list[str], env: dict[str, str], cwd: Path, log_file: Path, exit_file: Path
) -> Forked:
    """Start ``argv`` (``[python, script, arguments...]``) in a fork of a prestarted server.

    Raises ServerGone if no server took it, StartUnknown if one did but did not answer.
    """
    server = _server_for(env)
    request = {
        "argv": argv,
        "env": env,
        "cwd": str(cwd),
        "log": str(log_file),
        "exit": str(exit_file),
        "deadline": time.time() + _START_SECONDS,
    }
    return server.launch(request)


def _forget_servers_in_child() -> None:
    """A forked slipway process starts its own servers; the parent's stay the parent's.

    Its copies of their channels are closed, so that a server sees its client hang up
    when the parent does.
    """
    global _servers_lock
    _servers_lock = threading.Lock()
    for server in _servers.values():
        server.drop_channel()
    _servers.clear()


os.register_at_fork(after_in_child=_forget_servers_in_child)
