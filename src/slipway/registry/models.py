"""Pydantic entities and requests of the model registry, in the reference's names.

A model package group holds the versions (model packages) of one model; each version has
its model data, how to serve it, its metrics, an approval status with a history of who
changed it and when, and, when it came from a training job, its lineage.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import BeforeValidator, Field

from slipway.errors import ValidationError, describe_problems
from slipway.experiments.models import Artifact, Tag, WireModel
from slipway.names import MAX_NAME_LENGTH, NAME_PATTERN, check_name, entity_name, free_text
from slipway.serving.models import EndpointName, InstanceCount, InvocationTimeout, ServerWorkers
from slipway.wire import Time

T = TypeVar("T", bound=pydantic.BaseModel)
GROUP_NAME_LENGTH = 63
TEXT_LENGTH = 1024
MAX_VERSION = 2**31 - 1  # the INTEGER column's range
ARN_PREFIX = "arn:slipway:model-package/"
GROUP_ARN_PREFIX = "arn:slipway:model-package-group/"
# The user a remote client runs as. A server records it only when it has no tokens (and so
# trusts every caller anyway); with tokens, the token's name says who did something.
USER_HEADER = "X-Slipway-User"
_MEDIA_TYPE = r"^[-\w.+]+/[-\w.+*]+$"
_ARN = re.compile(rf"{re.escape(ARN_PREFIX)}(?P<group>{NAME_PATTERN})/(?P<version>[0-9]+)")


class ModelApprovalStatus(StrEnum):
    PENDING_MANUAL_APPROVAL = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class ModelPackageStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    DELETING = "Deleting"


class ModelPackageGroupStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    DELETING = "Deleting"
    DELETE_FAILED = "DeleteFailed"


def check_group_name(value: object) -> str:
    return check_name("model package group name", value, GROUP_NAME_LENGTH)


def check_job_name(value: object) -> str:
    return check_name("training job name", value, MAX_NAME_LENGTH)


def approval_status_of(value: object) -> ModelApprovalStatus:
    """The status a user named, or a ValidationError naming what they wrote."""
    try:
        return ModelApprovalStatus(value)
    except ValueError:
        raise ValidationError(
            f"approval status {value!r} is not valid; use one of "
            + ", ".join(s.value for s in ModelApprovalStatus)
        ) from None


def check_version(value: object) -> int:
    """A version number as users write it (``3`` or ``"3"``), or an error naming it."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VERSION:
        raise ValidationError(
            f"model package version {value!r} is not valid; versions are whole numbers from 1"
        )
    return value


def package_arn(group: str, version: int) -> str:
    return f"{ARN_PREFIX}{group}/{version}"


def group_arn(group: str) -> str:
    return f"{GROUP_ARN_PREFIX}{group}"


def parse_package_arn(arn: str) -> tuple[str, int]:
    """``arn:slipway:model-package/<group>/<version>`` -> (group, version)."""
    found = _ARN.fullmatch(arn)
    if found is None:
        raise ValidationError(
            f"model package ARN {arn!r} is not valid; expected {ARN_PREFIX}<group>/<version>"
        )
    return found["group"], int(found["version"])


GroupName = entity_name("model package group name", GROUP_NAME_LENGTH)
TrainingJobName = entity_name("training job name", MAX_NAME_LENGTH)
ApprovalStatus = Annotated[ModelApprovalStatus, BeforeValidator(approval_status_of)]


Description = free_text("description", TEXT_LENGTH)
ApprovalDescription = free_text("approval description", TEXT_LENGTH)
Framework = Annotated[
    str,
    Field(
        max_length=64,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$",
        description="The flavour the model was saved in: sklearn, xgboost, lightgbm, onnx...",
    ),
]
FrameworkVersion = Annotated[str, Field(max_length=64)]
EntryPoint = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        description="The script in the model's code/ folder with model_fn/input_fn/"
        "predict_fn/output_fn handlers (SAGEMAKER_PROGRAM).",
    ),
]
Environment = Annotated[
    dict[Annotated[str, Field(max_length=1024)], free_text("environment value", TEXT_LENGTH)],
    Field(max_length=100),
]
MediaTypes = Annotated[
    list[Annotated[str, Field(max_length=256, pattern=_MEDIA_TYPE)]], Field(max_length=10)
]
ResponseTypes = Annotated[MediaTypes, Field(alias="SupportedResponseMIMETypes")]


# --- what a version holds ---------------------------------------------------------------


class ModelPackageContainer(WireModel):
    """Where the model is and how to serve it: a flavour (Framework) or an entry point."""

    model_data_url: Annotated[str, Field(min_length=1, max_length=1024)]
    framework: Framework | None = None
    framework_version: FrameworkVersion | None = None
    entry_point: EntryPoint | None = None
    environment: Environment = {}


class InferenceSpecification(WireModel):
    containers: Annotated[list[ModelPackageContainer], Field(min_length=1, max_length=15)]
    supported_content_types: MediaTypes = []
    supported_response_mime_types: ResponseTypes = []


class ModelMetric(WireModel):
    metric_name: Annotated[str, Field(min_length=1, max_length=255)]
    value: Annotated[float, Field(allow_inf_nan=False)]
    timestamp: Time | None = None


class ModelMetrics(WireModel):
    """Named values that describe the model's quality (a training job's final metrics)."""

    metrics: Annotated[list[ModelMetric], Field(max_length=100)] = []


class MetadataProperties(WireModel):
    commit_id: Annotated[str | None, Field(max_length=1024)] = None
    repository: Annotated[str | None, Field(max_length=1024)] = None
    generated_by: Annotated[str | None, Field(max_length=1024)] = None
    project_id: Annotated[str | None, Field(max_length=1024)] = None


class ModelLineage(WireModel):
    """Where a version came from: the training job, its trial component and its data."""

    training_job_name: str
    training_job_arn: str
    trial_component_name: str
    input_artifacts: dict[str, Artifact] = {}


class ApprovalChange(WireModel):
    """One change of a version's approval status: to what, why, by whom and when."""

    model_approval_status: ModelApprovalStatus
    approval_description: str | None = None
    changed_by: str
    change_time: dt.datetime


class ModelPackageGroup(WireModel):
    model_package_group_name: str
    model_package_group_arn: str
    model_package_group_description: str | None = None
    model_package_group_status: ModelPackageGroupStatus
    creation_time: dt.datetime
    created_by: str
    tags: list[Tag] = []


class ModelPackage(WireModel):
    """DescribeModelPackage of one version, with its approval history and lineage."""

    model_package_name: str
    model_package_group_name: str
    model_package_version: int
    model_package_arn: str
    model_package_description: str | None = None
    model_package_status: ModelPackageStatus
    model_approval_status: ModelApprovalStatus
    approval_description: str | None = None
    inference_specification: InferenceSpecification
    model_metrics: ModelMetrics = ModelMetrics()
    metadata_properties: MetadataProperties | None = None
    lineage: ModelLineage | None = None
    creation_time: dt.datetime
    created_by: str
    last_modified_time: dt.datetime
    last_modified_by: str
    approval_history: list[ApprovalChange] = []
    tags: list[Tag] = []


# --- requests ---------------------------------------------------------------------------

_Tags = Annotated[list[Tag], Field(max_length=50)]


class CreateModelPackageGroup(WireModel):
    model_package_group_name: GroupName
    model_package_group_description: Description | None = None
    tags: _Tags = []


class CreateModelPackage(WireModel):
    """Register a version of a model whose data is already stored somewhere."""

    model_package_group_name: GroupName
    model_package_description: Description | None = None
    inference_specification: InferenceSpecification
    model_approval_status: ApprovalStatus = ModelApprovalStatus.PENDING_MANUAL_APPROVAL
    model_metrics: ModelMetrics = ModelMetrics()
    metadata_properties: MetadataProperties | None = None
    tags: _Tags = []


class CreateModelPackageFromTrainingJob(WireModel):
    """Register the model a Completed training job produced, with its lineage and metrics."""

    training_job_name: TrainingJobName
    model_package_group_name: GroupName
    model_package_description: Description | None = None
    framework: Framework | None = None
    framework_version: FrameworkVersion | None = None
    entry_point: EntryPoint | None = None
    environment: Environment = {}
    supported_content_types: MediaTypes = []
    supported_response_mime_types: ResponseTypes = []
    model_approval_status: ApprovalStatus = ModelApprovalStatus.PENDING_MANUAL_APPROVAL
    metadata_properties: MetadataProperties | None = None
    tags: _Tags = []


class UpdateModelPackage(WireModel):
    model_approval_status: ApprovalStatus
    approval_description: ApprovalDescription | None = None


class DeployModelPackage(WireModel):
    """Serve a version on a new endpoint, with these settings of its production variant."""

    endpoint_name: EndpointName
    initial_instance_count: InstanceCount = 1
    model_server_workers: ServerWorkers | None = None
    invocation_timeout_seconds: InvocationTimeout | None = None


def build(cls: type[T], **values: Any) -> T:
    """Validate a request built from keyword arguments, raising slipway's own error.

    The SDK builds requests this way, so bad input raises the same ValidationError in
    embedded mode as the server's 422 does in remote mode.
    """
    try:
        return cls.model_validate(values)
    except pydantic.ValidationError as error:
        raise ValidationError(describe_problems(error.errors())) from None
