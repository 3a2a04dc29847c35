"""Model quality: join captured predictions with uploaded ground truth, compute metrics.

Labels arrive as reference records ``{"groundTruthData": {"data": "1", "encoding": "CSV"},
"eventMetadata": {"eventId": "..."}, "eventVersion": "0"}`` under
``<ground-truth-uri>/yyyy/mm/dd/hh/`` (the hour the labels were collected, which is at or
after the inference). A prediction joins its label on ``inferenceId`` when the capture
has one, else on ``eventId``. Metrics are scikit-learn's, in the reference's statistics
layout, each ``{"value", "standard_deviation"}`` (the deviation over five random 80%
subsamples, given from 200 samples on).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import fsspec
import numpy as np
import orjson

from slipway.errors import ValidationError
from slipway.monitor import capture
from slipway.monitor import formats as f
from slipway.monitor.models import ModelQualityConfig, ProblemType


class _SklearnMetrics:
    """sklearn.metrics, imported on first use: it takes seconds, and a server that runs
    no model-quality check should not pay for it at start-up."""

    def __getattr__(self, name: str) -> Any:
        from sklearn import metrics

        return getattr(metrics, name)


skm = _SklearnMetrics()

_SUBSAMPLES = 5
_MIN_FOR_DEVIATION = 200
_SECTIONS = {
    ProblemType.BINARY: "binary_classification",
    ProblemType.MULTICLASS: "multiclass_classification",
    ProblemType.REGRESSION: "regression",
}
_LOWER_IS_BETTER = {"mae", "mse", "rmse", "false_positive_rate", "false_negative_rate"}
_SUGGESTED = {
    ProblemType.BINARY: [
        "recall",
        "precision",
        "accuracy",
        "true_positive_rate",
        "true_negative_rate",
        "false_positive_rate",
        "false_negative_rate",
        "auc",
        "f0_5",
        "f1",
        "f2",
    ],
    ProblemType.MULTICLASS: [
        "accuracy",
        "weighted_recall",
        "weighted_precision",
        "weighted_f0_5",
        "weighted_f1",
        "weighted_f2",
    ],
    ProblemType.REGRESSION: ["mae", "mse", "rmse", "r2"],
}


@dataclass
class Joined:
    truth: list[Any] = field(default_factory=list)
    predicted: list[Any] = field(default_factory=list)
    probability: list[float] = field(default_factory=list)


# --- reading and joining --------------------------------------------------------------------


def read_ground_truth(uri: str, start: dt.datetime, read: capture.ReadReport) -> dict[str, Any]:
    """Labels by event id, from files of the window's start hour on."""
    labels: dict[str, Any] = {}
    for path in capture.dated_files(uri, start):
        with fsspec.open(path, "rb") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    raw = orjson.loads(line)
                    event = raw["eventMetadata"]["eventId"]
                    data = raw["groundTruthData"]
                    text, kind = capture.text_of({**data, "observedContentType": "text/csv"})
                    labels[str(event)] = orjson.loads(text) if kind == "json" else text.strip()
                except (orjson.JSONDecodeError, KeyError, TypeError, capture.Unparseable) as error:
                    read.bad(f"{path}:{number}", f"ground truth record unreadable ({error!r})")
    return labels


def join(
    records: list[capture.CapturedRecord],
    labels: dict[str, Any],
    config: ModelQualityConfig,
    read: capture.ReadReport,
) -> Joined:
    joined = Joined()
    binary = config.problem_type == ProblemType.BINARY
    for record in records:
        label = labels.get(record.inference_id or "") if record.inference_id else None
        if label is None:
            label = labels.get(record.event_id or "")
        if label is None:
            continue
        try:
            predicted, probability = _prediction(record.endpoint_output, config)
        except (capture.Unparseable, ValueError, KeyError, IndexError) as error:
            read.bad(record.source, f"endpointOutput unreadable ({error})")
            continue
        if binary and probability is not None:
            joined.probability.append(probability)
            if predicted is None:
                predicted = int(probability >= config.probability_threshold_attribute)
        joined.truth.append(_value(label, config.problem_type))
        joined.predicted.append(_value(predicted, config.problem_type))
    if binary and len(joined.probability) != len(joined.truth):
        joined.probability = []
    return joined


def _prediction(side: dict[str, Any] | None, config: ModelQualityConfig) -> tuple[Any, Any]:
    if not isinstance(side, dict):
        raise capture.Unparseable("the record has no endpointOutput")
    text, kind = capture.text_of(side)
    if kind == "json":
        payload = orjson.loads(text)
        pick = _picker(payload)
    else:
        values = next(csv.reader([text.strip()]), [])
        pick = _picker(values)
    label = pick(config.inference_attribute) if config.inference_attribute else None
    probability = pick(config.probability_attribute) if config.probability_attribute else None
    if label is None and probability is None:
        first = pick("0")
        number = _number(first)
        is_probability = (
            config.problem_type == ProblemType.BINARY
            and number is not None
            and 0 <= number <= 1
            and number != int(number)
        )
        return (None, number) if is_probability else (first, None)
    return label, None if probability is None else float(probability)


def _picker(payload: Any) -> Callable[[str], Any]:
    def pick(attribute: str) -> Any:
        if isinstance(payload, dict):
            if attribute in payload:
                return payload[attribute]
            for key in ("predictions", "outputs"):
                if key in payload:
                    return _picker(payload[key])(attribute)
            raise KeyError(attribute)
        if isinstance(payload, list):
            item = payload[int(attribute)] if payload else None
            return item[0] if isinstance(item, list) and len(item) == 1 else item
        if attribute == "0":
            return payload
        raise KeyError(attribute)

    return pick


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _value(value: Any, problem: ProblemType) -> Any:
    if problem == ProblemType.REGRESSION:
        return float(value)
    number = _number(value)
    if number is not None and number == int(number):
        return int(number)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return int(value.lower() == "true")
    return str(value)


# --- metrics --------------------------------------------------------------------------------


def statistics(joined: Joined, config: ModelQualityConfig) -> dict[str, Any]:
    problem = config.problem_type
    truth, predicted = np.asarray(joined.truth), np.asarray(joined.predicted)
    probability = np.asarray(joined.probability) if joined.probability else None
    compute = _metric_functions(problem, truth, predicted, probability)
    section: dict[str, Any] = {}
    rng = np.random.default_rng(0)
    samples = (
        [
            rng.choice(len(truth), size=int(0.8 * len(truth)), replace=False)
            for _ in range(_SUBSAMPLES)
        ]
        if len(truth) >= _MIN_FOR_DEVIATION
        else []
    )
    for name, function in compute.items():
        value = function(np.arange(len(truth)))
        entry: dict[str, Any] = {"value": value}
        if samples:
            entry["standard_deviation"] = float(np.std([function(s) for s in samples]))
        section[name] = entry
    if problem != ProblemType.REGRESSION:
        section["confusion_matrix"] = _confusion(truth, predicted)
    if problem == ProblemType.BINARY and probability is not None and len(set(truth)) == 2:
        fpr, tpr, _ = skm.roc_curve(truth, probability)
        precision, recall, _ = skm.precision_recall_curve(truth, probability)
        section["receiver_operating_characteristic_curve"] = {
            "false_positive_rates": fpr.tolist(),
            "true_positive_rates": tpr.tolist(),
        }
        section["precision_recall_curve"] = {
            "precisions": precision.tolist(),
            "recalls": recall.tolist(),
        }
    return {
        "version": 0.0,
        "dataset": {"item_count": len(truth), "evaluation_time": _now()},
        f"{_SECTIONS[problem]}_metrics": section,
    }


def _metric_functions(
    problem: ProblemType, truth: np.ndarray, predicted: np.ndarray, probability: np.ndarray | None
) -> dict[str, Callable[[np.ndarray], float]]:
    def on(metric: Callable[..., float], **kwargs: Any) -> Callable[[np.ndarray], float]:
        return lambda idx: float(metric(truth[idx], predicted[idx], **kwargs))

    if problem == ProblemType.REGRESSION:
        return {
            "mae": on(skm.mean_absolute_error),
            "mse": on(skm.mean_squared_error),
            "rmse": lambda idx: float(np.sqrt(skm.mean_squared_error(truth[idx], predicted[idx]))),
            "r2": on(skm.r2_score),
        }
    if problem == ProblemType.MULTICLASS:
        majority = _majority(truth)
        functions = {"accuracy": on(skm.accuracy_score)}
        for name, metric, extra in _weighted():
            functions[name] = on(metric, average="weighted", zero_division=0, **extra)
        functions["accuracy_best_constant_classifier"] = lambda idx: float(
            np.mean(truth[idx] == majority)
        )
        return functions
    base: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
        "recall": lambda t, p: skm.recall_score(t, p, zero_division=0),
        "precision": lambda t, p: skm.precision_score(t, p, zero_division=0),
        "accuracy": skm.accuracy_score,
        "true_positive_rate": lambda t, p: _rate(t, p, 1, 1),
        "true_negative_rate": lambda t, p: _rate(t, p, 0, 0),
        "false_positive_rate": lambda t, p: _rate(t, p, 0, 1),
        "false_negative_rate": lambda t, p: _rate(t, p, 1, 0),
        "f0_5": lambda t, p: skm.fbeta_score(t, p, beta=0.5, zero_division=0),
        "f1": lambda t, p: skm.f1_score(t, p, zero_division=0),
        "f2": lambda t, p: skm.fbeta_score(t, p, beta=2.0, zero_division=0),
    }
    functions = {name: on(metric) for name, metric in base.items()}
    for name in ("recall", "precision", "accuracy", "f0_5", "f1", "f2"):
        functions[f"{name}_best_constant_classifier"] = _best_constant(truth, base[name])
    if probability is not None and len(set(truth.tolist())) == 2:
        functions["auc"] = lambda idx: float(
            skm.roc_auc_score(truth[idx], probability[idx])
            if len(set(truth[idx].tolist())) == 2
            else float("nan")
        )
    return functions


def _weighted() -> Iterator[tuple[str, Callable[..., float], dict[str, Any]]]:
    yield "weighted_recall", skm.recall_score, {}
    yield "weighted_precision", skm.precision_score, {}
    yield "weighted_f0_5", skm.fbeta_score, {"beta": 0.5}
    yield "weighted_f1", skm.f1_score, {}
    yield "weighted_f2", skm.fbeta_score, {"beta": 2.0}


def _rate(truth: np.ndarray, predicted: np.ndarray, actual: int, said: int) -> float:
    pool = truth == actual
    return float(np.mean(predicted[pool] == said)) if pool.any() else 0.0


def _best_constant(
    truth: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float]
) -> Callable[[np.ndarray], float]:
    """The metric of the better of the two constant classifiers (always 0, always 1)."""
    return lambda idx: max(
        float(metric(truth[idx], np.full(len(idx), constant))) for constant in (0, 1)
    )


def _majority(truth: np.ndarray) -> Any:
    values, counts = np.unique(truth, return_counts=True)
    return values[int(np.argmax(counts))]


def _confusion(truth: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    labels = sorted(set(truth.tolist()) | set(predicted.tolist()), key=str)
    matrix = skm.confusion_matrix(truth, predicted, labels=labels)
    return {
        str(actual): {str(said): int(matrix[i, j]) for j, said in enumerate(labels)}
        for i, actual in enumerate(labels)
    }


def empty_statistics(problem: ProblemType) -> dict[str, Any]:
    return {
        "version": 0.0,
        "dataset": {"item_count": 0, "evaluation_time": _now()},
        f"{_SECTIONS[problem]}_metrics": {},
    }


# --- constraints ----------------------------------------------------------------------------


def suggest(statistics_doc: dict[str, Any], problem: ProblemType) -> f.QualityConstraints:
    """Thresholds at the baseline's values: worse than the baseline is a violation."""
    section = statistics_doc.get(f"{_SECTIONS[problem]}_metrics", {})
    constraints = {}
    for name in _SUGGESTED[problem]:
        entry = section.get(name)
        if not entry or entry.get("value") is None or np.isnan(entry["value"]):
            continue
        operator = "GreaterThanThreshold" if name in _LOWER_IS_BETTER else "LessThanThreshold"
        constraints[name] = f.MetricConstraint(
            threshold=float(entry["value"]), comparison_operator=operator
        )
    return f.QualityConstraints(**{f"{_SECTIONS[problem]}_constraints": constraints})


def check(constraints: f.QualityConstraints, statistics_doc: dict[str, Any]) -> list[f.Violation]:
    section = next(
        (v for k, v in statistics_doc.items() if k.endswith("_metrics") and isinstance(v, dict)),
        {},
    )
    if not section:
        return []
    found = []
    for name, rule in constraints.metrics().items():
        entry = section.get(name)
        if not isinstance(entry, dict) or entry.get("value") is None:
            continue
        value, threshold = float(entry["value"]), rule.threshold
        broken = {
            "LessThanThreshold": value < threshold,
            "LessThanOrEqualToThreshold": value <= threshold,
            "GreaterThanThreshold": value > threshold,
            "GreaterThanOrEqualToThreshold": value >= threshold,
        }[rule.comparison_operator]
        if broken:
            spread = entry.get("standard_deviation")
            shown = f"{value:.4g}" + (f" +/- {spread:.4g}" if spread is not None else "")
            found.append(
                f.Violation(
                    metric_name=name,
                    constraint_check_type=rule.comparison_operator,
                    description=f"Metric {name} with {shown} was {rule.comparison_operator} "
                    f"'{threshold:g}'",
                )
            )
    return found


def from_table(frame: Any, config: ModelQualityConfig) -> Joined:
    """A baseline data set's labels and predictions (the columns the config names)."""
    truth_column = config.ground_truth_attribute
    if not truth_column or truth_column not in frame.columns:
        raise ValidationError(
            f"the baseline has no ground truth column {truth_column!r}; columns are "
            f"{list(frame.columns)[:20]}; pass ground_truth_attribute"
        )
    joined = Joined(truth=[_value(v, config.problem_type) for v in frame[truth_column]])
    if config.probability_attribute and config.problem_type == ProblemType.BINARY:
        joined.probability = [float(v) for v in frame[config.probability_attribute]]
        if not config.inference_attribute:
            threshold = config.probability_threshold_attribute
            joined.predicted = [int(p >= threshold) for p in joined.probability]
    if config.inference_attribute:
        if config.inference_attribute not in frame.columns:
            raise ValidationError(
                f"the baseline has no prediction column {config.inference_attribute!r}"
            )
        joined.predicted = [
            _value(v, config.problem_type) for v in frame[config.inference_attribute]
        ]
    if not joined.predicted:
        raise ValidationError(
            "a model-quality baseline needs inference_attribute (the predicted column) or, "
            "for binary classification, probability_attribute"
        )
    return joined


def dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, default=float)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
