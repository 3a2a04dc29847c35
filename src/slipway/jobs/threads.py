"""Daemon threads for job watchers, reused from one job to the next.

Starting a thread waits until the new thread runs, and when other threads keep the
interpreter busy (a tuning job's watchers) that wait costs milliseconds per job; a
thread that is idle already takes the next job at once. The threads are daemons, as a
watcher must be: a process that exits leaves its jobs running for another to adopt.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("slipway.jobs")

# An idle thread waits this long for another job before it ends.
_IDLE_SECONDS = 60.0

_Task = tuple[str, Callable[[], None], threading.Event]


class WatcherThreads:
    """Runs each watcher in a daemon thread: an idle one if any, else a new one."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._tasks: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a task that no submitter has counted on yet
        self._running: dict[str, threading.Event] = {}

    def start(self, name: str, watch: Callable[[], None]) -> None:
        """Run ``watch`` (the watcher of job ``name``) in the background."""
        done = threading.Event()
        with self._lock:
            self._running[name] = done
            spare = self._idle > 0
            if spare:
                self._idle -= 1
        self._tasks.put((name, watch, done))
        if not spare:
            threading.Thread(target=self._serve, name=self._prefix, daemon=True).start()

    def join(self, name: str, timeout: float | None = None) -> None:
        """Wait until this process's watcher of ``name`` is done (at once if there is none)."""
        with self._lock:
            done = self._running.get(name)
        if done is not None:
            done.wait(timeout)

    def _serve(self) -> None:
        thread = threading.current_thread()
        while True:
            try:
                name, watch, done = self._tasks.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # nobody counts on this thread: it may end
                        self._idle -= 1
                        return
                continue  # a submitter counted on it: its task is on the way
            thread.name = f"{self._prefix}-{name}"
            try:
                watch()
            except Exception:  # a watcher ends its job itself; this thread must live on
                log.exception("the watcher of %s failed", name)
            finally:
                with self._lock:
                    self._running.pop(name, None)
                    self._idle += 1
                done.set()
                thread.name = self._prefix
