"""The tuning job request and description, in the reference's names.

Range bounds travel as strings, as in CreateHyperParameterTuningJob; the validators parse
them and refuse a bad range (min above max, log scaling at or below zero, reverse-log
outside [0, 1), Grid over a continuous range...) naming the value, before anything is
created.
"""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator

from slipway.errors import ValidationError
from slipway.experiments.models import WireModel
from slipway.jobs.models import JobStatus
from slipway.names import check_name, entity_name
from slipway.training.models import (
    Channel,
    HyperparameterValue,
    MetricDefinition,
    check_hyperparameters,
)

TUNING_JOB_NAME_LENGTH = 32
MAX_RANGES = 20
MAX_GRID_SIZE = 10_000


def _tuning_job_name(value: str) -> str:
    return check_name("tuning job name", value, TUNING_JOB_NAME_LENGTH)


TuningJobName = entity_name("tuning job name", TUNING_JOB_NAME_LENGTH)


class Strategy(StrEnum):
    BAYESIAN = "Bayesian"
    RANDOM = "Random"
    GRID = "Grid"
    HYPERBAND = "Hyperband"


class ObjectiveType(StrEnum):
    MAXIMIZE = "Maximize"
    MINIMIZE = "Minimize"


class ScalingType(StrEnum):
    AUTO = "Auto"
    LINEAR = "Linear"
    LOGARITHMIC = "Logarithmic"
    REVERSE_LOGARITHMIC = "ReverseLogarithmic"


class EarlyStoppingType(StrEnum):
    OFF = "Off"
    AUTO = "Auto"


class WarmStartType(StrEnum):
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class ObjectiveStatus(StrEnum):
    SUCCEEDED = "Succeeded"
    PENDING = "Pending"
    FAILED = "Failed"


def _choice(enum: type[StrEnum], what: str, value: Any) -> Any:
    """Parse an enum value with an error that lists the choices."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise ValidationError(f"{what} {value!r} is not valid; use one of {choices}") from None


def _number(name: str, bound: str, value: str, kind: type) -> float:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValidationError(
            f"hyperparameter range {name!r}: {bound} {value!r} is not "
            f"{'an integer' if kind is int else 'a number'}"
        ) from None
    if not math.isfinite(number):
        raise ValidationError(f"hyperparameter range {name!r}: {bound} {value!r} is not finite")
    return number


class _NumericRange(WireModel):
    name: Annotated[str, Field(min_length=1, max_length=256)]
    min_value: str
    max_value: str
    scaling_type: ScalingType = ScalingType.AUTO

    _kind: ClassVar[type] = float

    @model_validator(mode="before")
    @classmethod
    def _enums(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("ScalingType", "scaling_type"):
                if data.get(key) is not None:
                    data[key] = _choice(ScalingType, "scaling type", data[key])
            for key in ("MinValue", "min_value", "MaxValue", "max_value"):
                if isinstance(data.get(key), int | float) and not isinstance(data[key], bool):
                    data[key] = str(data[key])
        return data

    @property
    def low(self) -> float:
        return _number(self.name, "MinValue", self.min_value, self._kind)

    @property
    def high(self) -> float:
        return _number(self.name, "MaxValue", self.max_value, self._kind)

    @model_validator(mode="after")
    def _check(self) -> _NumericRange:
        low, high = self.low, self.high
        if low > high:
            raise ValidationError(
                f"hyperparameter range {self.name!r}: MinValue {self.min_value} is greater "
                f"than MaxValue {self.max_value}; swap them"
            )
        if self.scaling_type == ScalingType.LOGARITHMIC and low <= 0:
            raise ValidationError(
                f"hyperparameter range {self.name!r}: Logarithmic scaling needs values above "
                f"0, but MinValue is {self.min_value}; raise it or use Linear scaling"
            )
        return self


class IntegerParameterRange(_NumericRange):
    _kind: ClassVar[type] = int

    @model_validator(mode="after")
    def _integer_scaling(self) -> IntegerParameterRange:
        if self.scaling_type == ScalingType.REVERSE_LOGARITHMIC:
            raise ValidationError(
                f"hyperparameter range {self.name!r}: ReverseLogarithmic scaling is for "
                "continuous ranges only; use Linear or Logarithmic"
            )
        return self


class ContinuousParameterRange(_NumericRange):
    @model_validator(mode="after")
    def _reverse_log(self) -> ContinuousParameterRange:
        if self.scaling_type == ScalingType.REVERSE_LOGARITHMIC and not (
            self.low >= 0 and self.high < 1
        ):
            raise ValidationError(
                f"hyperparameter range {self.name!r}: ReverseLogarithmic scaling needs "
                f"0 <= values < 1, but the range is [{self.min_value}, {self.max_value}]"
            )
        return self


class CategoricalParameterRange(WireModel):
    name: Annotated[str, Field(min_length=1, max_length=256)]
    values: Annotated[list[str], Field(min_length=1, max_length=20)]

    @model_validator(mode="before")
    @classmethod
    def _strings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("Values", "values"):
                if isinstance(data.get(key), list):
                    data[key] = [
                        v if isinstance(v, str) else _categorical_value(data, v) for v in data[key]
                    ]
        return data


def _categorical_value(data: dict[str, Any], value: Any) -> str:
    if isinstance(value, bool | int | float):
        return str(value)
    name = data.get("Name", data.get("name"))
    raise ValidationError(
        f"hyperparameter range {name!r}: categorical value {value!r} is not a string or number"
    )


class ParameterRanges(WireModel):
    integer_parameter_ranges: Annotated[
        list[IntegerParameterRange], Field(max_length=MAX_RANGES)
    ] = []
    continuous_parameter_ranges: Annotated[
        list[ContinuousParameterRange], Field(max_length=MAX_RANGES)
    ] = []
    categorical_parameter_ranges: Annotated[
        list[CategoricalParameterRange], Field(max_length=MAX_RANGES)
    ] = []

    @property
    def names(self) -> list[str]:
        return [
            r.name
            for r in (
                *self.integer_parameter_ranges,
                *self.continuous_parameter_ranges,
                *self.categorical_parameter_ranges,
            )
        ]

    @model_validator(mode="after")
    def _unique(self) -> ParameterRanges:
        names = self.names
        if not names:
            raise ValidationError(
                "a tuning job needs at least one hyperparameter range; pass "
                "hyperparameter_ranges={'name': ContinuousParameter(0.01, 0.1), ...}"
            )
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValidationError(f"hyperparameter ranges name {twice} more than once")
        return self


class Objective(WireModel):
    type: ObjectiveType = ObjectiveType.MAXIMIZE
    metric_name: Annotated[str, Field(min_length=1, max_length=255)]

    @model_validator(mode="before")
    @classmethod
    def _type(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("Type", "type"):
                if data.get(key) is not None:
                    data[key] = _choice(ObjectiveType, "objective type", data[key])
        return data


class ResourceLimits(WireModel):
    max_number_of_training_jobs: int | None = None
    max_parallel_training_jobs: int = 1

    @model_validator(mode="after")
    def _positive(self) -> ResourceLimits:
        for label, value in (
            ("MaxNumberOfTrainingJobs (max_jobs)", self.max_number_of_training_jobs),
            ("MaxParallelTrainingJobs (max_parallel_jobs)", self.max_parallel_training_jobs),
        ):
            if value is not None and not 1 <= value <= 10_000:
                raise ValidationError(f"{label} is {value}; use 1 to 10000")
        return self


class TuningJobConfig(WireModel):
    """HyperParameterTuningJobConfig."""

    strategy: Strategy = Strategy.BAYESIAN
    hyper_parameter_tuning_job_objective: Objective
    resource_limits: ResourceLimits = ResourceLimits()
    parameter_ranges: ParameterRanges
    training_job_early_stopping_type: EarlyStoppingType = EarlyStoppingType.OFF
    random_seed: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _enums(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for keys, enum, what in (
                (("Strategy", "strategy"), Strategy, "strategy"),
                (
                    ("TrainingJobEarlyStoppingType", "training_job_early_stopping_type"),
                    EarlyStoppingType,
                    "early stopping type",
                ),
            ):
                for key in keys:
                    if data.get(key) is not None:
                        data[key] = _choice(enum, what, data[key])
        return data

    @model_validator(mode="after")
    def _grid(self) -> TuningJobConfig:
        if self.strategy != Strategy.GRID:
            return self
        continuous = [r.name for r in self.parameter_ranges.continuous_parameter_ranges]
        if continuous:
            raise ValidationError(
                f"the Grid strategy cannot search continuous ranges {continuous}; use "
                "IntegerParameter or CategoricalParameter, or another strategy"
            )
        if self.grid_size() > MAX_GRID_SIZE:
            raise ValidationError(
                f"the grid has {self.grid_size()} points; at most {MAX_GRID_SIZE} are allowed"
            )
        return self

    def grid_size(self) -> int:
        size = 1
        for r in self.parameter_ranges.integer_parameter_ranges:
            size *= int(r.high - r.low) + 1
            if size > MAX_GRID_SIZE:
                return size
        for c in self.parameter_ranges.categorical_parameter_ranges:
            size *= len(c.values)
        return size

    @property
    def max_jobs(self) -> int:
        """Jobs to run: the grid's size for Grid (at most), else the limit (default 1)."""
        limit = self.resource_limits.max_number_of_training_jobs
        if self.strategy == Strategy.GRID:
            return min(limit or self.grid_size(), self.grid_size())
        return limit or 1


class TrainingJobDefinition(WireModel):
    """What every training job of the tuning job shares (CreateTrainingJob minus its name)."""

    entry_point: Annotated[str, Field(min_length=1, max_length=256)]
    source_uri: str | None = None
    static_hyper_parameters: Annotated[dict[str, HyperparameterValue], Field(max_length=100)] = {}
    metric_definitions: Annotated[list[MetricDefinition], Field(max_length=40)] = []
    input_data_config: dict[str, Channel] = {}
    output_path: str | None = None
    environment: Annotated[dict[str, str], Field(max_length=100)] = {}
    max_run: Annotated[int, Field(ge=1, le=28 * 24 * 3600)] = 24 * 3600

    @model_validator(mode="before")
    @classmethod
    def _scalars(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("StaticHyperParameters", "static_hyper_parameters"):
                if key in data:
                    check_hyperparameters(data[key])
        return data


class ParentTuningJob(WireModel):
    hyper_parameter_tuning_job_name: TuningJobName


class WarmStartConfig(WireModel):
    parent_hyper_parameter_tuning_jobs: Annotated[
        list[ParentTuningJob], Field(min_length=1, max_length=5)
    ]
    warm_start_type: WarmStartType = WarmStartType.IDENTICAL_DATA_AND_ALGORITHM

    @model_validator(mode="before")
    @classmethod
    def _type(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("WarmStartType", "warm_start_type"):
                if data.get(key) is not None:
                    data[key] = _choice(WarmStartType, "warm start type", data[key])
        return data


class CreateTuningJob(WireModel):
    """CreateHyperParameterTuningJob: what `HyperparameterTuner.fit` sends."""

    hyper_parameter_tuning_job_name: TuningJobName
    hyper_parameter_tuning_job_config: TuningJobConfig
    training_job_definition: TrainingJobDefinition
    warm_start_config: WarmStartConfig | None = None
    tags: list[dict[str, str]] = []

    @model_validator(mode="after")
    def _objective_is_defined(self) -> CreateTuningJob:
        metric = self.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective
        defined = [d.name for d in self.training_job_definition.metric_definitions]
        if metric.metric_name not in defined:
            raise ValidationError(
                f"objective metric {metric.metric_name!r} is not among the metric definitions "
                f"{defined}; add {{'Name': {metric.metric_name!r}, 'Regex': ...}} to "
                "metric_definitions"
            )
        return self


# --- the description ---------------------------------------------------------------------


class TrainingJobStatusCounters(WireModel):
    completed: int = 0
    in_progress: int = 0
    retryable_error: int = 0
    non_retryable_error: int = 0
    stopped: int = 0


class ObjectiveStatusCounters(WireModel):
    succeeded: int = 0
    pending: int = 0
    failed: int = 0


class ObjectiveMetric(WireModel):
    """FinalHyperParameterTuningJobObjectiveMetric."""

    type: ObjectiveType | None = None
    metric_name: str
    value: float


class TrainingJobSummary(WireModel):
    """HyperParameterTrainingJobSummary: one training job of a tuning job."""

    training_job_name: str
    training_job_arn: str
    tuning_job_name: str | None = None
    tuned_hyper_parameters: dict[str, str]
    final_hyper_parameter_tuning_job_objective_metric: ObjectiveMetric | None = None
    objective_status: ObjectiveStatus
    training_job_status: JobStatus
    failure_reason: str | None = None
    early_stopped: bool = False
    creation_time: dt.datetime
    training_start_time: dt.datetime | None = None
    training_end_time: dt.datetime | None = None


class TuningJob(WireModel):
    """DescribeHyperParameterTuningJob."""

    hyper_parameter_tuning_job_name: str
    hyper_parameter_tuning_job_arn: str
    hyper_parameter_tuning_job_config: TuningJobConfig
    training_job_definition: TrainingJobDefinition
    warm_start_config: WarmStartConfig | None = None
    hyper_parameter_tuning_job_status: JobStatus
    failure_reason: str | None = None
    creation_time: dt.datetime
    hyper_parameter_tuning_end_time: dt.datetime | None = None
    last_modified_time: dt.datetime
    training_job_status_counters: TrainingJobStatusCounters
    objective_status_counters: ObjectiveStatusCounters
    best_training_job: TrainingJobSummary | None = None
    overall_best_training_job: TrainingJobSummary | None = None
