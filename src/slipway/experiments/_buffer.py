"""The metric buffer behind ``Tracker.log_metric``: microseconds per call, batched writes.

``log_metric`` appends a tuple to a deque. One writer thread per process wakes every
``interval`` seconds (sooner when a buffer grows large) and writes each open buffer's
points through the backend in batches. ``flush()`` and ``close()`` write in the calling
thread and return once every point appended before them is stored; an ``atexit`` hook
flushes buffers a program forgot to close.

What a hard crash (SIGKILL, power loss) can lose: the points appended since the last
completed write, at most ``interval`` seconds' worth. A batch whose write failed is kept
and resent unchanged under the same batch id, so the store never counts it twice.
"""

from __future__ import annotations

import atexit
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence

from slipway.experiments.models import MetricPoint

Sink = Callable[[str, Sequence[MetricPoint], str], object]
_MAX_BATCH = 20_000


class MetricBuffer:
    """Buffers the points of one trial component until the writer stores them."""

    def __init__(self, trial_component_name: str, sink: Sink, interval: float) -> None:
        self.trial_component_name = trial_component_name
        self.last_error: Exception | None = None
        self._sink = sink
        self._interval = interval
        # deque.append and popleft are atomic, so the writer never loses a racing append.
        self._points: deque[tuple[str, float, float, int | None]] = deque()
        self._lock = threading.Lock()  # held while writing: writes of one buffer never overlap
        self._unsent: tuple[str, list[MetricPoint]] | None = None
        self._registered = False

    def append(self, name: str, value: float, timestamp: float, step: int | None) -> None:
        self._points.append((name, value, timestamp, step))
        if not self._registered:
            self._registered = True
            _writer.register(self, self._interval)
        elif len(self._points) >= _MAX_BATCH:
            _writer.wake()

    def flush(self) -> None:
        """Write everything appended so far; returns when it is stored."""
        with self._lock:
            while self._unsent is not None or self._points:
                if self._unsent is None:
                    pending = self._points
                    chunk = [pending.popleft() for _ in range(min(len(pending), _MAX_BATCH))]
                    points = [
                        MetricPoint.model_construct(
                            metric_name=n, value=v, timestamp=t, iteration_number=s
                        )
                        for n, v, t, s in chunk
                    ]
                    self._unsent = (uuid.uuid4().hex, points)
                batch_id, points = self._unsent
                self._sink(self.trial_component_name, points, batch_id)
                self._unsent = None

    def close(self) -> None:
        """Write what is left (raising if it cannot be written) and stop being written."""
        self.flush()
        self._unregister()

    def take_rest(self) -> list[MetricPoint]:
        """Stop the background writes and hand over the points not written yet.

        The caller stores them itself, in the same transaction as its own update; that
        saves a round trip when a short run closes.
        """
        self._unregister()
        with self._lock:
            if self._unsent is not None:  # a batch that failed before keeps its id
                batch_id, points = self._unsent
                self._sink(self.trial_component_name, points, batch_id)
                self._unsent = None
            rest = [
                MetricPoint.model_construct(metric_name=n, value=v, timestamp=t, iteration_number=s)
                for n, v, t, s in self._points
            ]
            self._points.clear()
        return rest

    def _unregister(self) -> None:
        if self._registered:
            _writer.unregister(self)
            self._registered = False

    def _background_flush(self) -> None:
        try:
            self.flush()
        except Exception as error:
            # A server restart or a busy database passes; the next round retries, and
            # close() raises if the points still cannot be written then.
            self.last_error = error


class _Writer:
    """The process's one writer thread, started with the first buffered point."""

    def __init__(self) -> None:
        self._buffers: dict[int, MetricBuffer] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._interval = 0.2
        self._thread: threading.Thread | None = None

    def register(self, buffer: MetricBuffer, interval: float) -> None:
        with self._lock:
            self._buffers[id(buffer)] = buffer
            self._interval = min(self._interval, interval)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="slipway-metric-writer", daemon=True
                )
                self._thread.start()

    def unregister(self, buffer: MetricBuffer) -> None:
        with self._lock:
            self._buffers.pop(id(buffer), None)

    def wake(self) -> None:
        self._wake.set()

    def open_buffers(self) -> list[MetricBuffer]:
        with self._lock:
            return list(self._buffers.values())

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            for buffer in self.open_buffers():
                buffer._background_flush()


_writer = _Writer()


@atexit.register
def _flush_all() -> None:
    for buffer in _writer.open_buffers():
        try:
            buffer.close()
        except Exception as error:  # the interpreter is exiting: say what was lost
            print(
                f"slipway: could not write metrics of {buffer.trial_component_name!r}: {error}",
                file=sys.stderr,
            )
