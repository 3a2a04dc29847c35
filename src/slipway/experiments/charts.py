"""The JSON documents behind the tracker's charts (tables, confusion matrix, ROC, PR).

Each is ``{"type": ..., "version": 0, "title": ..., ...}`` as the reference SDK writes
them, so a chart can be drawn from the artifact alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from slipway.errors import ValidationError


def _plain(values: Any) -> list:
    return np.asarray(values).tolist()


def table(title: str | None, values: dict[str, Sequence] | None, data_frame: Any) -> dict:
    if (values is None) == (data_frame is None):
        raise ValidationError("log_table needs exactly one of values= or data_frame=")
    if values is None:
        values = {str(column): data_frame[column].tolist() for column in data_frame.columns}
    lengths = {len(column) for column in values.values()}
    if len(lengths) > 1:
        raise ValidationError(
            f"log_table columns have different lengths {sorted(lengths)}; they must match"
        )
    fields = [{"name": name, "type": _field_type(column)} for name, column in values.items()]
    return {
        "type": "Table",
        "version": 0,
        "title": title,
        "fields": fields,
        "data": {name: _plain(column) for name, column in values.items()},
    }


def _field_type(column: Sequence) -> str:
    kind = np.asarray(column).dtype.kind
    return {"i": "number", "u": "number", "f": "number", "b": "boolean"}.get(kind, "string")


def confusion_matrix(y_true: Sequence, y_pred: Sequence, title: str | None) -> dict:
    labels = sorted(set(_plain(y_true)) | set(_plain(y_pred)), key=str)
    matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "type": "ConfusionMatrix",
        "version": 0,
        "title": title,
        "labels": labels,
        "confusionMatrix": matrix.tolist(),
    }


def roc_curve(y_true: Sequence, y_score: Sequence, title: str | None) -> dict:
    fpr, tpr, thresholds = skm.roc_curve(y_true, y_score)
    return {
        "type": "ROCCurve",
        "version": 0,
        "title": title,
        "falsePositiveRate": fpr.tolist(),
        "truePositiveRate": tpr.tolist(),
        "thresholds": [float(x) if np.isfinite(x) else None for x in thresholds],
        "areaUnderCurve": float(skm.auc(fpr, tpr)),
    }


def precision_recall(
    y_true: Sequence, y_score: Sequence, positive_label: Any, title: str | None
) -> dict:
    precision, recall, _ = skm.precision_recall_curve(y_true, y_score, pos_label=positive_label)
    truth = np.asarray(y_true)
    positive = positive_label if positive_label is not None else 1
    return {
        "type": "PrecisionRecallCurve",
        "version": 0,
        "title": title,
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "averagePrecisionScore": float(
            skm.average_precision_score(y_true, y_score, pos_label=positive)
        ),
        # The precision of always answering "positive": the curve's baseline.
        "noSkill": float(np.mean(truth == positive)),
    }
