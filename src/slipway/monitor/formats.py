"""The Model Monitor files, field for field: statistics.json, constraints.json and
constraint_violations.json (data quality), plus the model-quality variants.

Names are the reference's snake_case (and its one camelCase key,
``monitoringConfigOverrides``). Constraints are read strictly, so a typo in a file a
user edited is reported with its path instead of being ignored.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from slipway.errors import ValidationError

M = TypeVar("M", bound="BaseModel")
Switch = Literal["Enabled", "Disabled"]
InferredType = Literal["Integral", "Fractional", "String", "Unknown"]
Fraction = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Lenient(BaseModel):
    # Statistics may come from other tools that add their own keys; keep them.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CheckType(StrEnum):
    DATA_TYPE = "data_type_check"
    COMPLETENESS = "completeness_check"
    BASELINE_DRIFT = "baseline_drift_check"
    MISSING_COLUMN = "missing_column_check"
    EXTRA_COLUMN = "extra_column_check"
    CATEGORICAL_VALUES = "categorical_values_check"


# --- statistics.json ----------------------------------------------------------------------


class Common(_Lenient):
    num_present: int
    num_missing: int


class KllBucket(_Lenient):
    lower_bound: float
    upper_bound: float
    count: float


class KllParameters(_Lenient):
    c: float
    k: float


class KllSketch(_Lenient):
    parameters: KllParameters
    data: list[list[float]]


class Kll(_Lenient):
    buckets: list[KllBucket] = []
    sketch: KllSketch


class NumericalDistribution(_Lenient):
    kll: Kll | None = None


class NumericalStatistics(_Lenient):
    common: Common
    mean: float
    sum: float
    std_dev: float
    min: float
    max: float
    distribution: NumericalDistribution | None = None


class CategoricalBucket(_Lenient):
    value: str
    count: float


class Categorical(_Lenient):
    buckets: list[CategoricalBucket] = []


class StringDistribution(_Lenient):
    categorical: Categorical | None = None


class StringStatistics(_Lenient):
    common: Common
    distinct_count: float
    distribution: StringDistribution | None = None


class FeatureStatistics(_Lenient):
    name: str
    inferred_type: InferredType
    numerical_statistics: NumericalStatistics | None = None
    string_statistics: StringStatistics | None = None

    @property
    def common(self) -> Common | None:
        stats = self.numerical_statistics or self.string_statistics
        return stats.common if stats else None


class Dataset(_Lenient):
    item_count: int


class Statistics(_Lenient):
    version: float = 0
    dataset: Dataset
    features: list[FeatureStatistics] = []

    def feature(self, name: str) -> FeatureStatistics | None:
        return next((f for f in self.features if f.name == name), None)


# --- constraints.json ---------------------------------------------------------------------

NumericalDriftMethod = Literal["LInfinity", "PSI", "Wasserstein"]
CategoricalDriftMethod = Literal["LInfinity", "ChiSquared", "PSI"]


class DistributionConstraints(_Strict):
    perform_comparison: Switch = "Enabled"
    comparison_threshold: Annotated[float, Field(ge=0)] = 0.1
    comparison_method: Literal["Simple", "Robust"] = "Robust"
    categorical_comparison_threshold: Annotated[float, Field(ge=0)] | None = None
    categorical_drift_method: CategoricalDriftMethod = "LInfinity"
    # slipway's addition: the numeric distance (the reference always uses LInfinity).
    numerical_drift_method: NumericalDriftMethod = "LInfinity"


class MonitoringConfig(_Strict):
    evaluate_constraints: Switch = "Enabled"
    emit_metrics: Switch = "Enabled"
    datatype_check_threshold: Fraction = 0.1
    domain_content_threshold: Fraction = 0.1
    distribution_constraints: DistributionConstraints = DistributionConstraints()


class ConfigOverrides(_Strict):
    """Per-feature overrides of the monitoring_config values."""

    datatype_check_threshold: Fraction | None = None
    domain_content_threshold: Fraction | None = None
    perform_comparison: Switch | None = None
    comparison_threshold: Annotated[float, Field(ge=0)] | None = None
    comparison_method: Literal["Simple", "Robust"] | None = None
    categorical_comparison_threshold: Annotated[float, Field(ge=0)] | None = None
    categorical_drift_method: CategoricalDriftMethod | None = None
    numerical_drift_method: NumericalDriftMethod | None = None


class NumConstraints(_Strict):
    is_non_negative: bool | None = None


class StringConstraints(_Strict):
    domains: list[str] | None = None


class FeatureConstraints(_Strict):
    name: str
    inferred_type: InferredType
    completeness: Fraction | None = None
    num_constraints: NumConstraints | None = None
    string_constraints: StringConstraints | None = None
    monitoring_config_overrides: ConfigOverrides | None = Field(
        default=None, alias="monitoringConfigOverrides"
    )


class Constraints(_Strict):
    version: float = 0
    features: list[FeatureConstraints]
    monitoring_config: MonitoringConfig = MonitoringConfig()


# --- constraint_violations.json -----------------------------------------------------------


class Violation(_Strict):
    feature_name: str | None = None
    metric_name: str | None = None
    constraint_check_type: str
    description: str


class Violations(_Strict):
    violations: list[Violation] = []


# --- model quality ------------------------------------------------------------------------

ComparisonOperator = Literal[
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
]


class MetricConstraint(_Strict):
    threshold: float
    comparison_operator: ComparisonOperator


class QualityConstraints(_Strict):
    version: float = 0.0
    binary_classification_constraints: dict[str, MetricConstraint] | None = None
    multiclass_classification_constraints: dict[str, MetricConstraint] | None = None
    regression_constraints: dict[str, MetricConstraint] | None = None

    def metrics(self) -> dict[str, MetricConstraint]:
        return (
            self.binary_classification_constraints
            or self.multiclass_classification_constraints
            or self.regression_constraints
            or {}
        )


# --- reading and writing ------------------------------------------------------------------


def dump(document: BaseModel) -> bytes:
    body = document.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(body, indent=2).encode()


def parse(model: type[M], raw: bytes | str | dict[str, Any], where: str) -> M:
    """Read a document, or say exactly which part of it is wrong."""
    try:
        data = json.loads(raw) if isinstance(raw, bytes | str) else raw
    except json.JSONDecodeError as error:
        raise ValidationError(f"{where} is not valid JSON: {error}") from None
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}"
            + (f" (got {e['input']!r})" if e["type"] != "missing" else "")
            for e in error.errors()[:5]
        )
        raise ValidationError(
            f"{where} does not match the {model.__name__} schema: {problems}; fix the file "
            "or create it again with suggest_baseline"
        ) from None
