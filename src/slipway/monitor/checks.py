"""Check a profile of current data against a baseline's constraints and statistics.

The six check types of the reference, each violation naming the feature and the numbers
that broke the rule, plus the per-feature metrics an execution emits
(``feature_baseline_drift_<name>``, ``feature_non_null_<name>``, ``feature_data_<name>``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from slipway.monitor import drift
from slipway.monitor import formats as f
from slipway.monitor._profile import ColumnProfile, DatasetProfile
from slipway.monitor.baseline import kll_of

_Z_99 = 2.326
_COMPATIBLE = {
    "Integral": ("Integral",),
    "Fractional": ("Integral", "Fractional"),
    "String": ("Integral", "Fractional", "String"),
    "Unknown": ("Integral", "Fractional", "String"),
}


@dataclass(frozen=True)
class FeatureMetric:
    """One value for the metrics endpoint, in the reference's metric names."""

    name: str  # feature_baseline_drift | feature_non_null | feature_data
    feature: str
    value: float
    statistic: str = ""  # Average, Min, Max, Sum, SampleCount for feature_data


@dataclass
class Outcome:
    violations: list[f.Violation] = field(default_factory=list)
    metrics: list[FeatureMetric] = field(default_factory=list)
    drift: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Config:
    datatype_threshold: float
    domain_threshold: float
    compare: bool
    threshold: float
    method: str
    categorical_threshold: float
    categorical_method: str
    numerical_method: str

    @classmethod
    def of(cls, config: f.MonitoringConfig, overrides: f.ConfigOverrides | None) -> _Config:
        o = overrides or f.ConfigOverrides()
        d = config.distribution_constraints
        threshold = _first(o.comparison_threshold, d.comparison_threshold)
        return cls(
            datatype_threshold=_first(o.datatype_check_threshold, config.datatype_check_threshold),
            domain_threshold=_first(o.domain_content_threshold, config.domain_content_threshold),
            compare=_first(o.perform_comparison, d.perform_comparison) == "Enabled",
            threshold=threshold,
            method=_first(o.comparison_method, d.comparison_method),
            categorical_threshold=_first(
                o.categorical_comparison_threshold, d.categorical_comparison_threshold, threshold
            ),
            categorical_method=_first(o.categorical_drift_method, d.categorical_drift_method),
            numerical_method=_first(o.numerical_drift_method, d.numerical_drift_method),
        )


def _first(*values):
    return next(v for v in values if v is not None)


def check(
    constraints: f.Constraints, baseline: f.Statistics | None, current: DatasetProfile
) -> Outcome:
    outcome = Outcome()
    evaluate = constraints.monitoring_config.evaluate_constraints == "Enabled"
    expected = {feature.name for feature in constraints.features}
    width = (len(current.columns), len(constraints.features))
    for feature in constraints.features:
        column = current.columns.get(feature.name)
        if column is None:
            outcome.violations.append(_missing(feature.name, *width))
            continue
        config = _Config.of(constraints.monitoring_config, feature.monitoring_config_overrides)
        base = baseline.feature(feature.name) if baseline else None
        found = _check_feature(feature, base, column, current.item_count, config, outcome)
        outcome.violations.extend(found)
    for name in current.columns:
        if name not in expected:
            outcome.violations.append(_extra(name, *width))
    for column in current.columns.values():
        outcome.metrics.extend(_data_metrics(column, current.item_count))
    if not evaluate:
        outcome.violations = []
    return outcome


def _check_feature(
    feature: f.FeatureConstraints,
    base: f.FeatureStatistics | None,
    column: ColumnProfile,
    item_count: int,
    config: _Config,
    outcome: Outcome,
) -> list[f.Violation]:
    found: list[f.Violation] = []
    name = feature.name
    present = column.num_present
    if feature.completeness is not None and item_count:
        observed = present / item_count
        allowance = _sampling_allowance(feature.completeness, item_count)
        if observed < feature.completeness - allowance - 1e-12:
            found.append(
                _violation(
                    name,
                    f.CheckType.COMPLETENESS,
                    f"Completeness of feature '{name}' is {observed:.4f} "
                    f"({column.num_missing} of {item_count} values missing), below the "
                    f"baseline constraint {feature.completeness:.4f} by more than the "
                    f"sampling allowance {allowance:.4f}",
                )
            )
    if present:
        found.extend(_type_checks(feature, column, config))
    if feature.string_constraints and feature.string_constraints.domains is not None:
        found.extend(_domain_check(feature, column, config))
    if config.compare and base is not None and present:
        distance = _drift(base, column, config)
        if distance is not None:
            value, threshold, label, fires = distance
            outcome.drift[name] = value
            outcome.metrics.append(FeatureMetric("feature_baseline_drift", name, value))
            if fires:
                found.append(
                    _violation(
                        name,
                        f.CheckType.BASELINE_DRIFT,
                        f"Baseline drift distance: {value:.4g} exceeds threshold: "
                        f"{threshold:g} for feature '{name}' ({label})",
                    )
                )
    return found


def _sampling_allowance(completeness: float, count: int) -> float:
    """How far below the constraint a window of ``count`` rows may fall by chance alone.

    One-sided binomial bound at 99%: a window drawn from the baseline's population misses
    it 1 time in 100. A constraint of 1.0 (no value may be missing) has no allowance.
    """
    return _Z_99 * math.sqrt(completeness * (1 - completeness) / count)


def _type_checks(
    feature: f.FeatureConstraints, column: ColumnProfile, config: _Config
) -> list[f.Violation]:
    found = []
    name, present = feature.name, column.num_present
    counts = column.type_counts()
    wanted = feature.inferred_type
    matching = sum(counts[kind] for kind in _COMPATIBLE[wanted])
    if 1 - matching / present > config.datatype_threshold:
        others = ", ".join(
            f"{count} {kind}"
            for kind, count in counts.items()
            if count and kind not in _COMPATIBLE[wanted]
        )
        found.append(
            _violation(
                name,
                f.CheckType.DATA_TYPE,
                f"Data type match requirement is not met for feature '{name}'. Expected data "
                f"type: {wanted}, Expected match: {100 * (1 - config.datatype_threshold):.2f}%. "
                f"Observed: Only {100 * matching / present:.2f}% of data is {wanted} "
                f"({others} of {present} values)",
            )
        )
    numbers = feature.num_constraints
    if numbers and numbers.is_non_negative and column.negative and wanted != "String":
        found.append(
            _violation(
                name,
                f.CheckType.DATA_TYPE,
                f"Feature '{name}' must be non-negative (num_constraints.is_non_negative) but "
                f"{column.negative} of {present} values are negative "
                f"(min {column.moments.minimum:g})",
            )
        )
    return found


def _domain_check(
    feature: f.FeatureConstraints, column: ColumnProfile, config: _Config
) -> list[f.Violation]:
    domain = set(feature.string_constraints.domains or [])
    categories, _ = column.categories()
    total = column.frequent.total_weight
    if not total:
        return []
    outside = [(value, count) for value, count in categories if value not in domain]
    inside = sum(count for value, count in categories if value in domain)
    share = (total - inside) / total
    if share <= config.domain_threshold:
        return []
    examples = ", ".join(repr(value) for value, _ in outside[:5])
    return [
        _violation(
            feature.name,
            f.CheckType.CATEGORICAL_VALUES,
            f"{100 * share:.2f}% of the values of feature '{feature.name}' "
            f"({total - inside} of {total}) are outside the baseline domain of "
            f"{len(domain)} values, above the threshold {100 * config.domain_threshold:.2f}%; "
            f"for example {examples}",
        )
    ]


def _drift(
    base: f.FeatureStatistics, column: ColumnProfile, config: _Config
) -> tuple[float, float, str, bool] | None:
    numeric = base.numerical_statistics
    if numeric is not None:
        kll = numeric.distribution.kll if numeric.distribution else None
        if kll is None or column.moments.count == 0:
            return None
        baseline = drift.Weighted.of_levels(kll.sketch.data)
        current = drift.Weighted.of_levels(kll_of(column).sketch.data)
        if baseline.empty or current.empty:
            return None
        n, m = numeric.common.num_present, column.moments.count
        sizes = f"{n} baseline and {m} current values"
        if config.numerical_method == "PSI":
            value = drift.psi_numeric(baseline, current)
            label = f"PSI over baseline deciles, {sizes}"
        elif config.numerical_method == "Wasserstein":
            value = drift.wasserstein(baseline, current, numeric.std_dev)
            label = f"Wasserstein distance in baseline standard deviations, {sizes}"
        else:
            value = drift.linf_numeric(baseline, current)
            if config.method == "Robust":
                value = drift.robust(value, n, m)
            label = f"{config.method} LInfinity between {sizes}"
        return value, config.threshold, label, value > config.threshold
    strings = base.string_statistics
    if strings is None or strings.distribution is None or strings.distribution.categorical is None:
        return None
    buckets = strings.distribution.categorical.buckets
    n = strings.common.num_present
    m = column.frequent.total_weight
    if not buckets or not n or not m:
        return None
    expected = {b.value: b.count / n for b in buckets}
    counts = dict(column.categories()[0])
    observed = {value: count / m for value, count in counts.items()}
    sizes = f"{n} baseline and {m} current values"
    threshold = config.categorical_threshold
    if config.categorical_method == "ChiSquared":
        p_value = drift.chi_squared_p_value(expected, counts)
        return (
            p_value,
            threshold,
            f"ChiSquared p-value below the threshold, {sizes}",
            p_value < threshold,
        )
    if config.categorical_method == "PSI":
        value = drift.psi_categorical(expected, observed)
        return value, threshold, f"PSI over categories, {sizes}", value > threshold
    value = drift.linf_categorical(expected, observed)
    if config.method == "Robust":
        value = drift.robust(value, n, m)
    return (
        value,
        threshold,
        f"{config.method} LInfinity over categories, {sizes}",
        (value > threshold),
    )


def _data_metrics(column: ColumnProfile, item_count: int) -> list[FeatureMetric]:
    name = column.name
    metrics = [
        FeatureMetric(
            "feature_non_null", name, column.num_present / item_count if item_count else 0
        )
    ]
    m = column.moments
    if m.count and column.inferred_type in ("Integral", "Fractional"):
        metrics += [
            FeatureMetric("feature_data", name, m.mean, "Average"),
            FeatureMetric("feature_data", name, m.minimum, "Min"),
            FeatureMetric("feature_data", name, m.maximum, "Max"),
            FeatureMetric("feature_data", name, m.total, "Sum"),
            FeatureMetric("feature_data", name, float(m.count), "SampleCount"),
        ]
    return metrics


def _violation(name: str, kind: f.CheckType, description: str) -> f.Violation:
    return f.Violation(feature_name=name, constraint_check_type=kind.value, description=description)


def _missing(name: str, current: int, baseline: int) -> f.Violation:
    return _violation(
        name,
        f.CheckType.MISSING_COLUMN,
        f"Column '{name}' of the baseline is missing from the current data: "
        f"{current} columns in the current data, {baseline} in the baseline constraints",
    )


def _extra(name: str, current: int, baseline: int) -> f.Violation:
    return _violation(
        name,
        f.CheckType.EXTRA_COLUMN,
        f"Column '{name}' of the current data is not in the baseline constraints: "
        f"{current} columns in the current data, {baseline} in the baseline constraints",
    )
