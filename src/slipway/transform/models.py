"""The transform job request and description, in the reference's names (CreateTransformJob)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema

from slipway.errors import ValidationError
from slipway.experiments.models import WireModel
from slipway.jobs.models import JobStatus, SecondaryStatus, StatusTransition
from slipway.names import entity_name
from slipway.training.models import ExperimentConfig

JOB_NAME_LENGTH = 63
TransformJobName = entity_name("transform job name", JOB_NAME_LENGTH)
JSONPATH_LENGTH = 63


def _jsonpath(value: str) -> str:
    """A filter must parse as JSONPath, within the reference's length limit."""
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.ext import parse

    if len(value) > JSONPATH_LENGTH:
        raise ValidationError(
            f"JSONPath {value!r} is longer than {JSONPATH_LENGTH} characters; shorten it"
        )
    if not value.startswith("$"):
        raise ValidationError(f"JSONPath {value!r} must start with '$', for example '$[1:]'")
    try:
        parse(value)
    except (JsonPathLexerError, JsonPathParserError, Exception) as error:
        raise ValidationError(
            f"JSONPath {value!r} does not parse ({error}); use the supported subset: "
            "$, .name, ['name'], [n], [n,m], [start:end], *"
        ) from None
    return value


JsonPath = Annotated[
    str,
    AfterValidator(_jsonpath),
    WithJsonSchema({"type": "string", "maxLength": JSONPATH_LENGTH, "pattern": r"^\$"}),
]


class BatchStrategy(StrEnum):
    MULTI_RECORD = "MultiRecord"
    SINGLE_RECORD = "SingleRecord"


class SplitType(StrEnum):
    NONE = "None"
    LINE = "Line"


class AssembleWith(StrEnum):
    NONE = "None"
    LINE = "Line"


class JoinSource(StrEnum):
    NONE = "None"
    INPUT = "Input"


class CompressionType(StrEnum):
    NONE = "None"
    GZIP = "Gzip"


class S3DataSource(WireModel):
    s3_data_type: str = "S3Prefix"
    s3_uri: Annotated[str, Field(min_length=1, max_length=1024)]


class DataSource(WireModel):
    s3_data_source: S3DataSource


class TransformInput(WireModel):
    data_source: DataSource
    content_type: str | None = None
    compression_type: CompressionType = CompressionType.NONE
    split_type: SplitType = SplitType.NONE


class TransformOutput(WireModel):
    s3_output_path: str | None = None  # default: the artifact store, under the job's name
    accept: str | None = None
    assemble_with: AssembleWith = AssembleWith.NONE


class TransformResources(WireModel):
    instance_type: str = "local"
    instance_count: Annotated[int, Field(ge=1, le=100)] = 1


class DataProcessing(WireModel):
    input_filter: JsonPath = "$"
    output_filter: JsonPath = "$"
    join_source: JoinSource = JoinSource.NONE


class CreateTransformJob(WireModel):
    """What `Transformer.transform` sends."""

    transform_job_name: TransformJobName
    model_name: Annotated[str, Field(min_length=1, max_length=63)]
    transform_input: TransformInput
    transform_output: TransformOutput = TransformOutput()
    transform_resources: TransformResources = TransformResources()
    max_concurrent_transforms: Annotated[int | None, Field(ge=1, le=256)] = None
    max_payload_in_mb: Annotated[int, Field(ge=0, le=100, alias="MaxPayloadInMB")] = 6
    batch_strategy: BatchStrategy = BatchStrategy.MULTI_RECORD
    environment: Annotated[dict[str, str], Field(max_length=16)] = {}
    data_processing: DataProcessing = DataProcessing()
    experiment_config: ExperimentConfig | None = None
    tags: list[dict[str, str]] = []


class TransformProgress(WireModel):
    """slipway's addition: how far a running job is."""

    files_total: int = 0
    files_completed: int = 0
    records_processed: int = 0


class TransformJob(WireModel):
    """DescribeTransformJob, as far as a local platform has it."""

    transform_job_name: str
    transform_job_arn: str
    transform_job_status: JobStatus
    secondary_status: SecondaryStatus
    secondary_status_transitions: list[StatusTransition] = []
    failure_reason: str | None = None
    model_name: str
    max_concurrent_transforms: int | None = None
    max_payload_in_mb: Annotated[int, Field(alias="MaxPayloadInMB")]
    batch_strategy: BatchStrategy
    environment: dict[str, str] = {}
    transform_input: TransformInput
    transform_output: TransformOutput
    transform_resources: TransformResources
    data_processing: DataProcessing
    creation_time: dt.datetime
    transform_start_time: dt.datetime | None = None
    transform_end_time: dt.datetime | None = None
    last_modified_time: dt.datetime
    experiment_config: ExperimentConfig | None = None
    trial_component_name: str
    progress: TransformProgress = TransformProgress()
    output_files: list[str] = []
