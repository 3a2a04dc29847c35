"""The HTML report of an execution: violations first, then each feature's baseline and
current distributions side by side, drawn with plotly.js.

The page loads ``plotly.min.js`` from beside itself (the REST route and ``slipway monitor
report --open`` put the copy that ships in the plotly package there; no CDN). Without it
the page still shows every number in its tables.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from slipway.monitor import drift
from slipway.monitor import formats as f
from slipway.monitor.models import CreateMonitoringSchedule

_TOP_CATEGORIES = 20
_env = jinja2.Environment(
    loader=jinja2.PackageLoader("slipway.monitor", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def plotly_js() -> Path:
    """plotly.js as the plotly package ships it."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def render(
    name: str,
    config: CreateMonitoringSchedule,
    start: dt.datetime,
    end: dt.datetime,
    baseline: f.Statistics | None,
    current: f.Statistics,
    violations: list[f.Violation],
    distances: dict[str, float],
    message: str,
) -> str:
    flagged: dict[str, list[f.Violation]] = {}
    for violation in violations:
        flagged.setdefault(violation.feature_name or "", []).append(violation)
    names = [s.name for s in baseline.features] if baseline else []
    names += [s.name for s in current.features if s.name not in names]
    features = []
    for feature in names:
        base = baseline.feature(feature) if baseline else None
        now = current.feature(feature)
        features.append(
            {
                "name": feature,
                "type": (now or base).inferred_type,
                "violations": flagged.get(feature, []),
                "distance": distances.get(feature),
                "rows": _summary(base, now),
                "figure": _js(_figure(feature, base, now, bool(flagged.get(feature)))),
            }
        )
    return _env.get_template("report.html.j2").render(
        title=f"Data quality: {name}",
        execution=name,
        config=config,
        start=start.isoformat(),
        end=end.isoformat(),
        message=message,
        violations=violations,
        item_count=current.dataset.item_count,
        features=features,
        quality=None,
    )


def render_quality(
    name: str,
    config: CreateMonitoringSchedule,
    start: dt.datetime,
    end: dt.datetime,
    statistics: dict[str, Any],
    violations: list[f.Violation],
    message: str,
) -> str:
    section = next((v for k, v in statistics.items() if k.endswith("_metrics")), {})
    rows = [
        (metric, entry.get("value"), entry.get("standard_deviation"))
        for metric, entry in section.items()
        if isinstance(entry, dict) and "value" in entry
    ]
    flagged = {v.metric_name for v in violations}
    figure = {
        "data": [
            {
                "type": "bar",
                "x": [r[0] for r in rows],
                "y": [r[1] for r in rows],
                "marker": {"color": ["#d62728" if r[0] in flagged else "#1f77b4" for r in rows]},
            }
        ],
        "layout": {"title": {"text": "Model quality metrics"}, "height": 360},
    }
    return _env.get_template("report.html.j2").render(
        title=f"Model quality: {name}",
        execution=name,
        config=config,
        start=start.isoformat(),
        end=end.isoformat(),
        message=message,
        violations=violations,
        item_count=statistics.get("dataset", {}).get("item_count", 0),
        features=[],
        quality={"rows": rows, "flagged": flagged, "figure": _js(figure)},
    )


def _summary(
    base: f.FeatureStatistics | None, now: f.FeatureStatistics | None
) -> list[tuple[str, str, str]]:
    def pick(stats: f.FeatureStatistics | None, key: str) -> str:
        if stats is None:
            return "-"
        common = stats.common
        if key in ("num_present", "num_missing"):
            return str(getattr(common, key)) if common else "-"
        numeric = stats.numerical_statistics
        if numeric is not None and hasattr(numeric, key):
            return f"{getattr(numeric, key):.6g}"
        strings = stats.string_statistics
        if strings is not None and key == "distinct_count":
            return f"{strings.distinct_count:g}"
        return "-"

    keys = ["num_present", "num_missing", "mean", "std_dev", "min", "max", "distinct_count"]
    return [(key, pick(base, key), pick(now, key)) for key in keys]


def _figure(
    name: str, base: f.FeatureStatistics | None, now: f.FeatureStatistics | None, flagged: bool
) -> dict[str, Any]:
    traces = []
    numeric = [s for s in (base, now) if s is not None and s.numerical_statistics is not None]
    if base is not None and base.numerical_statistics is not None:
        edges, base_share = _numeric_bins(base)
        traces.append(_bar("baseline", _centres(edges), base_share, "#1f77b4"))
        if now is not None and now.numerical_statistics is not None:
            traces.append(_bar("current", _centres(edges), _share_on(now, edges), _red(flagged)))
    elif numeric:
        edges, share = _numeric_bins(numeric[0])
        traces.append(_bar("current", _centres(edges), share, _red(flagged)))
    else:
        base_freq = _categories(base)
        now_freq = _categories(now)
        keys = sorted(
            base_freq.keys() | now_freq.keys(),
            key=lambda k: -(base_freq.get(k, 0) + now_freq.get(k, 0)),
        )[:_TOP_CATEGORIES]
        if base is not None:
            traces.append(_bar("baseline", keys, [base_freq.get(k, 0) for k in keys], "#1f77b4"))
        traces.append(_bar("current", keys, [now_freq.get(k, 0) for k in keys], _red(flagged)))
    return {
        "data": traces,
        "layout": {
            "title": {"text": name},
            "barmode": "group",
            "height": 300,
            "margin": {"l": 40, "r": 10, "t": 40, "b": 40},
            "yaxis": {"title": {"text": "share of values"}},
        },
    }


def _js(value: Any) -> str:
    """JSON safe inside a <script> element (a feature may be named "</script>")."""
    return json.dumps(value).replace("</", "<\\/")


def _red(flagged: bool) -> str:
    return "#d62728" if flagged else "#ff7f0e"


def _bar(label: str, x: list[Any], y: list[float], color: str) -> dict[str, Any]:
    return {"type": "bar", "name": label, "x": x, "y": y, "marker": {"color": color}}


def _numeric_bins(stats: f.FeatureStatistics) -> tuple[np.ndarray, list[float]]:
    numeric = stats.numerical_statistics
    kll = numeric.distribution.kll if numeric and numeric.distribution else None
    if kll is None or not kll.buckets:
        return np.array([numeric.min, numeric.max]), [1.0]
    edges = np.array([b.lower_bound for b in kll.buckets] + [kll.buckets[-1].upper_bound])
    total = sum(b.count for b in kll.buckets) or 1.0
    return edges, [b.count / total for b in kll.buckets]


def _share_on(stats: f.FeatureStatistics, edges: np.ndarray) -> list[float]:
    numeric = stats.numerical_statistics
    kll = numeric.distribution.kll if numeric and numeric.distribution else None
    if kll is None or not kll.sketch.data:
        return [0.0] * (len(edges) - 1)
    weighted = drift.Weighted.of_levels(kll.sketch.data)
    if weighted.empty:
        return [0.0] * (len(edges) - 1)
    cdf = weighted.cdf(edges)
    cdf[0] = 0.0 if numeric.min >= edges[0] else cdf[0]
    return [float(cdf[i + 1] - cdf[i]) for i in range(len(edges) - 1)]


def _centres(edges: np.ndarray) -> list[float]:
    return [float((edges[i] + edges[i + 1]) / 2) for i in range(len(edges) - 1)]


def _categories(stats: f.FeatureStatistics | None) -> dict[str, float]:
    if stats is None or stats.string_statistics is None:
        return {}
    strings = stats.string_statistics
    distribution = strings.distribution.categorical if strings.distribution else None
    present = strings.common.num_present or 1
    return {b.value: b.count / present for b in (distribution.buckets if distribution else [])}
