"""The local backend: a job's process on this machine, started, watched and stopped.

A job's process runs in its own session (process group) with its output going to a log
file and its exit code written to a file. Two start methods, as in ``multiprocessing``:

- ``forkserver`` (the default): a prestarted interpreter forks the job's process, which
  spares each job the interpreter's start (see ``forkserver``); the server writes the
  exit code.
- ``spawn``: a new interpreter per job, run by a tiny shell wrapper that writes the exit
  code. Any job the fork server cannot take is started this way.

Nothing ties a job to the process that started it: if that process (the server, a
notebook) goes away, the job keeps running and any later slipway process can adopt it by
reading the same files.
"""

from __future__ import annotations

import functools
import logging
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from slipway.jobs import prestarted
from slipway.jobs.backend import Command, JobRef
from slipway.jobs.processes import Running, Spawned, Watched, stop

log = logging.getLogger("slipway.jobs")

# `"$@"` runs the job's command; the wrapper records its exit code where a watcher
# that is not the parent process can read it. `echo` writes "<code>\n" in one write, so a
# reader that sees the newline has all of it; no rename (an `mv` process per job) needed.
_WRAPPER = '"$@" > "$SLIPWAY_JOB_LOG" 2>&1; echo $? > "$SLIPWAY_JOB_EXIT"'
# How long the exit code of a process that has ended may take to be written.
_EXIT_CODE_SECONDS = 2.0
_EXIT_CODE_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class JobFiles:
    """Where one job's process writes its output and exit code."""

    folder: Path

    # Cached: a watcher asks for them every time it looks at the job.
    @functools.cached_property
    def log(self) -> Path:
        return self.folder / "job.log"

    @functools.cached_property
    def exit_code(self) -> Path:
        return self.folder / "exit-code"

    def written_exit_code(self) -> int | None:
        """The exit code once the wrapper has written it whole, else None."""
        try:
            text = self.exit_code.read_text()
        except FileNotFoundError:
            return None
        return int(text) if text.endswith("\n") else None


StartMethod = Literal["forkserver", "spawn"]


def launch(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    files: JobFiles,
    method: StartMethod = "forkserver",
) -> Running:
    """Start ``[python, script, arguments...]`` detached from the caller.

    The process's pid is its process group's id; a ``LocalProcess`` watches and reaps it.
    """
    files.folder.mkdir(parents=True, exist_ok=True)
    if method == "forkserver":
        try:
            return prestarted.launch(argv, env, cwd, files.log, files.exit_code)
        except prestarted.ServerGone as error:
            log.warning("starting the job with a new interpreter instead: %s", error)
    process = subprocess.Popen(
        ["/bin/sh", "-c", _WRAPPER, "slipway-job", *argv],
        env={**env, "SLIPWAY_JOB_LOG": str(files.log), "SLIPWAY_JOB_EXIT": str(files.exit_code)},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return Spawned(process)


class LogTail:
    """Reads complete new lines from a growing log file, from a remembered offset."""

    def __init__(self, path: Path, skip_lines: int = 0) -> None:
        self.path = path
        self.offset = 0
        self._skip = skip_lines  # lines an earlier reader already handled
        self._partial = b""

    def read(self) -> list[str]:
        try:
            with self.path.open("rb") as stream:
                stream.seek(self.offset)
                data = stream.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        if self._skip:
            skipped, lines = lines[: self._skip], lines[self._skip :]
            self._skip -= len(skipped)
        return [line.decode("utf-8", "replace").rstrip("\r") for line in lines]

    def rest(self) -> list[str]:
        """The last line when the file ended without a newline."""
        lines = self.read()
        if self._partial:
            lines.append(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        return lines


def _exit_code_arrives(files: JobFiles) -> bool:
    """Whether the exit code of a process that has ended is written within a moment.

    The wrapper writes it just before it ends, a fork server just after it reaps the
    job's process: a watcher that follows a job it adopted sees the end first.
    """
    deadline = time.monotonic() + _EXIT_CODE_SECONDS
    while files.written_exit_code() is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(_EXIT_CODE_POLL_SECONDS)
    return True


class LocalProcess:
    """A job's process on this machine, read through its log and exit code files."""

    def __init__(self, running: Running, files: JobFiles, skip_lines: int = 0) -> None:
        self.identity = running.pid
        self._running = running
        self._files = files
        self._tail = LogTail(files.log, skip_lines)

    def ended(self) -> bool:
        # The exit code is written after the log is complete.
        if self._files.written_exit_code() is not None:
            self._running.reap()  # the wrapper exits right after writing it
            return True
        if not self._running.finished():
            return False
        if _exit_code_arrives(self._files):
            self._running.reap()
        return True

    def exit_code(self) -> int | None:
        return self._files.written_exit_code()

    def read_log(self) -> list[str]:
        return self._tail.read()

    def rest_of_log(self) -> list[str]:
        return self._tail.rest()

    def wait(self, timeout: float) -> None:
        self._running.wait(timeout)

    def stop(self, grace_seconds: float) -> None:
        # In a thread of its own: the watcher reads the log while the process winds down.
        args = (self.identity, grace_seconds)
        threading.Thread(target=stop, args=args, daemon=True).start()

    def close(self) -> None:
        self._running.close()


class LocalBackend:
    """Job processes on this machine, started by a fork server or as new interpreters."""

    def __init__(self, method: StartMethod = "forkserver") -> None:
        self.method = method

    def start(self, job: JobRef, command: Command) -> LocalProcess:
        files = JobFiles(job.folder)
        running = launch(command.argv, command.env, command.cwd, files, self.method)
        return LocalProcess(running, files)

    def adopt(self, job: JobRef, identity: int, skip_lines: int) -> LocalProcess:
        return LocalProcess(Watched(identity), JobFiles(job.folder), skip_lines)
