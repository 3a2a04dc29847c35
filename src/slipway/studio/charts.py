"""Plotly figures (plain JSON dicts) of the Studio pages, and LTTB downsampling.

Figures are built as dicts, not with ``plotly.graph_objects``: the page only needs the
JSON that plotly.js reads, and building graph objects costs far more than the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from slipway.experiments.models import MetricPoint

# Over this many points a curve is downsampled before it is sent to the browser.
MAX_POINTS = 2000
CHART_TYPES = ("ConfusionMatrix", "ROCCurve", "PrecisionRecallCurve")


def lttb(points: Sequence[tuple[float, float]], threshold: int) -> list[tuple[float, float]]:
    """Largest-Triangle-Three-Buckets: ``threshold`` points that keep a curve's shape.

    Keeps the first and last point; from each bucket in between it keeps the point that
    makes the largest triangle with the point kept before it and the next bucket's mean.
    """
    if threshold >= len(points) or threshold < 3:
        return list(points)
    kept = [points[0]]
    size = (len(points) - 2) / (threshold - 2)
    previous = points[0]
    for bucket in range(threshold - 2):
        start = int(bucket * size) + 1
        end = int((bucket + 1) * size) + 1
        following = points[end : min(int((bucket + 2) * size) + 1, len(points))] or [points[-1]]
        mean_x = sum(p[0] for p in following) / len(following)
        mean_y = sum(p[1] for p in following) / len(following)
        best = max(
            points[start:end],
            key=lambda p: abs(
                (previous[0] - mean_x) * (p[1] - previous[1])
                - (previous[0] - p[0]) * (mean_y - previous[1])
            ),
        )
        kept.append(best)
        previous = best
    kept.append(points[-1])
    return kept


def _layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}},
        "margin": {"t": 48, "r": 16, "b": 48, "l": 56},
        **extra,
    }


def metric_curves(metric: str, series: dict[str, list[MetricPoint]]) -> dict[str, Any]:
    """One line per component: the metric over steps (over time when it has no steps)."""
    traces = []
    for name, points in series.items():
        xy = [
            (float(p.iteration_number if p.iteration_number is not None else p.timestamp), p.value)
            for p in points
            if math.isfinite(p.value)
        ]
        xy.sort(key=lambda pair: pair[0])
        xy = lttb(xy, MAX_POINTS)
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers" if len(xy) < 50 else "lines",
                "name": name,
                "x": [x for x, _ in xy],
                "y": [y for _, y in xy],
            }
        )
    return {"data": traces, "layout": _layout(metric, "step", metric)}


def parameter_scatter(
    parameter: str, metric: str, points: dict[str, tuple[float | str, float]]
) -> dict[str, Any]:
    """One point per component: a parameter's value against a metric's summary."""
    names = list(points)
    trace = {
        "type": "scatter",
        "mode": "markers",
        "name": metric,
        "x": [points[n][0] for n in names],
        "y": [points[n][1] for n in names],
        "text": names,
        "marker": {"size": 10},
    }
    return {"data": [trace], "layout": _layout(f"{metric} by {parameter}", parameter, metric)}


def from_document(document: dict[str, Any]) -> dict[str, Any] | None:
    """The figure of a chart artifact the tracker logged, or None for other documents."""
    kind = document.get("type")
    title = document.get("title")
    if kind == "ConfusionMatrix":
        labels = [str(label) for label in document["labels"]]
        matrix = document["confusionMatrix"]
        trace = {
            "type": "heatmap",
            "x": labels,
            "y": labels,
            "z": matrix,
            "colorscale": "Blues",
            "reversescale": True,
            "texttemplate": "%{z}",
        }
        layout = _layout(title or "Confusion matrix", "predicted", "actual")
        # Labels such as 0 and 1 are classes, not positions on a number line.
        layout["xaxis"]["type"] = "category"
        layout["yaxis"].update(type="category", autorange="reversed")
        return {"data": [trace], "layout": layout}
    if kind == "ROCCurve":
        curve = {
            "type": "scatter",
            "mode": "lines",
            "name": f"AUC {document['areaUnderCurve']:.3f}",
            "x": document["falsePositiveRate"],
            "y": document["truePositiveRate"],
        }
        chance = {
            "type": "scatter",
            "mode": "lines",
            "name": "chance",
            "x": [0, 1],
            "y": [0, 1],
            "line": {"dash": "dash"},
        }
        layout = _layout(title or "ROC curve", "false positive rate", "true positive rate")
        return {"data": [curve, chance], "layout": layout}
    if kind == "PrecisionRecallCurve":
        curve = {
            "type": "scatter",
            "mode": "lines",
            "name": f"AP {document['averagePrecisionScore']:.3f}",
            "x": document["recall"],
            "y": document["precision"],
        }
        no_skill = document.get("noSkill")
        traces = [curve]
        if no_skill is not None:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": "no skill",
                    "x": [0, 1],
                    "y": [no_skill, no_skill],
                    "line": {"dash": "dash"},
                }
            )
        return {
            "data": traces,
            "layout": _layout(title or "Precision-recall", "recall", "precision"),
        }
    return None
