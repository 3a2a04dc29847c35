"""Prometheus metrics of the serving data plane, named after the reference's CloudWatch ones.

| Prometheus | reference (CloudWatch) |
| --- | --- |
| ``slipway_invocations_total`` | Invocations |
| ``slipway_invocation_4xx_errors_total`` / ``..._5xx_errors_total`` | Invocation4XXErrors / 5XX |
| ``slipway_invocation_latency_seconds`` | ModelLatency + OverheadLatency |
| ``slipway_model_latency_seconds`` | ModelLatency |
| ``slipway_model_loading_wait_time_seconds`` | ModelLoadingWaitTime |
| ``slipway_model_loading_time_seconds`` | ModelLoadingTime |
| ``slipway_model_unloading_time_seconds`` | ModelUnloadingTime |
| ``slipway_model_cache_hit_total`` / ``..._miss_total`` | ModelCacheHit (hit / (hit + miss)) |
| ``slipway_loaded_model_count`` | LoadedModelCount |
| ``slipway_model_loaded`` | (which models are loaded: worker processes holding each) |
| ``slipway_model_cache_bytes`` | (memory held by loaded models) |

Invocation metrics carry ``endpoint``, ``variant`` and ``model`` labels (``model`` is the
TargetModel of a multi-model endpoint, else the model's name); cache metrics carry
``endpoint`` and ``variant``, the reference's dimensions (``slipway_model_loaded`` also
``model``: the TargetModel of a multi-model endpoint). Seconds, not microseconds:
Prometheus' base unit.

Worker processes share the numbers through prometheus_client's multiprocess mode: the
server sets ``PROMETHEUS_MULTIPROC_DIR`` before it starts them (see ``supervisor``), each
worker writes its values to memory-mapped files there, and ``/metrics`` on any worker
adds them up. Without the variable (embedded mode) values stay in the process.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from slipway.jobs.processes import alive

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_INVOCATION = ("endpoint", "variant", "model")
_CACHE = ("endpoint", "variant")

INVOCATIONS = Counter("slipway_invocations", "Invocations answered.", _INVOCATION)
ERRORS_4XX = Counter(
    "slipway_invocation_4xx_errors", "Invocations answered with a 4xx status.", _INVOCATION
)
ERRORS_5XX = Counter(
    "slipway_invocation_5xx_errors", "Invocations answered with a 5xx status.", _INVOCATION
)
LATENCY = Histogram(
    "slipway_invocation_latency_seconds", "Time to answer an invocation.", _INVOCATION,
    buckets=_LATENCY,
)  # fmt: skip
MODEL_LATENCY = Histogram(
    "slipway_model_latency_seconds", "Time the model took to predict.", _INVOCATION,
    buckets=_LATENCY,
)  # fmt: skip
LOADING_WAIT = Histogram(
    "slipway_model_loading_wait_time_seconds",
    "Time an invocation waited for its model to be fetched and loaded.", _CACHE,
    buckets=_LATENCY,
)  # fmt: skip
LOADING_TIME = Histogram(
    "slipway_model_loading_time_seconds", "Time to fetch and load a model.", _CACHE,
    buckets=_LATENCY,
)  # fmt: skip
UNLOADING_TIME = Histogram(
    "slipway_model_unloading_time_seconds", "Time to unload a model.", _CACHE, buckets=_LATENCY
)
CACHE_HIT = Counter(
    "slipway_model_cache_hit", "Invocations whose model was loaded already.", _CACHE
)
CACHE_MISS = Counter(
    "slipway_model_cache_miss", "Invocations that had to load their model.", _CACHE
)
LOADED_MODELS = Gauge(
    "slipway_loaded_model_count", "Models loaded.", _CACHE, multiprocess_mode="livesum"
)
# 1 while a worker holds the model, 0 once it is unloaded, summed over live workers: the
# names a multi-model endpoint has loaded, which LoadedModelCount alone cannot tell.
MODEL_LOADED = Gauge(
    "slipway_model_loaded", "Worker processes holding the model loaded.", _INVOCATION,
    multiprocess_mode="livesum",
)  # fmt: skip
CACHE_BYTES = Gauge(
    "slipway_model_cache_bytes", "Estimated memory held by loaded models.", _CACHE,
    multiprocess_mode="livesum",
)  # fmt: skip


class InvocationMetrics:
    """The labelled children of one (endpoint, variant, model), looked up once."""

    __slots__ = ("errors_4xx", "errors_5xx", "invocations", "latency", "model_latency")

    def __init__(self, endpoint: str, variant: str, model: str) -> None:
        labels = (endpoint, variant, model)
        self.invocations = INVOCATIONS.labels(*labels)
        self.errors_4xx = ERRORS_4XX.labels(*labels)
        self.errors_5xx = ERRORS_5XX.labels(*labels)
        self.latency = LATENCY.labels(*labels)
        self.model_latency = MODEL_LATENCY.labels(*labels)

    def record(self, status: int, seconds: float, model_seconds: float | None) -> None:
        self.invocations.inc()
        if status >= 500:
            self.errors_5xx.inc()
        elif status >= 400:
            self.errors_4xx.inc()
        self.latency.observe(seconds)
        if model_seconds is not None:
            self.model_latency.observe(model_seconds)


class CacheMetrics:
    """The labelled children of one variant's model cache."""

    __slots__ = (
        "bytes", "hit", "labels", "loaded", "loading_time", "miss", "unloading_time", "wait",
    )  # fmt: skip

    def __init__(self, endpoint: str, variant: str) -> None:
        self.labels = labels = (endpoint, variant)
        self.hit = CACHE_HIT.labels(*labels)
        self.miss = CACHE_MISS.labels(*labels)
        self.wait = LOADING_WAIT.labels(*labels)
        self.loading_time = LOADING_TIME.labels(*labels)
        self.unloading_time = UNLOADING_TIME.labels(*labels)
        self.loaded = LOADED_MODELS.labels(*labels)
        self.bytes = CACHE_BYTES.labels(*labels)

    def model_loaded(self, model: str, loaded: bool) -> None:
        """Publish whether this worker holds ``model`` (called on loads and unloads only)."""
        MODEL_LOADED.labels(*self.labels, model).set(1 if loaded else 0)


_metrics_cache: dict[tuple[str, str, str], InvocationMetrics] = {}


def invocation_metrics(endpoint: str, variant: str, model: str) -> InvocationMetrics:
    key = (endpoint, variant, model)
    found = _metrics_cache.get(key)
    if found is None:
        if len(_metrics_cache) > 100_000:  # a bound on label sets kept in this process
            _metrics_cache.clear()
        found = _metrics_cache[key] = InvocationMetrics(*key)
    return found


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> tuple[bytes, str]:
    """The exposition text of every worker's metrics (or this process's)."""
    folder = multiprocess_dir()
    if folder is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)
    return generate_latest(registry), CONTENT_TYPE_LATEST


_LIVE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db$")


def forget_dead_workers() -> None:
    """Drop the live-gauge files of worker processes that are gone (killed, crashed)."""
    folder = multiprocess_dir()
    if folder is None:
        return
    for path in glob.glob(os.path.join(folder, "gauge_live*.db")):
        match = _LIVE_FILE.search(path)
        if match and not alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def sample(text: str, name: str, **labels: Any) -> float:
    """The value of one sample in exposition text (0 if absent): a helper for tests and tools."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', label_text))
        if all(found.get(key) == str(want) for key, want in labels.items()):
            total += float(value)
    return total
