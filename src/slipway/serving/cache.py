"""The in-memory model cache of one variant in one worker process: LRU under two limits.

A model is admitted once loaded; least recently used models are evicted first whenever
the estimated bytes of the loaded models would pass the budget, or their number the count
limit. Before a load, room is made for the model's size on disk so that memory stays
under the budget while the new model is being built, not only afterwards. A model larger
than the whole budget is refused (the reference container's 507). Evicting drops the
cache's reference; a prediction that still holds the model finishes with it.

Loads are single-flight across threads: concurrent first calls for one model wait for
one load. A failed load is remembered for a few seconds, so a broken model does not
make every request of a burst download and unpack it again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future

from slipway.inference import InsufficientMemory, LoadedModel
from slipway.serving.metrics import CacheMetrics

_FAILURE_MEMORY = 3.0  # seconds a failed load is answered from memory


class ModelCache:
    """Loaded models by key, least recently used first."""

    def __init__(
        self, budget_bytes: int | None, max_models: int | None, metrics: CacheMetrics
    ) -> None:
        self.budget_bytes = budget_bytes
        self.max_models = max_models
        self.metrics = metrics
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._loading: dict[str, Future[LoadedModel]] = {}
        self._failures: dict[str, tuple[float, BaseException]] = {}

    # --- the hot path -----------------------------------------------------------------

    def get(self, key: str) -> LoadedModel | None:
        """The loaded model, marked as just used; None if it is not loaded."""
        model = self._models.get(key)
        if model is not None:
            # Evicted by another thread meanwhile? The model is still usable.
            with contextlib.suppress(KeyError):
                self._models.move_to_end(key)
        return model

    # --- loading ----------------------------------------------------------------------

    def get_or_load(
        self, key: str, load: Callable[[], LoadedModel], expected_bytes: int = 0
    ) -> tuple[LoadedModel, bool]:
        """The model under ``key``, loading it once if needed; (model, was_loaded_here)."""
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return model, False
            failed = self._failures.get(key)
            if failed is not None and time.monotonic() - failed[0] < _FAILURE_MEMORY:
                raise failed[1]
            pending = self._loading.get(key)
            if pending is None:
                pending = self._loading[key] = Future()
                owner = True
            else:
                owner = False
        if not owner:
            return pending.result(), False
        try:
            self._make_room(expected_bytes)
            started = time.perf_counter()
            model = load()
            self.metrics.loading_time.observe(time.perf_counter() - started)
            self.put(key, model)
        except BaseException as error:
            with self._lock:
                self._failures[key] = (time.monotonic(), error)
                del self._loading[key]
            pending.set_exception(error)
            raise
        with self._lock:
            self._failures.pop(key, None)
            del self._loading[key]
        pending.set_result(model)
        return model, True

    def put(self, key: str, model: LoadedModel) -> None:
        """Admit a loaded model, evicting others as the limits require."""
        if self.budget_bytes is not None and model.nbytes > self.budget_bytes:
            raise InsufficientMemory(
                f"model {key!r} needs about {model.nbytes} bytes, more than this worker's "
                f"model memory budget of {self.budget_bytes} bytes; raise ModelCacheBytes "
                "of the variant"
            )
        with self._lock:
            old = self._models.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            evicted = self._evict_locked(model.nbytes, extra_models=1)
            self._models[key] = model
            self._bytes += model.nbytes
            self._publish_locked(evicted, admitted=key)
        self._unloaded(evicted.values())

    def _make_room(self, nbytes: int) -> None:
        with self._lock:
            evicted = self._evict_locked(nbytes, extra_models=1)
            self._publish_locked(evicted)
        self._unloaded(evicted.values())

    def _evict_locked(self, nbytes: int, extra_models: int) -> dict[str, LoadedModel]:
        evicted = {}
        while self._models and (
            (self.budget_bytes is not None and self._bytes + nbytes > self.budget_bytes)
            or (self.max_models is not None and len(self._models) + extra_models > self.max_models)
        ):
            key, model = self._models.popitem(last=False)
            self._bytes -= model.nbytes
            evicted[key] = model
        return evicted

    # --- unloading --------------------------------------------------------------------

    def remove(self, key: str) -> bool:
        """Unload one model; False if it was not loaded."""
        with self._lock:
            model = self._models.pop(key, None)
            if model is None:
                return False
            self._bytes -= model.nbytes
            self._publish_locked([key])
        self._unloaded([model])
        return True

    def clear(self) -> None:
        with self._lock:
            evicted = dict(self._models)
            self._models.clear()
            self._bytes = 0
            self._publish_locked(evicted)
        self._unloaded(evicted.values())

    def _unloaded(self, models: Iterable[LoadedModel]) -> None:
        for model in models:
            started = time.perf_counter()
            close = getattr(model, "close", None)
            if callable(close):
                close()
            del model
            self.metrics.unloading_time.observe(time.perf_counter() - started)

    def _publish_locked(self, unloaded: Iterable[str], admitted: str | None = None) -> None:
        """Publish the totals, and which models this worker holds (under the lock, so that
        a load and an unload of one model are published in the order they happened)."""
        self.metrics.loaded.set(len(self._models))
        self.metrics.bytes.set(self._bytes)
        # A single-model variant holds its one model under the empty key; its name is the
        # variant's model, so only a multi-model endpoint's target models are published.
        for key in unloaded:
            if key:
                self.metrics.model_loaded(key, False)
        if admitted:
            self.metrics.model_loaded(admitted, True)

    # --- description ------------------------------------------------------------------

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._models)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, key: str) -> bool:
        return key in self._models
