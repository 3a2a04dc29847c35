"""The AutoML job request, description and candidates, in the reference's names."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, model_validator

from slipway.errors import ValidationError
from slipway.experiments.models import WireModel
from slipway.jobs.models import JobStatus, SecondaryStatus
from slipway.names import entity_name

AUTOML_JOB_NAME_LENGTH = 32
AutoMLJobName = entity_name("AutoML job name", AUTOML_JOB_NAME_LENGTH)


class ObjectiveStatus(StrEnum):
    SUCCEEDED = "Succeeded"
    PENDING = "Pending"
    FAILED = "Failed"


class S3DataSource(WireModel):
    s3_data_type: str = Field(default="S3Prefix", alias="S3DataType")
    s3_uri: Annotated[str, Field(min_length=1, max_length=1024, alias="S3Uri")]


class DataSource(WireModel):
    s3_data_source: S3DataSource = Field(alias="S3DataSource")


class AutoMLChannel(WireModel):
    data_source: DataSource
    compression_type: str = "None"
    target_attribute_name: Annotated[str, Field(min_length=1, max_length=256)]


class CompletionCriteria(WireModel):
    max_candidates: Annotated[int, Field(ge=1, le=750)] = 250
    max_runtime_per_training_job_in_seconds: Annotated[int, Field(ge=1)] = 3600
    max_auto_ml_job_runtime_in_seconds: Annotated[int, Field(ge=1)] = Field(
        default=86400, alias="MaxAutoMLJobRuntimeInSeconds"
    )

    @model_validator(mode="after")
    def _order(self) -> CompletionCriteria:
        if self.max_auto_ml_job_runtime_in_seconds < self.max_runtime_per_training_job_in_seconds:
            raise ValidationError(
                f"MaxAutoMLJobRuntimeInSeconds ({self.max_auto_ml_job_runtime_in_seconds}) is "
                "below MaxRuntimePerTrainingJobInSeconds "
                f"({self.max_runtime_per_training_job_in_seconds}); raise the total or lower "
                "the per-job limit"
            )
        return self


class AutoMLJobConfig(WireModel):
    completion_criteria: CompletionCriteria = CompletionCriteria()


class AutoMLJobObjective(WireModel):
    metric_name: str


class CreateAutoMLJob(WireModel):
    """CreateAutoMLJob: what `AutoML.fit` sends."""

    auto_ml_job_name: AutoMLJobName = Field(alias="AutoMLJobName")
    input_data_config: Annotated[list[AutoMLChannel], Field(min_length=1, max_length=1)]
    output_data_config: dict[str, str] = {}
    problem_type: str | None = None
    auto_ml_job_objective: AutoMLJobObjective | None = Field(
        default=None, alias="AutoMLJobObjective"
    )
    auto_ml_job_config: AutoMLJobConfig = Field(default=AutoMLJobConfig(), alias="AutoMLJobConfig")
    role_arn: str | None = None
    generate_candidate_definitions_only: bool = False
    tags: list[dict[str, str]] = []

    @property
    def channel(self) -> AutoMLChannel:
        return self.input_data_config[0]

    @property
    def criteria(self) -> CompletionCriteria:
        return self.auto_ml_job_config.completion_criteria


class FinalObjectiveMetric(WireModel):
    type: str
    metric_name: str
    value: float


class CandidateStep(WireModel):
    candidate_step_type: str = "AWS::SageMaker::TrainingJob"
    candidate_step_arn: str
    candidate_step_name: str


class InferenceContainer(WireModel):
    image: str = "slipway-automl"
    model_data_url: str
    environment: dict[str, str] = {}


class AutoMLCandidate(WireModel):
    candidate_name: str
    final_auto_ml_job_objective_metric: FinalObjectiveMetric | None = Field(
        default=None, alias="FinalAutoMLJobObjectiveMetric"
    )
    objective_status: ObjectiveStatus
    candidate_steps: list[CandidateStep] = []
    candidate_status: JobStatus
    inference_containers: list[InferenceContainer] = []
    creation_time: dt.datetime
    end_time: dt.datetime | None = None
    last_modified_time: dt.datetime
    failure_reason: str | None = None
    # slipway's own: what the candidate is (algorithm and hyperparameters) and all its scores
    candidate_properties: dict[str, Any] = {}


class AutoMLJobArtifacts(WireModel):
    candidate_definition_notebook_location: str | None = None
    data_exploration_notebook_location: str | None = None


class ResolvedAttributes(WireModel):
    auto_ml_job_objective: AutoMLJobObjective | None = Field(
        default=None, alias="AutoMLJobObjective"
    )
    problem_type: str | None = None
    completion_criteria: CompletionCriteria | None = None
    explanation: dict[str, str] = {}


class AutoMLJob(WireModel):
    """DescribeAutoMLJob."""

    auto_ml_job_name: str = Field(alias="AutoMLJobName")
    auto_ml_job_arn: str = Field(alias="AutoMLJobArn")
    input_data_config: list[AutoMLChannel]
    output_data_config: dict[str, str] = {}
    role_arn: str | None = None
    auto_ml_job_objective: AutoMLJobObjective | None = Field(
        default=None, alias="AutoMLJobObjective"
    )
    problem_type: str | None = None
    auto_ml_job_config: AutoMLJobConfig = Field(alias="AutoMLJobConfig")
    creation_time: dt.datetime
    end_time: dt.datetime | None = None
    last_modified_time: dt.datetime
    failure_reason: str | None = None
    best_candidate: AutoMLCandidate | None = None
    auto_ml_job_status: JobStatus = Field(alias="AutoMLJobStatus")
    auto_ml_job_secondary_status: SecondaryStatus = Field(alias="AutoMLJobSecondaryStatus")
    secondary_status_transitions: list[Any] = []
    generate_candidate_definitions_only: bool = False
    auto_ml_job_artifacts: AutoMLJobArtifacts | None = Field(
        default=None, alias="AutoMLJobArtifacts"
    )
    resolved_attributes: ResolvedAttributes | None = None
    # slipway's own: the data warnings and the registered model package of the best candidate
    warnings: list[str] = []
    model_package_arn: str | None = None
