"""Starting job processes from prestarted interpreters: the client of ``forkserver``.

One server runs per distinct set of start-up variables (a job's ``PYTHON*``, locale and
``HOME``), started with the first job that needs it and kept for the next ones. A
server is replaced when a site-packages folder changes (a package installed since it
started may come with a ``.pth`` file that only a new interpreter reads).
"""

from __future__ import annotations

import contextlib
import json
import logging
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

log = logging.getLogger("slipway.jobs")

_MAX_SERVERS = 4
# A server answers a request in milliseconds; one silent this long is stuck.
_REPLY_SECONDS = 30.0
_SITE_FOLDERS = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]


class ServerGone(Exception):
    """The fork server stopped or could not start: start the job another way."""


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
    return tuple(os.stat(folder).st_mtime_ns for folder in _SITE_FOLDERS)


class _Server:
    def __init__(self, env: dict[str, str]) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, forkserver.__file__, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
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
        line = json.dumps(request).encode() + b"\n"
        with self._lock:
            try:
                self._channel.sendall(line)
                reply = self._replies.get(timeout=_REPLY_SECONDS)
            except OSError as error:
                self.gone = True
                raise ServerGone(repr(error)) from None
            except queue.Empty:
                # Stuck: it must not start the job later, once it has been started anew.
                self.gone = True
                self.process.kill()
                raise ServerGone(f"no answer in {_REPLY_SECONDS:.0f} s") from None
        if isinstance(reply, str):
            raise ServerGone(reply)
        return reply

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
                    self._replies.put(f"the fork server could not start the job: {rest}")
        self.gone = True
        self._replies.put("the fork server stopped")
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
            server = _Server(env)
        except OSError as error:
            raise ServerGone(f"the fork server did not start: {error}") from None
        _servers[key] = server
        return server


def launch(
    argv: list[str], env: dict[str, str], cwd: Path, log_file: Path, exit_file: Path
) -> Forked:
    """Start ``argv`` (``[python, script, arguments...]``) in a fork of a prestarted server.

    Raises ServerGone if no server could take it.
    """
    server = _server_for(env)
    request = {
        "argv": argv,
        "env": env,
        "cwd": str(cwd),
        "log": str(log_file),
        "exit": str(exit_file),
    }
    return server.launch(request)


def _forget_servers_in_child() -> None:
    """A forked slipway process starts its own servers; the parent's stay the parent's."""
    global _servers_lock
    _servers_lock = threading.Lock()
    _servers.clear()


os.register_at_fork(after_in_child=_forget_servers_in_child)
