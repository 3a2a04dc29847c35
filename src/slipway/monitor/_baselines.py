"""Baselining jobs: a data set in, statistics.json and constraints.json out."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from slipway.errors import ValidationError
from slipway.monitor import formats as f
from slipway.monitor import quality
from slipway.monitor._datasets import dataset_format_of, read_batches
from slipway.monitor.baseline import profile_dataset, statistics_of, suggest_constraints
from slipway.monitor.models import BaselineResult, MonitoringType, SuggestBaseline

Put = Callable[[str, bytes], None]


def suggest_baseline(request: SuggestBaseline, put: Put) -> BaselineResult:
    out = request.output_uri.rstrip("/")
    statistics_uri, constraints_uri = f"{out}/statistics.json", f"{out}/constraints.json"
    if request.monitoring_type == MonitoringType.MODEL_QUALITY:
        return _model_quality(request, put, statistics_uri, constraints_uri)
    profile = profile_dataset(request.baseline_dataset, request.dataset_format)
    if profile.item_count == 0:
        raise ValidationError(
            f"the baseline data set {request.baseline_dataset} has no rows; a baseline needs data"
        )
    put(statistics_uri, f.dump(statistics_of(profile)))
    put(constraints_uri, f.dump(suggest_constraints(profile)))
    return BaselineResult(
        statistics_uri=statistics_uri,
        constraints_uri=constraints_uri,
        item_count=profile.item_count,
        feature_count=len(profile.columns),
    )


def _model_quality(
    request: SuggestBaseline, put: Put, statistics_uri: str, constraints_uri: str
) -> BaselineResult:
    config = request.model_quality
    if config is None:
        raise ValidationError(
            "a ModelQuality baseline needs ModelQuality: the problem type and which columns "
            "hold the label and the prediction"
        )
    fmt = dataset_format_of(request.dataset_format)
    frame = pa.Table.from_batches(list(read_batches(request.baseline_dataset, fmt))).to_pandas()
    joined = quality.from_table(frame, config)
    statistics = quality.statistics(joined, config)
    put(statistics_uri, quality.dump(statistics).encode())
    put(constraints_uri, f.dump(quality.suggest(statistics, config.problem_type)))
    return BaselineResult(
        statistics_uri=statistics_uri,
        constraints_uri=constraints_uri,
        item_count=len(frame),
        feature_count=len(frame.columns),
    )
