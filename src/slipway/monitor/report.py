"""The HTML report of an execution: violations first, then each feature's baseline and
current distributions on one chart (drawn by ``distributions``, as Studio's are) with
plotly.js.

The page loads its scripts from beside itself: ``plotly.min.js`` (the copy that ships in
the plotly package; no CDN) and ``report.js``, which draws each chart from the figure in
its ``data-figure`` attribute (the REST routes and ``slipway monitor report`` put both
there). It holds no inline script, and every value in it is escaped: feature names come
from whoever calls an endpoint. Without the scripts it still shows every number in its
tables.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import jinja2

from slipway.monitor import distributions
from slipway.monitor import formats as f
from slipway.monitor.models import CreateMonitoringSchedule

_CHART_HEIGHT = 300
_TEMPLATES = jinja2.PackageLoader("slipway.monitor", "templates")
_env = jinja2.Environment(autoescape=True, loader=_TEMPLATES)


def plotly_js() -> Path:
    """plotly.js as the plotly package ships it."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def scripts() -> dict[str, Path]:
    """The scripts the report loads from beside itself, by file name."""
    return {"plotly.min.js": plotly_js(), "report.js": Path(__file__).with_name("report.js")}


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
    features = []
    for chart in distributions.feature_charts(baseline, current, violations):
        base = baseline.feature(chart.name) if baseline else None
        now = current.feature(chart.name)
        # The studio page sizes its charts with CSS; this page has none for them.
        chart.figure["layout"]["height"] = _CHART_HEIGHT
        features.append(
            {
                "name": chart.name,
                "type": (now or base).inferred_type,
                "violations": chart.violations,
                "distance": distances.get(chart.name),
                "rows": _summary(base, now),
                "figure": chart.figure,
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
                # The figure goes into the page as JSON, which has no NaN (an AUC over
                # one class): a gap in the chart; the table still says nan.
                "y": [None if r[1] is None or math.isnan(r[1]) else r[1] for r in rows],
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
        quality={"rows": rows, "flagged": flagged, "figure": figure},
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
