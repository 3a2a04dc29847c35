"""Predictions off the event loop, stacked into micro-batches, cut at a timeout.

Each worker process has one prediction thread. The event loop queues jobs; whenever the
thread is free it takes every queued job as one *round*: jobs for the same model (and
the same row width) are stacked into one ``predict_frame`` call and the result is split
back, row counts telling which rows belong to whom. Nothing waits to fill a batch: a
lone request runs at once, and requests that arrive while the thread is busy share the
next call. This amortises the per-call cost of scikit-learn's input checks and the
thread hand-off, which is what lets an endpoint beat a plain in-loop ``predict``.

If a stacked call fails, its jobs run again one by one, so only the bad request fails.
Custom-code models (not ``batchable``) run one request per call.

A job not answered within its timeout fails with PredictionTimeout. A Python thread
cannot be stopped, so the stuck thread is abandoned (it is a daemon thread: it cannot
hold the process open) and a fresh one takes the work not yet started; the worker then
reports itself for replacement (``on_stuck``), as the reference's model server restarts
a worker that stops answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slipway.inference import InferenceError, LoadedModel, PredictionError, PredictionTimeout
from slipway.inference.model import stack

MAX_BATCH_ROWS = 2048


@dataclass(slots=True, eq=False)
class Job:
    """One request's work: rows for a batchable model, or a whole call otherwise."""

    model: LoadedModel
    future: asyncio.Future[Any]
    data: Any = None
    call: Callable[[], Any] | None = None
    rows: int = 0
    seconds: float = 0.0


@dataclass(eq=False)
class _Round:
    groups: list[list[Job]]
    started: float = field(default_factory=time.monotonic)
    current: int = -1
    abandoned: bool = False
    done: bool = False


@dataclass
class _Thread:
    """One daemon thread that runs rounds from its queue."""

    scheduler: Scheduler
    inbox: queue.SimpleQueue[_Round | None] = field(default_factory=queue.SimpleQueue)

    def __post_init__(self) -> None:
        thread = threading.Thread(target=self._run, name="slipway-predict", daemon=True)
        thread.start()

    def _run(self) -> None:
        while True:
            work = self.inbox.get()
            if work is None:
                return
            self.scheduler._execute(work)


class Scheduler:
    """Runs the jobs of one worker process on its prediction thread."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, on_stuck: Callable[[], None] | None = None
    ) -> None:
        self.loop = loop
        self.on_stuck = on_stuck
        self._pending: list[Job] = []
        self._round: _Round | None = None
        self._thread = _Thread(self)
        self.stuck = False

    async def predict(self, model: LoadedModel, data: Any, timeout: float) -> tuple[Any, float]:
        """Predictions for ``data`` (rows of one request); returns (prediction, seconds)."""
        rows = len(data)
        job = Job(model, self.loop.create_future(), data=data, rows=rows)
        return await self._submit(job, timeout)

    async def call(
        self, model: LoadedModel, function: Callable[[], Any], timeout: float
    ) -> tuple[Any, float]:
        """Run ``function`` (one whole request of a custom-code model) on the thread."""
        job = Job(model, self.loop.create_future(), call=function)
        return await self._submit(job, timeout)

    async def _submit(self, job: Job, timeout: float) -> tuple[Any, float]:
        self._pending.append(job)
        if self._round is None:
            self._start_round()
        try:
            result = await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except TimeoutError:
            job.future.cancel()
            self._timed_out(timeout)
            raise PredictionTimeout(
                f"the prediction did not finish within {timeout:g} s; the worker that ran "
                "it is being replaced. Raise InvocationTimeoutSeconds of the variant if the "
                "model needs longer"
            ) from None
        return result, job.seconds

    # --- event loop side --------------------------------------------------------------

    def _start_round(self) -> None:
        jobs, self._pending = self._pending, []
        work = _Round(_group(jobs))
        self._round = work
        self._thread.inbox.put(work)

    def _round_done(self, work: _Round) -> None:
        if work is not self._round:
            return  # an abandoned round finishing late
        self._round = None
        if self._pending:
            self._start_round()

    def _timed_out(self, timeout: float) -> None:
        work = self._round
        if work is None or work.done:
            return
        # Only a round that has run for a whole timeout is stuck. A job that timed out while
        # queued behind a younger round looks again once that round is old enough.
        age = time.monotonic() - work.started
        if age < timeout:
            self.loop.call_later(timeout - age + 0.01, self._check_stuck, work, timeout)
            return
        self._abandon(work)

    def _check_stuck(self, work: _Round, timeout: float) -> None:
        if work is self._round and not work.done:
            self._abandon(work)

    def _abandon(self, work: _Round) -> None:
        work.abandoned = True
        self.stuck = True
        # Groups after the stuck one never started: hand them to a fresh thread.
        rescued = [job for group in work.groups[work.current + 1 :] for job in group]
        self._pending = rescued + self._pending
        self._round = None
        self._thread = _Thread(self)
        if self._pending:
            self._start_round()
        if self.on_stuck is not None:
            self.on_stuck()

    # --- prediction thread side -------------------------------------------------------

    def _execute(self, work: _Round) -> None:
        for index, group in enumerate(work.groups):
            if work.abandoned:
                return
            work.current = index
            self._run_group(group)
        work.done = True
        self._deliver(self._round_done, work)

    def _run_group(self, group: list[Job]) -> None:
        group = [job for job in group if not job.future.done()]  # timed out meanwhile
        if not group:
            return
        if group[0].call is not None:
            for job in group:
                self._run_one(job, job.call)
            return
        if len(group) == 1:
            job = group[0]
            self._run_one(job, lambda: job.model.predict_frame(job.data))
            return
        started = time.perf_counter()
        try:
            predictions = group[0].model.predict_frame(stack([job.data for job in group]))
            parts = _split(predictions, [job.rows for job in group])
        except Exception:
            parts = None
        if parts is None:
            for job in group:
                self._run_one(job, lambda job=job: job.model.predict_frame(job.data))
            return
        seconds = time.perf_counter() - started
        for job, part in zip(group, parts, strict=True):
            job.seconds = seconds
            self._deliver(_resolve, job.future, part, None)

    def _run_one(self, job: Job, function: Callable[[], Any]) -> None:
        started = time.perf_counter()
        try:
            result, error = function(), None
        except InferenceError as failure:
            result, error = None, failure
        except Exception as failure:
            result, error = None, PredictionError(f"{type(failure).__name__}: {failure}")
        job.seconds = time.perf_counter() - started
        self._deliver(_resolve, job.future, result, error)

    def _deliver(self, callback: Callable[..., None], *args: Any) -> None:
        # The loop may have closed (shutdown) while an abandoned job ran on.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(callback, *args)


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _group(jobs: list[Job]) -> list[list[Job]]:
    """Jobs that may share one predict call, in arrival order of their first job."""
    groups: dict[tuple[Any, ...], list[Job]] = {}
    ordered: list[list[Job]] = []
    for job in jobs:
        if job.call is not None or not job.model.batchable:
            ordered.append([job])
            continue
        key = (id(job.model), _shape_key(job.data))
        group = groups.get(key)
        if group is None or sum(j.rows for j in group) + job.rows > MAX_BATCH_ROWS:
            group = groups[key] = []
            ordered.append(group)
        group.append(job)
    return ordered


def _shape_key(data: Any) -> Any:
    if isinstance(data, np.ndarray):
        return ("array", data.shape[1:], data.dtype.str)
    columns = getattr(data, "columns", None)
    return ("frame", tuple(columns) if columns is not None else None)


def _split(predictions: Any, rows: list[int]) -> list[Any] | None:
    """One slice of the predictions per job, or None if they do not line up with rows."""
    if isinstance(predictions, list):
        predictions = np.asarray(predictions)
    if not hasattr(predictions, "__len__") or len(predictions) != sum(rows):
        return None
    parts, start = [], 0
    for count in rows:
        parts.append(predictions[start : start + count])
        start += count
    return parts
