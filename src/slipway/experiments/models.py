"""Pydantic entities of experiment tracking, in the reference shapes.

Fields are snake_case in Python and PascalCase on the wire (``ExperimentName``,
``Metrics[].StdDev``...), so REST bodies match the reference API.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    model_validator,
)
from pydantic.alias_generators import to_pascal

from slipway.errors import ValidationError
from slipway.names import check_key, entity_name, key_name

T = TypeVar("T")
MAX_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z, the last second a datetime holds


class WireModel(BaseModel):
    """Base of every entity: PascalCase aliases, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="forbid", frozen=False
    )

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        # pydantic would read JSON's true and false as 1 and 0 where a number is expected.
        if isinstance(data, dict):
            for key in _number_keys(cls):
                if isinstance(data.get(key), bool):
                    raise ValidationError(f"{key} must be a number, got {str(data[key]).lower()}")
        return data

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


@functools.cache
def _number_keys(model: type[BaseModel]) -> tuple[str, ...]:
    """The keys (aliases and names) of the model's fields that hold a number."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        types = get_args(field.annotation) or (field.annotation,)
        if bool not in types and (int in types or float in types):
            keys += [name, field.alias or name]
    return tuple(keys)


ExperimentName = entity_name("experiment name")
TrialName = entity_name("trial name")
TrialComponentName = entity_name("trial component name")
DisplayName = entity_name("display name")
ParameterName = key_name("parameter name")
MetricName = key_name("metric name", 255)
ArtifactName = key_name("artifact name")


class PrimaryStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class SortOrder(StrEnum):
    ASCENDING = "Ascending"
    DESCENDING = "Descending"


class Tag(WireModel):
    key: Annotated[str, Field(min_length=1, max_length=128)]
    value: Annotated[str, Field(max_length=256)]


class TrialComponentStatus(WireModel):
    primary_status: PrimaryStatus
    message: Annotated[str | None, Field(max_length=1024)] = None


class ParameterValue(WireModel):
    """A parameter: a number or a string, never both."""

    model_config = WireModel.model_config | {
        "json_schema_extra": {
            "oneOf": [
                {"required": ["NumberValue"], "properties": {"NumberValue": {"type": "number"}}},
                {"required": ["StringValue"], "properties": {"StringValue": {"type": "string"}}},
            ]
        }
    }

    # NaN and infinities have no JSON form (they would read back as null).
    number_value: Annotated[float | None, Field(allow_inf_nan=False)] = None
    string_value: Annotated[str | None, Field(max_length=2500)] = None

    @model_validator(mode="after")
    def _one_value(self) -> ParameterValue:
        if (self.number_value is None) == (self.string_value is None):
            raise ValueError("give a parameter either a NumberValue or a StringValue")
        return self

    @classmethod
    def of(cls, value: float | int | str | bool) -> ParameterValue:
        if isinstance(value, bool):  # bool is an int; keep what the user meant
            return cls(string_value=str(value))
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise ValidationError(f"parameter value {value!r} is not a finite number")
            return cls(number_value=float(value))
        if isinstance(value, str):
            return cls(string_value=value)
        raise ValidationError(
            f"parameter value {value!r} is a {type(value).__name__}; use a number or a string"
        )

    @property
    def value(self) -> float | str | None:
        return self.number_value if self.number_value is not None else self.string_value


class Artifact(WireModel):
    value: Annotated[str, Field(max_length=2048)]
    media_type: Annotated[str | None, Field(max_length=64)] = None


class Source(WireModel):
    source_arn: Annotated[str, Field(max_length=256)]
    source_type: Annotated[str | None, Field(max_length=64)] = None


class MetricSummary(WireModel):
    """Summary of one metric over its points.

    NaN, infinities and magnitudes over 1e100 or under 1e-100 are left out (see
    ``metric_store``).
    """

    metric_name: str
    source_arn: str | None = None
    time_stamp: dt.datetime | None = None
    max: float | None = None
    min: float | None = None
    last: float | None = None
    count: int = 0
    avg: float | None = None
    std_dev: float | None = None


class MetricPoint(WireModel):
    """One logged value. ``value`` may be NaN or infinite; on the wire these are strings."""

    metric_name: MetricName
    value: float
    # Bounded so that a stored time stamp reads back as a datetime and a step fits BIGINT.
    timestamp: float = Field(
        ge=0, le=MAX_TIMESTAMP, description="Seconds since the epoch, up to the year 9999."
    )
    iteration_number: Annotated[int | None, Field(ge=-(2**63), le=2**63 - 1)] = None

    @field_serializer("value")
    def _non_finite_as_string(self, value: float) -> float | str:
        # JSON has no NaN or Infinity; pydantic reads these strings back as floats.
        return value if math.isfinite(value) else str(value)


class Parent(WireModel):
    trial_name: str
    experiment_name: str


class Experiment(WireModel):
    experiment_name: str
    display_name: str
    description: str | None = None
    creation_time: dt.datetime
    last_modified_time: dt.datetime
    tags: list[Tag] = []


class Trial(WireModel):
    trial_name: str
    display_name: str
    experiment_name: str
    creation_time: dt.datetime
    last_modified_time: dt.datetime
    tags: list[Tag] = []


class TrialComponent(WireModel):
    trial_component_name: str
    display_name: str
    status: TrialComponentStatus
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    creation_time: dt.datetime
    last_modified_time: dt.datetime
    source: Source | None = None
    parameters: dict[str, ParameterValue] = {}
    input_artifacts: dict[str, Artifact] = {}
    output_artifacts: dict[str, Artifact] = {}
    metrics: list[MetricSummary] = []
    tags: list[Tag] = []
    parents: list[Parent] = []


# Points in one page of a metric's history, by default and at most: MLflow's
# metrics/get-history pages by the same number.
MAX_METRIC_POINTS = 25_000


class Page(WireModel, Generic[T]):
    """One page of a listing; ``next_token`` fetches the following page."""

    items: list[T]
    next_token: str | None = None


# --- normalising what users pass -------------------------------------------------------


def tags_of(tags: Iterable[Tag | dict[str, str]] | None) -> list[Tag]:
    return [tag if isinstance(tag, Tag) else Tag.model_validate(tag) for tag in tags or []]


def status_of(value: TrialComponentStatus | PrimaryStatus | str) -> TrialComponentStatus:
    if isinstance(value, TrialComponentStatus):
        return value
    try:
        return TrialComponentStatus(primary_status=PrimaryStatus(value))
    except ValueError:
        raise ValidationError(
            f"status {value!r} is not valid; use one of "
            + ", ".join(s.value for s in PrimaryStatus)
        ) from None


def parameters_of(values: dict[str, Any] | None) -> dict[str, ParameterValue]:
    result = {}
    for name, value in (values or {}).items():
        check_key("parameter name", name)
        parameter = value if isinstance(value, ParameterValue) else ParameterValue.of(value)
        if parameter.string_value is not None and len(parameter.string_value) > 2500:
            raise ValidationError(f"parameter {name!r} is over 2500 characters long")
        result[name] = parameter
    return result


def artifacts_of(values: dict[str, Artifact | dict[str, Any]] | None) -> dict[str, Artifact]:
    result = {}
    for name, value in (values or {}).items():
        check_key("artifact name", name)
        result[name] = value if isinstance(value, Artifact) else Artifact.model_validate(value)
    return result
