"""Pydantic entities of hosting, in the reference shapes: Model, EndpointConfig, Endpoint.

PascalCase on the wire (``ModelName``, ``PrimaryContainer.ModelDataUrl``,
``ProductionVariants[].VariantName``, ``DataCaptureConfig.CaptureOptions``...), as in
CreateModel / CreateEndpointConfig / DescribeEndpoint. slipway's additions to a
production variant, all optional:

- ``ModelServerWorkers``: worker processes when the endpoint is served alone
  (``slipway endpoints serve``; the reference's ``SAGEMAKER_MODEL_SERVER_WORKERS``).
  On the shared ``slipway server`` the server's own ``--workers`` serve every endpoint.
- ``ModelCacheBytes`` / ``MaxModels``: the memory budget and model count of a
  multi-model variant's cache, per serving instance (split evenly among its workers).
- ``InvocationTimeoutSeconds``: how long one prediction may run.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from slipway.experiments.models import Page, SortOrder, Tag, WireModel
from slipway.names import entity_name

__all__ = [
    "CaptureContentTypeHeader",
    "CaptureMode",
    "CaptureOption",
    "CaptureStatus",
    "ContainerDefinition",
    "ContainerMode",
    "DataCaptureConfig",
    "DataCaptureConfigSummary",
    "Endpoint",
    "EndpointConfig",
    "EndpointStatus",
    "Model",
    "Page",
    "ProductionVariant",
    "ProductionVariantSummary",
    "SortOrder",
    "Tag",
]

MAX_ENDPOINT_NAME = 63  # the reference's limit: endpoint names are in runtime URLs


ModelName = entity_name("model name", MAX_ENDPOINT_NAME)
EndpointConfigName = entity_name("endpoint config name", MAX_ENDPOINT_NAME)
EndpointName = entity_name("endpoint name", MAX_ENDPOINT_NAME)
VariantName = entity_name("variant name", MAX_ENDPOINT_NAME)
InstanceCount = Annotated[int, Field(ge=1, le=100)]
ServerWorkers = Annotated[int, Field(ge=1, le=64)]
InvocationTimeout = Annotated[float, Field(gt=0, le=3600)]


class ContainerMode(StrEnum):
    SINGLE_MODEL = "SingleModel"
    MULTI_MODEL = "MultiModel"


class ContainerDefinition(WireModel):
    """Where the model is: one ``model.tar.gz`` (or folder), or a prefix of many."""

    model_data_url: Annotated[str, Field(min_length=1, max_length=1024)]
    mode: ContainerMode = ContainerMode.SINGLE_MODEL
    image: Annotated[str | None, Field(max_length=255)] = None
    environment: Annotated[dict[str, Annotated[str, Field(max_length=1024)]], Field()] = {}

    @model_validator(mode="after")
    def _bounded_environment(self) -> ContainerDefinition:
        if len(self.environment) > 100:
            raise ValueError("Environment has more than 100 entries")
        return self


class Model(WireModel):
    model_name: str
    primary_container: ContainerDefinition
    creation_time: dt.datetime
    tags: list[Tag] = []


class ProductionVariant(WireModel):
    variant_name: VariantName = "AllTraffic"
    model_name: ModelName
    initial_instance_count: InstanceCount = 1
    initial_variant_weight: Annotated[float, Field(ge=0)] = 1.0
    model_server_workers: ServerWorkers | None = None
    model_cache_bytes: Annotated[int | None, Field(ge=1024 * 1024)] = None
    max_models: Annotated[int | None, Field(ge=1)] = None
    invocation_timeout_seconds: InvocationTimeout | None = None


class CaptureMode(StrEnum):
    INPUT = "Input"
    OUTPUT = "Output"


class CaptureOption(WireModel):
    capture_mode: CaptureMode


_ContentTypes = Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=10)]


class CaptureContentTypeHeader(WireModel):
    csv_content_types: _ContentTypes = []
    json_content_types: _ContentTypes = []


class DataCaptureConfig(WireModel):
    enable_capture: bool = True
    initial_sampling_percentage: Annotated[int, Field(ge=0, le=100)]
    destination_s3_uri: Annotated[str, Field(min_length=1, max_length=512)]
    capture_options: Annotated[list[CaptureOption], Field(min_length=1, max_length=32)]
    capture_content_type_header: CaptureContentTypeHeader | None = None
    kms_key_id: Annotated[str | None, Field(max_length=2048)] = None


class EndpointConfig(WireModel):
    endpoint_config_name: str
    production_variants: list[ProductionVariant]
    data_capture_config: DataCaptureConfig | None = None
    creation_time: dt.datetime
    tags: list[Tag] = []


class EndpointStatus(StrEnum):
    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    FAILED = "Failed"
    DELETING = "Deleting"


class CaptureStatus(StrEnum):
    STARTED = "Started"
    STOPPED = "Stopped"


class ProductionVariantSummary(WireModel):
    variant_name: str
    current_weight: float
    desired_weight: float
    current_instance_count: int
    desired_instance_count: int


class DataCaptureConfigSummary(WireModel):
    enable_capture: bool
    capture_status: CaptureStatus
    current_sampling_percentage: int
    destination_s3_uri: str
    kms_key_id: str | None = None


class Endpoint(WireModel):
    endpoint_name: str
    endpoint_config_name: str
    endpoint_status: EndpointStatus
    failure_reason: str | None = None
    production_variants: list[ProductionVariantSummary] = []
    data_capture_config: DataCaptureConfigSummary | None = None
    creation_time: dt.datetime
    last_modified_time: dt.datetime
    tags: list[Tag] = []
