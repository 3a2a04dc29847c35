"""A job's process as its watcher sees it: is it alive, wait for its end, stop it."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Protocol

_POLL_SECONDS = 0.05


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return False


def this_watcher() -> str:
    """How a job row names the process watching it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def watcher_died_here(watcher: str | None) -> bool:
    """Whether a watcher was a process of this host that has ended.

    Its jobs need not wait out the heartbeat's silence to be adopted.
    """
    host, _, pid = (watcher or "").rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not alive(int(pid))


def stop(pid: int, grace_seconds: float) -> None:
    """SIGTERM to the job's process group, then SIGKILL after the grace period."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        try:  # a job's process that has only just forked may not lead its group yet
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(_POLL_SECONDS)
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            return
        except ProcessLookupError:
            continue


class Running(Protocol):
    """A job's process, however it was started."""

    pid: int

    def finished(self) -> bool: ...

    def wait(self, timeout: float) -> None:
        """Return when the process ends, or after ``timeout`` seconds."""

    def reap(self) -> None:
        """Collect the ended process, if it is this process's child."""

    def close(self) -> None: ...


class Watched:
    """A process another slipway process started (a job adopted after its watcher died).

    A pidfd wakes the watcher the moment the process ends.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._poller = select.poll()
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except OSError:  # gone already (or no pidfds here): the timeout paces the watcher
            self._pidfd = None
        else:
            self._poller.register(self._pidfd, select.POLLIN)

    def finished(self) -> bool:
        return not alive(self.pid)

    def wait(self, timeout: float) -> None:
        if self._pidfd is None:
            time.sleep(timeout)
        else:  # poll, not select: any descriptor number
            self._poller.poll(timeout * 1000)

    def reap(self) -> None:
        pass

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class Spawned(Watched):
    """A child process of this one, reaped here."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        super().__init__(process.pid)
        self.process = process

    def finished(self) -> bool:
        return self.process.poll() is not None

    def reap(self) -> None:
        self.process.wait()
