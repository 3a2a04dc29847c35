"""The life cycle every kind of job shares, written once.

A job is created with a first heartbeat and the name of the process that watches it
(``JobService.create_job``). That process runs the job's work in a watcher thread
(``JobLifecycle.run``) while one heartbeat thread per kind beats for every job it
watches, queued or running. A job whose watcher went away is an orphan, which the next
slipway process that looks adopts (``adopt_orphans``): at once if the watcher was a
process of this host that has ended, else once it has been silent for ``ORPHAN_AFTER``.
Whatever its work does, the job ends in a final status, and whoever listens for its end
is told how it ended.

A kind of job says only what its work is, how it ends on an error, and how it describes
itself; where a job's own process runs is a job backend's business (``jobs.backend``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slipway.errors import SlipwayError
from slipway.jobs.models import ChildState, Job, JobKind, JobStatus
from slipway.jobs.processes import watcher_died_here
from slipway.jobs.service import JobService
from slipway.jobs.threads import WatcherThreads
from slipway.jobs.waiting import wait_until

log = logging.getLogger("slipway.jobs")

# How often a watcher says it is alive; silence for much longer makes its jobs orphans.
HEARTBEAT_SECONDS = 2.0
ORPHAN_AFTER = dt.timedelta(seconds=15)

# Told a job's name and how it ended (None: its work failed before that was stored).
EndListener = Callable[[str, ChildState | None], None]


def failure_reason(error: Exception) -> str:
    """A failure reason that says whose fault an error was: the request's or slipway's."""
    if isinstance(error, SlipwayError):
        return f"ClientError: {error.message}"
    return f"InternalError: {error!r}"


class JobLifecycle:
    """The jobs of one kind that this process watches: their threads, beats and ends."""

    def __init__(self, jobs: JobService, kind: JobKind, max_parallel: int | None = None) -> None:
        self.jobs = jobs
        self.kind = kind
        # Jobs beyond this many wait their turn in their watcher thread, still beating.
        self._slots = threading.BoundedSemaphore(max_parallel) if max_parallel else None
        self._threads = WatcherThreads(f"slipway-{kind.value}")
        self._lock = threading.Lock()
        self._owned: set[str] = set()
        self._beating = False
        self._closed = threading.Event()
        self._ended: dict[str, ChildState] = {}
        self._end_listeners: dict[str, list[EndListener]] = {}

    # --- watching -----------------------------------------------------------------------

    def run(
        self,
        name: str,
        work: Callable[[], None],
        on_error: Callable[[Exception], None] | None = None,
        queue: bool = False,
    ) -> None:
        """Watch job ``name`` from a background thread: beat for it and run ``work``.

        ``work`` ends the job (``finish``); an error it raises goes to ``on_error``, which
        must end the job Failed (by default with ``failure_reason``). With ``queue``, the
        work waits for one of the kind's parallel slots first.
        """
        self._own(name)
        self._threads.start(name, lambda: self._watch(name, work, on_error, queue))

    def adopt_orphans(self, adopt: Callable[[str], None]) -> list[str]:
        """Watch the running jobs nobody watches; ``adopt(name)`` starts watching one."""
        adopted = []
        for orphan in self.jobs.orphans(self.kind, dt.timedelta(0)):
            with self._lock:
                if orphan.job_name in self._owned:
                    continue
            if watcher_died_here(orphan.watcher):
                silent_for = dt.timedelta(0)
            elif _silent_for(orphan.heartbeat_at) > ORPHAN_AFTER:
                silent_for = ORPHAN_AFTER
            else:
                continue
            if self.jobs.claim(self.kind, orphan, silent_for):
                log.info("watching %s %s again: its watcher is gone", self.kind, orphan.job_name)
                adopt(orphan.job_name)
                adopted.append(orphan.job_name)
        return adopted

    def close(self) -> None:
        """Stop beating and start no queued work: those jobs become another's orphans."""
        self._closed.set()

    # --- the job's end ------------------------------------------------------------------

    def finish(
        self, name: str, status: JobStatus, failure_reason: str | None = None, **details: Any
    ) -> None:
        """End a job in a final status (``details`` as ``JobService.finish`` takes them).

        Its end listeners hear of it once its work is done.
        """
        self.jobs.finish(self.kind, name, status, failure_reason, **details)
        self._ended[name] = ChildState(status, details.get("result") or {})

    def add_end_listener(self, name: str, listener: EndListener) -> None:
        """Be told when this process's watcher of a job has ended it, and how."""
        with self._lock:
            self._end_listeners.setdefault(name, []).append(listener)

    def drop_end_listeners(self, name: str) -> list[EndListener]:
        """Forget a job's end listeners (its work will not run here); returns them."""
        with self._lock:
            return self._end_listeners.pop(name, [])

    def stop(self, name: str) -> Job:
        """Ask a running job to stop; its watcher stops it and ends it Stopped."""
        return self.jobs.request_stop(self.kind, name)

    def stop_requested(self, name: str) -> bool:
        return self.jobs.stop_requested(self.kind, name)

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.05) -> Job:
        """The job once it has ended, or as it is when ``timeout`` seconds have passed."""
        started = time.monotonic()
        self._threads.join(name, timeout)  # a watcher here ends it: no polling needed
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
        return wait_until(
            lambda: self.jobs.get_job(self.kind, name), lambda job: job.status.is_final, left, poll
        )

    # --- internals ----------------------------------------------------------------------

    def _watch(
        self,
        name: str,
        work: Callable[[], None],
        on_error: Callable[[Exception], None] | None,
        queue: bool,
    ) -> None:
        try:
            if queue and self._slots is not None:
                with self._slots:
                    if not self._closed.is_set():  # closed meanwhile: left to an adopter
                        work()
            else:
                work()
        except Exception as error:  # the job must end in a final status whatever happened
            log.warning("%s %s failed", self.kind, name, exc_info=True)
            self._end_failed(name, error, on_error)
        finally:
            with self._lock:
                self._owned.discard(name)
                listeners = self._end_listeners.pop(name, [])
            state = self._ended.pop(name, None)
            for listener in listeners:
                listener(name, state)

    def _end_failed(
        self, name: str, error: Exception, on_error: Callable[[Exception], None] | None
    ) -> None:
        if on_error is not None:
            try:
                on_error(error)
                return
            except Exception:  # the kind could not end it its way: end it plainly
                log.exception("ending %s %s after a failure failed", self.kind, name)
        with contextlib.suppress(SlipwayError):  # unless the job is gone
            self.finish(name, JobStatus.FAILED, failure_reason(error))

    def _own(self, name: str) -> None:
        with self._lock:
            self._owned.add(name)
            if self._beating:
                return
            self._beating = True
        beat = threading.Thread(target=self._beat, name=f"slipway-{self.kind}-beat", daemon=True)
        beat.start()

    def _beat(self) -> None:
        """Beat for every job watched here, in one write, for as long as there are any."""
        while not self._closed.wait(HEARTBEAT_SECONDS):
            with self._lock:
                names = sorted(self._owned)
                if not names:
                    self._beating = False
                    return
            try:
                self.jobs.heartbeat(self.kind, names)
            except Exception:  # the database is away for a moment: beat again later
                log.debug("the heartbeat of %s jobs failed", self.kind, exc_info=True)
        with self._lock:
            self._beating = False


def _silent_for(beat: dt.datetime | None) -> dt.timedelta:
    if beat is None:
        return dt.timedelta.max
    return dt.datetime.now(dt.UTC) - beat
