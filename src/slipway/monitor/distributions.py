"""Per-feature baseline-vs-current distribution charts (plotly figures) of a monitoring
execution: the one rule for the execution's HTML report and Studio's execution page.

Both sides of a numeric feature are re-binned onto one set of edges spanning both
ranges, from each side's KLL sketch (the sketch levels of a statistics.json are enough
to rebuild its CDF), so a shifted feature shows where its values went even beyond the
baseline's range. String features compare relative frequencies of the categorical
buckets. Every figure has two traces, baseline then current, in that order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slipway.monitor import drift
from slipway.monitor import formats as f

BINS = 20
# A page draws at most this many charts (plotly.js takes ~10 ms each); violations first.
MAX_CHARTS = 60
TOP_CATEGORIES = 20
OTHER = "(other)"
BASELINE_COLOUR = "#1f77b4"
CURRENT_COLOUR = "#ff7f0e"
FLAGGED_COLOUR = "#d62728"


@dataclass
class FeatureChart:
    """One feature's figure and what the execution found wrong with it."""

    name: str
    inferred_type: str
    figure: dict[str, Any]
    violations: list[f.Violation] = field(default_factory=list)


def feature_charts(
    baseline: f.Statistics | None, current: f.Statistics, violations: list[f.Violation]
) -> list[FeatureChart]:
    """A chart per feature of either side: baseline features first, then new ones."""
    flagged: dict[str, list[f.Violation]] = {}
    for violation in violations:
        flagged.setdefault(violation.feature_name or "", []).append(violation)
    names = [s.name for s in baseline.features] if baseline else []
    names += [s.name for s in current.features if s.name not in names]
    charts = []
    for name in names:
        base = baseline.feature(name) if baseline else None
        now = current.feature(name)
        found = flagged.get(name, [])
        kind = (base or now).inferred_type  # type: ignore[union-attr]
        charts.append(FeatureChart(name, kind, _figure(name, base, now, bool(found)), found))
    return charts


def shown(charts: list[FeatureChart], limit: int = MAX_CHARTS) -> tuple[list[FeatureChart], int]:
    """The charts to draw, in their order: every flagged one, then others up to the limit;
    and how many were left out."""
    room = max(0, limit - sum(1 for c in charts if c.violations))
    kept = []
    for chart in charts:
        if chart.violations:
            kept.append(chart)
        elif room > 0:
            kept.append(chart)
            room -= 1
    return kept, len(charts) - len(kept)


def _figure(
    name: str, base: f.FeatureStatistics | None, now: f.FeatureStatistics | None, flagged: bool
) -> dict[str, Any]:
    # The baseline's kind decides the chart; a side of another kind (a type violation)
    # shows as an empty trace rather than a misleading one.
    reference = base if base is not None else now
    if reference is not None and reference.numerical_statistics is not None:
        integral = reference.inferred_type == "Integral"
        traces, barmode = _numeric(base, now, integral), "overlay"
        xaxis = {"title": {"text": name}}
    else:
        traces, barmode = _categorical(base, now), "group"
        xaxis = {"title": {"text": name}, "type": "category"}
    traces[1]["marker"]["color"] = FLAGGED_COLOUR if flagged else CURRENT_COLOUR
    layout = {
        "title": {"text": name},
        "barmode": barmode,
        "xaxis": xaxis,
        "yaxis": {"title": {"text": "share of values"}, "tickformat": ".0%"},
        "margin": {"t": 40, "r": 16, "b": 48, "l": 56},
        "legend": {"orientation": "h", "y": -0.25},
    }
    return {"data": traces, "layout": layout}


def _numeric(
    base: f.FeatureStatistics | None, now: f.FeatureStatistics | None, integral: bool
) -> list[dict[str, Any]]:
    sides = [_weighted(base), _weighted(now)]
    bounds = [
        (s.numerical_statistics.min, s.numerical_statistics.max)
        for s, w in zip((base, now), sides, strict=True)
        if s is not None and s.numerical_statistics is not None and w is not None
    ]
    if not bounds:
        return [_bar("baseline", [], [], None), _bar("current", [], [], None)]
    edges = _edges(min(b[0] for b in bounds), max(b[1] for b in bounds), integral)
    centres = ((edges[:-1] + edges[1:]) / 2).tolist()
    width = float(edges[1] - edges[0])
    traces = []
    for label, weighted in zip(("baseline", "current"), sides, strict=True):
        if weighted is None:
            traces.append(_bar(label, [], [], width))
            continue
        cdf = weighted.cdf(edges)
        cdf[0] = 0.0  # the lowest edge may be the smallest value: it belongs to the first bin
        trace = _bar(label, centres, np.diff(cdf).tolist(), width)
        trace["opacity"] = 0.6
        trace["customdata"] = np.column_stack([edges[:-1], edges[1:]]).tolist()
        trace["hovertemplate"] = "[%{customdata[0]:.4g}, %{customdata[1]:.4g}]: %{y:.1%}"
        traces.append(trace)
    return traces


def _edges(low: float, high: float, integral: bool) -> np.ndarray:
    """At most BINS equal bins from low to high; whole numbers of integers for Integral."""
    if integral:
        # Edges halfway between integers: a bin never holds 3 integers while its neighbour
        # holds 4, which would draw a comb out of a flat distribution.
        width = max(1, math.ceil((high - low + 1) / BINS))
        count = math.ceil((high - low + 1) / width)
        return low - 0.5 + width * np.arange(count + 1)
    if high <= low:
        return np.array([low - 0.5, low + 0.5])
    return np.linspace(low, high, BINS + 1)


def _weighted(stats: f.FeatureStatistics | None) -> drift.Weighted | None:
    numeric = stats.numerical_statistics if stats is not None else None
    kll = numeric.distribution.kll if numeric and numeric.distribution else None
    if kll is None:
        return None
    weighted = drift.Weighted.of_levels(kll.sketch.data)
    return None if weighted.empty else weighted


def _categorical(
    base: f.FeatureStatistics | None, now: f.FeatureStatistics | None
) -> list[dict[str, Any]]:
    shares = [_shares(base), _shares(now)]
    ranked = sorted(
        shares[0].keys() | shares[1].keys(),
        key=lambda k: (-(shares[0].get(k, 0.0) + shares[1].get(k, 0.0)), k),
    )
    shown, rest = ranked[:TOP_CATEGORIES], ranked[TOP_CATEGORIES:]
    traces = []
    for label, side in zip(("baseline", "current"), shares, strict=True):
        y = [side.get(k, 0.0) for k in shown]
        x = list(shown)
        if rest:
            x.append(OTHER)
            y.append(sum(side.get(k, 0.0) for k in rest))
        traces.append(_bar(label, x, y, None))
    return traces


def _shares(stats: f.FeatureStatistics | None) -> dict[str, float]:
    strings = stats.string_statistics if stats is not None else None
    if strings is None or strings.distribution is None or strings.distribution.categorical is None:
        return {}
    present = strings.common.num_present or 1
    return {b.value: b.count / present for b in strings.distribution.categorical.buckets}


def _bar(label: str, x: list[Any], y: list[float], width: float | None) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "bar",
        "name": label,
        "x": x,
        "y": y,
        "marker": {"color": BASELINE_COLOUR if label == "baseline" else CURRENT_COLOUR},
    }
    if width is not None:
        trace["width"] = width
    return trace
