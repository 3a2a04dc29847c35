"""Job backends: where a job's own process runs, and how its watcher follows it.

A backend starts a job's process, finds it again after its watcher died (adoption), and
for a process it runs answers whether it has ended and how, hands on its log lines, and
stops it. ``follow`` is the one watch loop over any backend: logs as they come, a stop
when asked or when the job runs too long, the end. Today's backend is local processes
(``jobs.local``); a Kubernetes backend runs a job as a Kubernetes Job, streams the pod's
log, stops by deleting the Job and finds it again by its labels.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from slipway.jobs.models import JobKind

_POLL_SECONDS = 0.05
# How often a watcher asks whether its job was asked to stop.
_STOP_CHECK_SECONDS = 0.25


@dataclass(frozen=True)
class JobRef:
    """Which job a process is for, and the folder where a backend may keep its files."""

    kind: JobKind
    name: str
    folder: Path


@dataclass(frozen=True)
class Command:
    """What a job's process runs: ``[python, script, arguments...]``, where and with what."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


class JobProcess(Protocol):
    """A job's process as its watcher sees it, wherever it runs."""

    # What the job's row records to find the process again (a pid for local processes).
    identity: int

    def ended(self) -> bool:
        """Whether the process has ended; once True, its log is complete."""

    def exit_code(self) -> int | None:
        """The exit code of an ended process; None if it vanished without one (killed)."""

    def read_log(self) -> list[str]:
        """The complete log lines written since the last call."""

    def rest_of_log(self) -> list[str]:
        """The last lines of an ended process's log, a last one without a newline too."""

    def wait(self, timeout: float) -> None:
        """Return when the process may have ended or written, or after ``timeout`` seconds."""

    def stop(self, grace_seconds: float) -> None:
        """Ask the process to end, killing it after the grace period; returns at once."""

    def close(self) -> None: ...


class JobBackend(Protocol):
    """Runs job processes somewhere: the only part of a job that knows where."""

    def start(self, job: JobRef, command: Command) -> JobProcess: ...

    def adopt(self, job: JobRef, identity: int, skip_lines: int) -> JobProcess:
        """The process of a job another watcher started, its first ``skip_lines`` log
        lines (handled by that watcher already) left out."""


@dataclass
class Outcome:
    """How a followed process ended, and the log lines it wrote last, not yet handed on.

    The last lines are left to the caller so that it can store them in the same write as
    the job's end (a short job writes all its lines at once, just before it ends).
    """

    exit_code: int | None  # None: it vanished without one (killed with its wrapper or server)
    stopped: bool = False
    timed_out: bool = False
    last_lines: list[tuple[float, str]] = field(default_factory=list)


def follow(
    process: JobProcess,
    on_lines: Callable[[list[tuple[float, str]]], None],
    should_stop: Callable[[], bool],
    max_run_seconds: float | None,
    started_at: float,
    grace_seconds: float,
) -> Outcome:
    """Follow a job's process to its end; stop it when asked or when it runs too long."""
    # The job has just been created, started or claimed: the first stop check can wait its
    # quarter second, which spares short jobs a query.
    last_check = time.time()
    stopped = timed_out = False
    try:
        while True:
            now = time.time()
            if process.ended():
                rest = [(now, line) for line in process.rest_of_log()]
                return Outcome(process.exit_code(), stopped, timed_out, rest)
            lines = process.read_log()
            if lines:
                on_lines([(now, line) for line in lines])
            if not (stopped or timed_out) and now - last_check >= _STOP_CHECK_SECONDS:
                last_check = now
                if should_stop():
                    stopped = True
                    process.stop(grace_seconds)
                elif max_run_seconds is not None and now - started_at > max_run_seconds:
                    timed_out = True
                    process.stop(grace_seconds)
            process.wait(_POLL_SECONDS)
    finally:
        process.close()
