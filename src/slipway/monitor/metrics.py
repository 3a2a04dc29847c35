"""Per-feature metrics of the latest execution of each schedule, for Prometheus.

Named as the reference's CloudWatch metrics (``feature_baseline_drift_<feature>``,
``feature_non_null_<feature>``, ``feature_data_<feature>`` with a ``statistic`` label for
Average/Min/Max/Sum/SampleCount) with its dimensions as labels (``endpoint``,
``monitoring_schedule``). Values are read from the metadata database at scrape time, so
every server sharing the database answers the same, whichever one ran the execution.

The collector sits on prometheus_client's default registry, the one the serving data
plane's ``/metrics`` renders, so one scrape gets both. When the server runs its workers in
prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``), ``/metrics`` reads
only the workers' metric files; then ``refresh`` copies the database's values into
multiprocess gauges (most recent value wins), on every scheduler tick and after every
execution.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Protocol

from prometheus_client import REGISTRY, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric

log = logging.getLogger("slipway.monitor")

_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


class MetricRow(Protocol):
    schedule_name: str
    endpoint_name: str
    metric: str
    feature: str
    statistic: str
    value: float | None


class MetricSource(Protocol):
    def latest_metrics(self) -> Iterable[MetricRow]: ...


def metric_name(metric: str, feature: str) -> str:
    return f"{metric}_{_UNSAFE.sub('_', feature)}"


class _Collector:
    def __init__(self) -> None:
        self._sources: weakref.WeakSet[MetricSource] = weakref.WeakSet()

    def add(self, source: MetricSource) -> None:
        self._sources.add(source)

    def describe(self) -> list[Metric]:
        return []  # names depend on the features monitored; nothing to reserve

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        seen: set[tuple] = set()
        for source in list(self._sources):
            try:
                rows = list(source.latest_metrics())
            except Exception:  # one unreachable database must not take /metrics down
                log.warning("monitor metrics: a source could not be read", exc_info=True)
                continue
            for row in rows:
                if row.value is None:
                    continue
                name = metric_name(row.metric, row.feature)
                labels = ["endpoint", "monitoring_schedule"]
                values = [row.endpoint_name, row.schedule_name]
                if row.statistic:
                    labels.append("statistic")
                    values.append(row.statistic)
                key = (name, *values)
                if key in seen:  # two services over one database report the same rows
                    continue
                seen.add(key)
                family = families.get(name)
                if family is None:
                    family = families[name] = GaugeMetricFamily(
                        name,
                        f"Model Monitor {row.metric} of feature {row.feature!r}",
                        labels=labels,
                    )
                family.add_metric(values, row.value)
        yield from families.values()


_collector = _Collector()
_registered = threading.Lock()
_done = False


def publish(source: MetricSource) -> None:
    """Export a service's metrics on the default registry (registered once per process)."""
    global _done
    with _registered:
        if not _done:
            REGISTRY.register(_collector)
            _done = True
    _collector.add(source)


_gauges: dict[tuple[str, tuple[str, ...]], Gauge] = {}
_GAUGE_LIMIT = 10_000


def refresh(source: MetricSource) -> None:
    """Mirror the latest metrics into multiprocess gauges (multiprocess mode only)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    for row in source.latest_metrics():
        if row.value is None:
            continue
        labels = ("endpoint", "monitoring_schedule") + (("statistic",) if row.statistic else ())
        name = metric_name(row.metric, row.feature)
        gauge = _gauges.get((name, labels))
        if gauge is None:
            if len(_gauges) >= _GAUGE_LIMIT:
                continue
            gauge = _gauges[(name, labels)] = Gauge(
                name,
                f"Model Monitor {row.metric} of feature {row.feature!r}",
                labels,
                registry=None,
                multiprocess_mode="mostrecent",
            )
        values = [row.endpoint_name, row.schedule_name] + ([row.statistic] if row.statistic else [])
        gauge.labels(*values).set(row.value)
