"""Baselines: profile a data set and write statistics.json and suggested constraints.json.

The profile becomes the reference's statistics (moments, a KLL sketch with its 10
buckets, distinct counts and categorical buckets) and the suggested constraints
(completeness, non-negativity, domains of low-cardinality strings) that later
executions check captured data against.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from slipway.monitor import formats as f
from slipway.monitor._datasets import dataset_format_of, restartable
from slipway.monitor._profile import KLL_C, KLL_K, ColumnProfile, DatasetProfile

KLL_BUCKETS = 10
# Deequ's categorical rule: a histogram exists and at most 10% of its values occur once.
_SINGLETON_RATIO = 0.1


def profile_dataset(uri: str, dataset_format: str | dict[str, Any]) -> DatasetProfile:
    """Stream a data set through a profile in bounded memory."""
    fmt = dataset_format_of(dataset_format)

    def consume(batches: Iterator[pa.RecordBatch]) -> DatasetProfile:
        profile = DatasetProfile()
        for batch in batches:
            profile.update(batch)
        return profile

    return restartable(uri, fmt, consume)


def statistics_of(profile: DatasetProfile) -> f.Statistics:
    return f.Statistics(
        version=0,
        dataset=f.Dataset(item_count=profile.item_count),
        features=[feature_statistics(column) for column in profile.columns.values()],
    )


def feature_statistics(column: ColumnProfile) -> f.FeatureStatistics:
    kind = column.inferred_type
    common = f.Common(num_present=column.num_present, num_missing=column.num_missing)
    if kind in ("Integral", "Fractional"):
        m = column.moments
        return f.FeatureStatistics(
            name=column.name,
            inferred_type=kind,
            numerical_statistics=f.NumericalStatistics(
                common=common,
                mean=m.mean,
                sum=m.total,
                std_dev=m.std_dev,
                min=m.minimum,
                max=m.maximum,
                distribution=f.NumericalDistribution(kll=kll_of(column)),
            ),
        )
    categories, _ = column.categories()
    return f.FeatureStatistics(
        name=column.name,
        inferred_type=kind,
        string_statistics=f.StringStatistics(
            common=common,
            distinct_count=float(round(column.hll.get_estimate())) if column.string else 0.0,
            distribution=f.StringDistribution(
                categorical=f.Categorical(
                    buckets=[f.CategoricalBucket(value=v, count=c) for v, c in categories]
                )
            ),
        ),
    )


def kll_of(column: ColumnProfile) -> f.Kll:
    sketch = column.kll
    levels: list[list[float]] = []
    for value, weight in sketch:
        level = int(weight).bit_length() - 1
        while len(levels) <= level:
            levels.append([])
        levels[level].append(float(value))
    return f.Kll(
        buckets=_buckets(column),
        sketch=f.KllSketch(parameters=f.KllParameters(c=KLL_C, k=float(KLL_K)), data=levels),
    )


def _buckets(column: ColumnProfile) -> list[f.KllBucket]:
    m, sketch = column.moments, column.kll
    if m.count == 0:
        return []
    edges = np.linspace(m.minimum, m.maximum, KLL_BUCKETS + 1)
    if m.minimum == m.maximum:
        counts = [float(m.count)] + [0.0] * (KLL_BUCKETS - 1)
    else:
        cdf = [0.0, *sketch.get_cdf([float(e) for e in edges[1:-1]])]
        counts = [float(m.count) * (cdf[i + 1] - cdf[i]) for i in range(KLL_BUCKETS)]
    return [
        f.KllBucket(lower_bound=float(edges[i]), upper_bound=float(edges[i + 1]), count=counts[i])
        for i in range(KLL_BUCKETS)
    ]


def suggest_constraints(profile: DatasetProfile) -> f.Constraints:
    features = []
    for column in profile.columns.values():
        kind = column.inferred_type
        completeness = column.num_present / profile.item_count if profile.item_count else 1.0
        feature = f.FeatureConstraints(
            name=column.name, inferred_type=kind, completeness=completeness
        )
        if kind in ("Integral", "Fractional"):
            feature.num_constraints = f.NumConstraints(is_non_negative=column.moments.minimum >= 0)
        elif kind == "String":
            domains = _domains(column)
            if domains is not None:
                feature.string_constraints = f.StringConstraints(domains=domains)
            feature.monitoring_config_overrides = f.ConfigOverrides()
        features.append(feature)
    return f.Constraints(version=0, features=features, monitoring_config=f.MonitoringConfig())


def _domains(column: ColumnProfile) -> list[str] | None:
    categories, exact = column.categories()
    if not exact or not categories:
        return None
    singletons = sum(1 for _, count in categories if count == 1)
    if singletons / len(categories) > _SINGLETON_RATIO:
        return None
    return sorted(value for value, _ in categories)
