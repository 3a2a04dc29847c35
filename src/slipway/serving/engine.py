"""The per-process serving engine: endpoint specs, model caches, invocation.

One Engine lives in each worker process (and one in an embedded SDK process). It maps
endpoint names to EndpointRuntimes built from the endpoint's deployed spec, checks the
spec's version at most once a second (in the background, so requests never wait on the
database once an endpoint is known), picks a variant by weight (or TargetVariant), finds
the model in the variant's cache (loading it on a loader thread, once, on a miss) and
predicts: in the caller's thread for embedded ``invoke_sync``, on the worker's
prediction thread with micro-batching and a timeout for the server's ``invoke``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import random
import threading
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue
from typing import Any, Protocol

from slipway.errors import NotFound
from slipway.inference import LoadedModel
from slipway.inference.codecs import choose_accept
from slipway.inference.errors import PredictionTimeout
from slipway.serving.batching import Scheduler
from slipway.serving.capture import CaptureWriter
from slipway.serving.runtime import (
    EndpointNotFound,
    EndpointRuntime,
    VariantRuntime,
)
from slipway.serving.spec import EndpointSpec
from slipway.settings import Settings

SPEC_TTL = 1.0  # seconds a known endpoint spec is used before its version is checked


class SpecSource(Protocol):
    """Where endpoint specs come from: the ServingService, or its remote client."""

    def endpoint_spec(self, endpoint_name: str) -> EndpointSpec: ...

    def endpoint_version(self, endpoint_name: str) -> tuple[int, str] | None: ...


@dataclass(slots=True)
class Invocation:
    """A prediction as the runtime API returns it."""

    body: bytes
    content_type: str
    invoked_variant: str
    custom_attributes: str | None = None


@dataclass(slots=True)
class Trace:
    """What an invocation touched, for metrics (filled in as it goes)."""

    variant: str = ""
    model: str = ""
    model_seconds: float | None = None


class DaemonExecutor(Executor):
    """A small thread pool whose threads never hold the process open at exit."""

    def __init__(self, threads: int, name: str) -> None:
        self._queue: SimpleQueue[tuple[Future[Any], Any, tuple[Any, ...]] | None] = SimpleQueue()
        for index in range(threads):
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True).start()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, lambda: fn(*args, **kwargs), ()))
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, call, _ = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as error:
                future.set_exception(error)


class Engine:
    """Endpoints of one process, looked up by name and invoked."""

    def __init__(
        self,
        source: SpecSource,
        settings: Settings,
        workers: int = 1,
        on_stuck: Any = None,
    ) -> None:
        self.source = source
        self.settings = settings
        self.workers = workers
        self.on_stuck = on_stuck
        self._endpoints: dict[str, EndpointRuntime] = {}
        self._lock = threading.Lock()
        self._loader = DaemonExecutor(4, "slipway-load")
        self._loads: dict[tuple[int, str], asyncio.Future[tuple[LoadedModel, bool]]] = {}
        self._scheduler: Scheduler | None = None
        self._capture: CaptureWriter | None = None
        self._capture_lock = threading.Lock()

    # --- endpoint specs ---------------------------------------------------------------

    def lookup_sync(self, name: str) -> EndpointRuntime:
        runtime = self._endpoints.get(name)
        if runtime is not None and time.monotonic() - runtime.checked < SPEC_TTL:
            return runtime
        return self._refresh(name)

    async def lookup(self, name: str) -> EndpointRuntime:
        runtime = self._endpoints.get(name)
        if runtime is None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._loader, self._refresh, name)
        if time.monotonic() - runtime.checked >= SPEC_TTL and not runtime.refreshing:
            runtime.refreshing = True
            self._loader.submit(self._refresh_quietly, name)
        return runtime

    def _refresh_quietly(self, name: str) -> None:
        with contextlib.suppress(Exception):  # the next request sees and reports it
            self._refresh(name)

    def _refresh(self, name: str) -> EndpointRuntime:
        with self._lock:
            current = self._endpoints.get(name)
            try:
                version = self.source.endpoint_version(name)
            except Exception:
                if current is None:
                    raise
                current.refreshing = False
                return current  # keep serving what we know if the database is away
            if version is None:
                self._forget(name)
                raise EndpointNotFound(
                    f"Endpoint {name} not found; list endpoints with `slipway endpoints list`"
                )
            if current is not None and current.spec.version == version[0]:
                current.status = version[1]
                current.checked = time.monotonic()
                current.refreshing = False
                return current
            try:
                spec = self.source.endpoint_spec(name)
            except NotFound:
                self._forget(name)
                raise EndpointNotFound(f"Endpoint {name} not found") from None
            runtime = EndpointRuntime(spec, self.settings, self.workers)
            self._endpoints[name] = runtime
        if current is not None:
            current.close()
        return runtime

    def _forget(self, name: str) -> None:
        old = self._endpoints.pop(name, None)
        if old is not None:
            old.close()

    # --- models -----------------------------------------------------------------------

    async def model(self, variant: VariantRuntime, key: str, uri: str | None = None) -> LoadedModel:
        """The model under ``key``: from the cache, or loaded once on a loader thread."""
        model = variant.cache.get(key)
        metrics = variant.cache.metrics
        if model is not None:
            metrics.hit.inc()
            return model
        metrics.miss.inc()
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        task_key = (id(variant), key)
        task = self._loads.get(task_key)
        if task is None:
            task = loop.run_in_executor(self._loader, variant.load_sync, key, uri)
            task = asyncio.ensure_future(task)
            self._loads[task_key] = task
            task.add_done_callback(lambda _t: self._loads.pop(task_key, None))
        try:
            model, _ = await asyncio.wait_for(asyncio.shield(task), variant.timeout)
        except TimeoutError:
            raise PredictionTimeout(
                f"model {variant.label(key)!r} did not load within {variant.timeout:g} s"
            ) from None
        metrics.wait.observe(time.perf_counter() - started)
        return model

    # --- invoking ---------------------------------------------------------------------

    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            self._scheduler = Scheduler(asyncio.get_running_loop(), self.on_stuck)
        return self._scheduler

    async def invoke(
        self,
        runtime: EndpointRuntime,
        trace: Trace,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        target_model: str | None,
        target_variant: str | None,
        custom_attributes: str | None,
        inference_id: str | None,
    ) -> Invocation:
        """Invoke an endpoint on the server's hot path (micro-batched, with a timeout)."""
        runtime.check_servable()
        variant = runtime.pick(target_variant)
        trace.variant = variant.spec.variant_name
        key = variant.key(target_model)
        trace.model = variant.label(key)
        model = await self.model(variant, key)
        out, out_type = await self.predict(
            model, variant.timeout, trace, body, content_type, accept
        )
        self.capture(runtime, variant, body, content_type, out, out_type, inference_id,
                     custom_attributes)  # fmt: skip
        return Invocation(out, out_type, variant.spec.variant_name, custom_attributes)

    async def predict(
        self,
        model: LoadedModel,
        timeout: float,
        trace: Trace,
        body: bytes,
        content_type: str | None,
        accept: str | None,
    ) -> tuple[bytes, str]:
        scheduler = self.scheduler()
        if model.batchable:
            data, wrapped = model.decode(body, content_type)
            chosen = choose_accept(accept, model.default_accept)
            prediction, trace.model_seconds = await scheduler.predict(model, data, timeout)
            return model.encode(prediction, chosen, wrapped)
        result, trace.model_seconds = await scheduler.call(
            model, lambda: model.predict(body, content_type, accept), timeout
        )
        return result

    def invoke_sync(
        self,
        name: str,
        body: bytes,
        content_type: str | None = None,
        accept: str | None = None,
        target_model: str | None = None,
        target_variant: str | None = None,
        custom_attributes: str | None = None,
        inference_id: str | None = None,
    ) -> Invocation:
        """Invoke an endpoint in the calling thread (embedded mode)."""
        runtime = self.lookup_sync(name)
        runtime.check_servable()
        variant = runtime.pick(target_variant)
        key = variant.key(target_model)
        model, _ = variant.load_sync(key)
        out, out_type = model.predict(body, content_type, accept)
        self.capture(runtime, variant, body, content_type, out, out_type, inference_id,
                     custom_attributes)  # fmt: skip
        return Invocation(out, out_type, variant.spec.variant_name, custom_attributes)

    # --- data capture -----------------------------------------------------------------

    def capture(
        self,
        runtime: EndpointRuntime,
        variant: VariantRuntime,
        body: bytes,
        content_type: str | None,
        out: bytes,
        out_type: str,
        inference_id: str | None,
        custom_attributes: str | None,
    ) -> None:
        spec = runtime.spec.capture
        if spec is None or random.random() * 100 >= spec.sampling_percentage:
            return
        writer = self._capture
        if writer is None:
            with self._capture_lock:
                if self._capture is None:
                    self._capture = CaptureWriter(
                        self.settings.capture_flush_interval, _spool_dir(self.settings)
                    )
                    # An embedded process may simply end: what it captured is kept then too.
                    atexit.register(self._capture.close)
                writer = self._capture
        writer.record(
            spec, runtime.spec.name, variant.spec.variant_name, body, content_type, out,
            out_type, inference_id, custom_attributes,
        )  # fmt: skip

    def close(self) -> None:
        """Write out captured data and unload every model."""
        if self._capture is not None:
            self._capture.close()
            self._capture = None
        for name in list(self._endpoints):
            self._forget(name)


def _spool_dir(settings: Settings) -> Path:
    folder = settings.home / "capture-spool" / f"{os.getpid()}-{time.time_ns()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
