"""The local process runner: start a job's process, watch it, stop it.

A job's process runs in its own session (process group) with its output going to a log
file and its exit code written to a file. Two start methods, as in ``multiprocessing``:

- ``forkserver`` (the default): a prestarted interpreter forks the job's process, which
  spares each job the interpreter's start (see ``forkserver``); the server writes the
  exit code.
- ``spawn``: a new interpreter per job, run by a tiny shell wrapper that writes the exit
  code. Any job the fork server cannot take is started this way.

Nothing ties a job to the process that started it: if that process (the server, a
notebook) goes away, the job keeps running and any later slipway process can adopt it by
reading the same files. The Kubernetes runner (with the operator) follows the same
interface.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from slipway.jobs import prestarted
from slipway.jobs.processes import Running, Spawned, stop

log = logging.getLogger("slipway.jobs")

# `"$@"` runs the job's command; the wrapper records its exit code where a watcher
# that is not the parent process can read it. `echo` writes "<code>\n" in one write, so a
# reader that sees the newline has all of it; no rename (an `mv` process per job) needed.
_WRAPPER = '"$@" > "$SLIPWAY_JOB_LOG" 2>&1; echo $? > "$SLIPWAY_JOB_EXIT"'
_POLL_SECONDS = 0.05
# How long the exit code of a process that has ended may take to be written.
_EXIT_CODE_SECONDS = 2.0
_EXIT_CODE_POLL_SECONDS = 0.02
# How often a job's watcher says it is alive; silence for much longer makes it an orphan.
HEARTBEAT_SECONDS = 2.0


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

    The process's pid is its process group's id. Pass it to ``watch``, which reaps it.
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


@dataclass
class Outcome:
    """How a watched process ended, and the log lines it wrote last, not yet handed on.

    The last lines are left to the caller so that it can store them in the same write as
    the job's end (a short job writes all its lines at once, just before it ends).
    """

    exit_code: int | None  # None: it vanished without one (killed with its wrapper or server)
    stopped: bool = False
    timed_out: bool = False
    last_lines: list[tuple[float, str]] = field(default_factory=list)


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


def watch(
    process: Running,
    files: JobFiles,
    tail: LogTail,
    on_lines: Callable[[list[tuple[float, str]]], None],
    should_stop: Callable[[], bool],
    heartbeat: Callable[[], None],
    max_run_seconds: float | None,
    started_at: float,
    grace_seconds: float,
) -> Outcome:
    """Follow a job's process until it ends; stop it when asked or when it runs too long.

    ``process``: as ``launch`` returned it, or ``processes.Watched`` for one another
    slipway process launched (a job adopted after its watcher's process died).
    """
    # The caller has just beaten (launched or claimed the job); the first stop check can
    # wait its quarter second too, which spares short jobs a query.
    first = time.time()
    last_beat = last_check = first
    stopped = timed_out = False
    pid = process.pid
    with contextlib.closing(process):
        while True:
            now = time.time()
            # The exit code is written after the log is complete: read the rest then.
            code = files.written_exit_code()
            if code is not None:
                process.reap()  # the wrapper exits right after writing it
                return Outcome(code, stopped, timed_out, [(now, ln) for ln in tail.rest()])
            lines = tail.read()
            if lines:
                on_lines([(now, line) for line in lines])
            if process.finished():
                if _exit_code_arrives(files):
                    continue
                rest = [(time.time(), line) for line in tail.rest()]
                return Outcome(None, stopped, timed_out, rest)
            if now - last_beat >= HEARTBEAT_SECONDS:
                heartbeat()
                last_beat = now
            if not (stopped or timed_out) and now - last_check >= 0.25:
                last_check = now
                if should_stop():
                    stopped = True
                    threading.Thread(target=stop, args=(pid, grace_seconds), daemon=True).start()
                elif max_run_seconds is not None and now - started_at > max_run_seconds:
                    timed_out = True
                    threading.Thread(target=stop, args=(pid, grace_seconds), daemon=True).start()
            process.wait(_POLL_SECONDS)
