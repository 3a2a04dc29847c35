"""Request rate and latency of endpoints over the last hour, for the endpoint page's charts.

The serving data plane keeps only cumulative Prometheus counters and a latency histogram
per (endpoint, variant, model) (``slipway.serving.metrics``), added up over the server's
worker processes; nothing stores them over time, and a rate needs two points in time.
So Studio samples them: the first endpoint page a worker process shows starts a daemon
thread there that reads the totals every ``SAMPLE_SECONDS`` (less often when a read is
slow: with thousands of models called, reading every worker's counters takes a while)
and keeps an hour of them in memory. Each page view adds a sample of its own (at most
one per ``MIN_SPACING_SECONDS``), so the charts end when the page was asked for.

Between two samples, the request rate is the difference of the counters over the time
between them; the mean latency the difference of the histogram's sum over that of its
count, and p50/p95 come from the difference of its buckets, interpolated within a bucket
as Prometheus' ``histogram_quantile`` does. Samples live as long as the process that
took them, as the counters do; the totals table always has everything since the server
started, sampled or not. We sample rather than store each request because invocations
are the hot path: they only bump counters, and Studio pays for the history, not them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from slipway.serving import metrics

SAMPLE_SECONDS = 10.0
MAX_CPU_SHARE = 0.05
MIN_SPACING_SECONDS = 2.0
WINDOW_SECONDS = 3600.0
# A bound on memory whatever the page views: the window at the page views' spacing.
MAX_SAMPLES = int(WINDOW_SECONDS / MIN_SPACING_SECONDS)
QUANTILES = (("p50", 0.5), ("p95", 0.95))
WINDOWS_MINUTES = (5, 15, 60)
MARKED_POINTS = 60

_COUNTERS = {
    "slipway_invocations_total": "invocations",
    "slipway_invocation_4xx_errors_total": "errors_4xx",
    "slipway_invocation_5xx_errors_total": "errors_5xx",
    "slipway_invocation_latency_seconds_sum": "latency_sum",
    "slipway_invocation_latency_seconds_count": "latency_count",
}
_BUCKET = "slipway_invocation_latency_seconds_bucket"
log = logging.getLogger("slipway.studio")
_GAUGES = {"slipway_loaded_model_count": "loaded", "slipway_model_cache_bytes": "bytes"}
_MODEL_LOADED = "slipway_model_loaded"


@dataclass
class Totals:
    """Cumulative invocation counts and latency histogram of one label set (or a sum)."""

    invocations: float = 0.0
    errors_4xx: float = 0.0
    errors_5xx: float = 0.0
    latency_sum: float = 0.0
    latency_count: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound: cumulative

    def add(self, other: Totals) -> None:
        for name in ("invocations", "errors_4xx", "errors_5xx", "latency_sum", "latency_count"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for bound, count in other.buckets.items():
            self.buckets[bound] = self.buckets.get(bound, 0.0) + count

    def since(self, earlier: Totals) -> Totals:
        """What happened after ``earlier``; all of it if the counters restarted meanwhile."""
        if self.invocations < earlier.invocations:
            return self
        return Totals(
            self.invocations - earlier.invocations,
            self.errors_4xx - earlier.errors_4xx,
            self.errors_5xx - earlier.errors_5xx,
            self.latency_sum - earlier.latency_sum,
            self.latency_count - earlier.latency_count,
            {b: c - earlier.buckets.get(b, 0.0) for b, c in self.buckets.items()},
        )

    @property
    def mean_seconds(self) -> float | None:
        return self.latency_sum / self.latency_count if self.latency_count else None

    def quantile(self, q: float) -> float | None:
        """The latency under which a share ``q`` of the invocations fell, in seconds."""
        total = self.buckets.get(math.inf, 0.0)
        if total <= 0:
            return None
        rank, lower, below = q * total, 0.0, 0.0
        for bound in sorted(self.buckets):
            count = self.buckets[bound]
            if count >= rank:
                if math.isinf(bound):
                    return lower  # beyond the largest bound: the best we can say
                inside = count - below
                return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
            lower, below = bound, count
        return lower


@dataclass
class Reading:
    """Every endpoint's totals at one moment, by (variant, model), its cache gauges and
    the names of the models its variants hold loaded (in any worker process)."""

    time: float
    invocations: dict[str, dict[tuple[str, str], Totals]]
    caches: dict[str, dict[str, dict[str, float]]]
    loaded: dict[str, dict[str, list[str]]]

    def endpoint_totals(self, endpoint: str) -> Totals:
        summed = Totals()
        for totals in self.invocations.get(endpoint, {}).values():
            summed.add(totals)
        return summed


def _families() -> Iterable[Metric]:
    """The metric families ``metrics.render`` writes out, without writing and parsing
    them as text (which doubles the cost of a read)."""
    folder = metrics.multiprocess_dir()
    if folder is None:
        return REGISTRY.collect()
    return MultiProcessCollector(CollectorRegistry(), path=folder).collect()


def read() -> Reading:
    """The serving metrics of every worker process of this server, now."""
    invocations: dict[str, dict[tuple[str, str], Totals]] = {}
    caches: dict[str, dict[str, dict[str, float]]] = {}
    loaded: dict[str, dict[str, list[str]]] = {}
    for family in _families():
        for s in family.samples:
            endpoint = s.labels.get("endpoint")
            if endpoint is None:
                continue
            if s.name == _MODEL_LOADED:
                if s.value > 0:  # 0: every worker that held it has unloaded it
                    names = loaded.setdefault(endpoint, {}).setdefault(s.labels["variant"], [])
                    names.append(s.labels["model"])
                continue
            if s.name in _GAUGES:
                gauges = caches.setdefault(endpoint, {}).setdefault(s.labels["variant"], {})
                gauges[_GAUGES[s.name]] = s.value
                continue
            if s.name != _BUCKET and s.name not in _COUNTERS:
                continue
            key = (s.labels["variant"], s.labels["model"])
            totals = invocations.setdefault(endpoint, {}).setdefault(key, Totals())
            if s.name == _BUCKET:
                totals.buckets[float(s.labels["le"])] = s.value
            else:
                setattr(totals, _COUNTERS[s.name], s.value)
    for variants in loaded.values():
        for names in variants.values():
            names.sort()
    return Reading(time.time(), invocations, caches, loaded)


class Sampler:
    """An hour of every endpoint's summed totals, sampled in this process."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, dict[str, Totals]]] = deque(maxlen=MAX_SAMPLES)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def sample(self) -> Reading:
        """Read the metrics now, keep them as a sample, and start sampling if need be."""
        reading = read()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="slipway-studio-traffic", daemon=True
                )
                self._thread.start()
            # Spaced, and in order when two threads read at once.
            if not self._samples or reading.time - self._samples[-1][0] >= MIN_SPACING_SECONDS:
                summed = {name: reading.endpoint_totals(name) for name in reading.invocations}
                self._samples.append((reading.time, summed))
            while len(self._samples) > 2 and self._samples[1][0] < reading.time - WINDOW_SECONDS:
                self._samples.popleft()
        return reading

    def history(self, endpoint: str) -> list[tuple[float, Totals]]:
        with self._lock:
            return [(t, totals.get(endpoint, Totals())) for t, totals in self._samples]

    def _run(self) -> None:
        pause = SAMPLE_SECONDS
        while True:
            time.sleep(pause)
            started = time.perf_counter()
            try:
                self.sample()
            except Exception:  # a bad read must not end the history; the next one may work
                log.exception("sampling the serving metrics failed")
            # Reading costs more with every model called: keep it to a small share of a core.
            pause = max(SAMPLE_SECONDS, (time.perf_counter() - started) / MAX_CPU_SHARE)


def _when(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _step(name: str, starts: list[float], ends: list[float], values: list[Any]) -> dict[str, Any]:
    """A trace holding each interval's value from its start to its end."""
    x = [_when(t) for t in starts] + ([_when(ends[-1])] if ends else [])
    y = values + (values[-1:] if values else [])
    # Markers keep a short interval visible while there are few of them.
    mode = "lines+markers" if len(x) <= MARKED_POINTS else "lines"
    return {"type": "scatter", "mode": mode, "name": name, "x": x, "y": y,
            "line": {"shape": "hv"}, "connectgaps": False}  # fmt: skip


def _layout(title: str, y: str, start: float, end: float) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": "time (UTC)"}, "type": "date",
                  "range": [_when(start), _when(end)]},
        "yaxis": {"title": {"text": y}, "rangemode": "tozero"},
        "margin": {"t": 48, "r": 16, "b": 48, "l": 56},
        "legend": {"orientation": "h"},
    }  # fmt: skip


def figures(
    history: list[tuple[float, Totals]], now: float, minutes: int
) -> dict[str, dict[str, Any]]:
    """The request-rate and latency figures of one endpoint's last ``minutes``."""
    since = now - minutes * 60
    starts, ends, deltas = [], [], []
    for (t0, a), (t1, b) in itertools.pairwise(history):
        if t1 > t0 and t1 > since:
            starts.append(t0)
            ends.append(t1)
            deltas.append((b.since(a), t1 - t0))
    rate = [
        _step(label, starts, ends, [getattr(d, attribute) / span for d, span in deltas])
        for label, attribute in (
            ("invocations", "invocations"),
            ("4xx errors", "errors_4xx"),
            ("5xx errors", "errors_5xx"),
        )
    ]

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)

    latency = [_step("mean", starts, ends, [ms(d.mean_seconds) for d, _ in deltas])]
    latency += [
        _step(label, starts, ends, [ms(d.quantile(q)) for d, _ in deltas]) for label, q in QUANTILES
    ]
    # Sampling may have started within the window: show from its first sample then.
    start = max(since, starts[0]) if starts else since
    return {
        "rate": {"data": rate, "layout": _layout("Requests", "per second", start, now)},
        "latency": {"data": latency, "layout": _layout("Latency", "milliseconds", start, now)},
    }
