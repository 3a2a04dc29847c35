"""Plotly figures (plain JSON dicts) of the Studio pages, and LTTB downsampling.

Figures are built as dicts, not with ``plotly.graph_objects``: the page only needs the
JSON that plotly.js reads, and building graph objects costs far more than the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# Over this many points a curve is downsampled before it is sent to the browser.
MAX_POINTS = 2000
CHART_TYPES = ("ConfusionMatrix", "ROCCurve", "PrecisionRecallCurve")


def lttb(points: Sequence[tuple[float, float]], threshold: int) -> list[tuple[float, float]]:
    """Largest-Triangle-Three-Buckets: ``threshold`` points that keep a curve's shape."""
    if threshold >= len(points) or threshold < 3:
        return list(points)
    xy = np.asarray(points, dtype=float)
    kept = _lttb_indices(xy[:, 0], xy[:, 1], threshold)
    return list(zip(xy[kept, 0].tolist(), xy[kept, 1].tolist(), strict=True))


def _lttb_indices(x: np.ndarray, y: np.ndarray, threshold: int) -> np.ndarray:
    """The positions LTTB keeps, for ``3 <= threshold < len(x)``.

    Keeps the first and last point; from each bucket in between it keeps the point that
    makes the largest triangle with the point kept before it and the next bucket's mean.
    Only the choice inside a bucket depends on the previous one, so the bucket means are
    computed at once and the loop does one vector operation per bucket.
    """
    n = len(x)
    size = (n - 2) / (threshold - 2)
    # Bucket b spans edges[b]:edges[b + 1]; the last "next bucket" is the last point.
    edges = np.minimum((np.arange(threshold) * size).astype(np.int64) + 1, n)
    sum_x = np.concatenate(([0.0], np.cumsum(x)))
    sum_y = np.concatenate(([0.0], np.cumsum(y)))
    starts, ends = edges[1:-1], edges[2:]
    mean_x = (sum_x[ends] - sum_x[starts]) / (ends - starts)
    mean_y = (sum_y[ends] - sum_y[starts]) / (ends - starts)
    kept = np.empty(threshold, dtype=np.int64)
    kept[0], kept[-1] = 0, n - 1
    previous = 0
    for bucket in range(threshold - 2):
        start, end = edges[bucket], edges[bucket + 1]
        px, py = x[previous], y[previous]
        area = np.abs(
            (px - mean_x[bucket]) * (y[start:end] - py)
            - (px - x[start:end]) * (mean_y[bucket] - py)
        )
        previous = start + int(area.argmax())
        kept[bucket + 1] = previous
    return kept


def _layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}},
        "margin": {"t": 48, "r": 16, "b": 48, "l": 56},
        **extra,
    }


def metric_curves(
    metric: str, curves: dict[str, tuple[Sequence[float], Sequence[float]]]
) -> dict[str, Any]:
    """One line per component: the metric over steps (over time when it has no steps).

    ``curves`` maps each component to its x and y values (``get_metric_curve``).
    """
    traces = []
    for name, (xs, ys) in curves.items():
        x = np.asarray(xs, dtype=float)
        y = np.asarray(ys, dtype=float)
        finite = np.isfinite(y)
        x, y = x[finite], y[finite]
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        if len(x) > MAX_POINTS:
            kept = _lttb_indices(x, y, MAX_POINTS)
            x, y = x[kept], y[kept]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers" if len(x) < 50 else "lines",
                "name": name,
                "x": x.tolist(),
                "y": y.tolist(),
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


def parallel_coordinates(
    metric: str, axes: dict[str, list[float]], metric_values: list[float]
) -> dict[str, Any]:
    """One line per component across its parameters' axes, ending at the metric's axis."""
    dimensions = [{"label": name, "values": values} for name, values in axes.items()]
    dimensions.append({"label": metric, "values": metric_values})
    trace = {
        "type": "parcoords",
        "line": {"color": metric_values, "colorscale": "Viridis", "showscale": True},
        "dimensions": dimensions,
    }
    layout = {
        "title": {"text": f"{metric} across parameters"},
        "margin": {"t": 80, "l": 64, "r": 96},
    }
    return {"data": [trace], "layout": layout}


def histogram(column: str, values: np.ndarray, bins: int = 30) -> dict[str, Any]:
    """Counts of a numeric column's finite values in equal-width bins, as bars."""
    finite = values[np.isfinite(values)]
    counts, edges = np.histogram(finite, bins=max(1, min(bins, len(np.unique(finite)))))
    trace = {
        "type": "bar",
        "name": column,
        "x": ((edges[:-1] + edges[1:]) / 2).tolist(),
        "y": counts.tolist(),
        "width": np.diff(edges).tolist(),
    }
    layout = _layout(column, column, "rows", bargap=0.02)
    return {"data": [trace], "layout": layout}


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
