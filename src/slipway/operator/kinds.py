"""The custom resource kinds: which request model each one's spec is, and its columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field

from slipway.automl.models import CreateAutoMLJob
from slipway.experiments.models import Tag, WireModel
from slipway.monitor.models import CreateMonitoringSchedule
from slipway.serving.models import (
    ContainerDefinition,
    DataCaptureConfig,
    EndpointName,
    ModelName,
    ProductionVariant,
)
from slipway.training.models import CreateTrainingJob
from slipway.transform.models import CreateTransformJob
from slipway.tuning.models import CreateTuningJob

GROUP = "slipway.dev"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"


class HostedModel(WireModel):
    """One model a hosting deployment serves (CreateModel)."""

    model_name: ModelName
    primary_container: ContainerDefinition


class HostingDeploymentSpec(WireModel):
    """An endpoint, its models and config: CreateModel, CreateEndpointConfig, CreateEndpoint."""

    endpoint_name: EndpointName
    models: Annotated[list[HostedModel], Field(min_length=1, max_length=10)]
    production_variants: Annotated[list[ProductionVariant], Field(min_length=1, max_length=10)]
    data_capture_config: DataCaptureConfig | None = None
    tags: list[Tag] = []


@dataclass(frozen=True)
class Kind:
    """A custom resource kind and the slipway request its spec holds."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    request: type[BaseModel]
    name_field: str  # the request's name field, PascalCase; defaulted from the CR
    name_length: int
    prefix: str  # of the Kubernetes objects it owns
    extra_status: tuple[str, ...] = ()

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind(
            "TrainingJob",
            "trainingjobs",
            ("tj",),
            CreateTrainingJob,
            "TrainingJobName",
            63,
            "train",
            ("modelArtifacts",),
        ),
        Kind(
            "HyperparameterTuningJob",
            "hyperparametertuningjobs",
            ("hptj",),
            CreateTuningJob,
            "HyperParameterTuningJobName",
            32,
            "tune",
            ("bestTrainingJob", "trainingJobStatusCounters"),
        ),
        Kind(
            "BatchTransformJob",
            "batchtransformjobs",
            ("btj",),
            CreateTransformJob,
            "TransformJobName",
            63,
            "transform",
        ),
        Kind(
            "HostingDeployment",
            "hostingdeployments",
            ("hd",),
            HostingDeploymentSpec,
            "EndpointName",
            63,
            "endpoint",
            ("endpointUrl", "endpointName", "endpointConfigName", "endpointStatus", "modelNames"),
        ),
        Kind(
            "MonitoringSchedule",
            "monitoringschedules",
            ("ms",),
            CreateMonitoringSchedule,
            "MonitoringScheduleName",
            63,
            "monitor",
        ),
        Kind(
            "AutoMLJob",
            "automljobs",
            ("amlj",),
            CreateAutoMLJob,
            "AutoMLJobName",
            32,
            "automl",
            ("bestCandidate",),
        ),
    )
}


def kind_of(body: dict[str, Any]) -> Kind:
    return KINDS[body["kind"]]
