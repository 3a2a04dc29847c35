"""The training job request and description, in the reference's names."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator

from slipway.errors import ValidationError
from slipway.experiments.models import WireModel
from slipway.jobs.models import JobStatus, SecondaryStatus, StatusTransition
from slipway.names import entity_name

JOB_NAME_LENGTH = 63
TrainingJobName = entity_name("training job name", JOB_NAME_LENGTH)
SOURCE_TYPE = "SageMakerTrainingJob"
_CHANNEL = re.compile(r"[A-Za-z0-9.\-_]{1,64}")
HyperparameterValue = str | int | float | bool


def trial_component_name(job_name: str) -> str:
    """The reference's name of a training job's trial component."""
    return f"{job_name}-aws-training-job"


def source_arn(job_name: str) -> str:
    return f"arn:slipway:training-job/{job_name}"


def _metric_regex(value: str) -> str:
    try:
        compiled = re.compile(value)
    except re.error as error:
        raise ValidationError(f"metric regex {value!r} does not compile: {error}") from None
    if compiled.groups < 1:
        raise ValidationError(
            f"metric regex {value!r} has no capture group; put the number in parentheses, "
            "for example 'loss=([0-9.]+)'"
        )
    return value


def check_hyperparameters(values: Any) -> Any:
    """Hyperparameters are flat: names to strings, numbers or booleans, of bounded size."""
    if isinstance(values, dict):
        for name, value in values.items():
            if not isinstance(value, str | int | float | bool):
                raise ValidationError(
                    f"hyperparameter {name!r} has value {value!r} of type "
                    f"{type(value).__name__}; hyperparameters are strings, numbers or "
                    "booleans"
                )
            if len(str(name)) > 256 or len(str(value)) > 2500:
                raise ValidationError(
                    f"hyperparameter {name!r} is too long: names up to 256 and values "
                    "up to 2500 characters"
                )
    return values


class MetricDefinition(WireModel):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    regex: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_metric_regex)]


class Channel(WireModel):
    """One input channel: a file or a prefix (folder) of files."""

    uri: Annotated[str, Field(min_length=1, max_length=1024)]
    content_type: str | None = None


class ExperimentConfig(WireModel):
    experiment_name: str | None = None
    trial_name: str | None = None
    trial_component_display_name: str | None = None


class CreateTrainingJob(WireModel):
    """What `Estimator.fit` sends: the script, its inputs and its limits."""

    training_job_name: TrainingJobName
    entry_point: Annotated[str, Field(min_length=1, max_length=256)]
    source_uri: str | None = Field(
        default=None, description="Artifact URI of sourcedir.tar.gz (the script's folder)."
    )
    hyperparameters: Annotated[dict[str, HyperparameterValue], Field(max_length=100)] = {}
    metric_definitions: Annotated[list[MetricDefinition], Field(max_length=40)] = []
    input_data_config: dict[str, Channel] = {}
    output_path: str | None = None
    environment: Annotated[dict[str, str], Field(max_length=100)] = {}
    max_run: Annotated[int, Field(ge=1, le=28 * 24 * 3600)] = 24 * 3600
    experiment_config: ExperimentConfig | None = None
    tags: list[dict[str, str]] = []

    @field_validator("hyperparameters", mode="before")
    @classmethod
    def _scalar_hyperparameters(cls, values: Any) -> Any:
        return check_hyperparameters(values)

    @field_validator("input_data_config")
    @classmethod
    def _channel_names(cls, channels: dict[str, Channel]) -> dict[str, Channel]:
        for name in channels:
            if not _CHANNEL.fullmatch(name):
                raise ValidationError(
                    f"channel name {name!r} is not valid: use 1-64 letters, digits, '.', '-' or '_'"
                )
        return channels


class StoppingCondition(WireModel):
    max_runtime_in_seconds: int


class FinalMetric(WireModel):
    metric_name: str
    value: float
    timestamp: dt.datetime


class TrainingJob(WireModel):
    """DescribeTrainingJob, as far as a local platform has it."""

    training_job_name: str
    training_job_status: JobStatus
    secondary_status: SecondaryStatus
    secondary_status_transitions: list[StatusTransition] = []
    failure_reason: str | None = None
    hyper_parameters: dict[str, str] = {}
    entry_point: str
    input_data_config: dict[str, Channel] = {}
    metric_definitions: list[MetricDefinition] = []
    model_artifacts: dict[str, str] | None = None
    output_data_uri: str | None = None
    final_metric_data_list: list[FinalMetric] = []
    creation_time: dt.datetime
    training_start_time: dt.datetime | None = None
    training_end_time: dt.datetime | None = None
    last_modified_time: dt.datetime
    training_time_in_seconds: int | None = None
    stopping_condition: StoppingCondition | None = None
    experiment_config: ExperimentConfig | None = None
    trial_component_name: str
    tuning_job_name: str | None = None
