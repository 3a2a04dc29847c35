"""What the data plane needs to serve an endpoint, as plain frozen dataclasses.

Built once per endpoint version from the snapshot an endpoint keeps of its config and
models, so the per-request path touches no pydantic model and no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slipway.serving.models import (
    CaptureMode,
    ContainerMode,
    EndpointConfig,
    EndpointStatus,
    Model,
)


@dataclass(frozen=True, slots=True)
class VariantSpec:
    variant_name: str
    model_name: str
    multi_model: bool
    model_data_url: str
    environment: tuple[tuple[str, str], ...]
    weight: float
    workers: int | None
    cache_bytes: int | None
    max_models: int | None
    timeout: float | None

    @property
    def env(self) -> dict[str, str]:
        return dict(self.environment)

    def target_uri(self, target_model: str) -> str:
        """``<prefix>/<TargetModel>`` of a multi-model variant."""
        return f"{self.model_data_url.rstrip('/')}/{target_model}"


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    destination: str
    sampling_percentage: int
    capture_input: bool
    capture_output: bool
    csv_types: frozenset[str]
    json_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    name: str
    status: EndpointStatus
    version: int
    variants: tuple[VariantSpec, ...]
    capture: CaptureSpec | None


def snapshot(config: EndpointConfig, models: dict[str, Model]) -> dict[str, Any]:
    """The JSON an endpoint keeps of what it was deployed with."""
    return {
        "EndpointConfig": config.to_wire(),
        "Models": {name: model.to_wire() for name, model in models.items()},
    }


def build(name: str, status: str, version: int, snapshot_json: dict[str, Any]) -> EndpointSpec:
    config = EndpointConfig.model_validate(snapshot_json["EndpointConfig"])
    models = {k: Model.model_validate(v) for k, v in snapshot_json["Models"].items()}
    variants = []
    for variant in config.production_variants:
        container = models[variant.model_name].primary_container
        variants.append(
            VariantSpec(
                variant_name=variant.variant_name,
                model_name=variant.model_name,
                multi_model=container.mode == ContainerMode.MULTI_MODEL,
                model_data_url=container.model_data_url,
                environment=tuple(sorted(container.environment.items())),
                weight=variant.initial_variant_weight,
                workers=variant.model_server_workers,
                cache_bytes=variant.model_cache_bytes,
                max_models=variant.max_models,
                timeout=variant.invocation_timeout_seconds,
            )
        )
    capture = None
    dcc = config.data_capture_config
    if dcc is not None and dcc.enable_capture:
        modes = {option.capture_mode for option in dcc.capture_options}
        header = dcc.capture_content_type_header
        capture = CaptureSpec(
            destination=dcc.destination_s3_uri,
            sampling_percentage=dcc.initial_sampling_percentage,
            capture_input=CaptureMode.INPUT in modes,
            capture_output=CaptureMode.OUTPUT in modes,
            csv_types=frozenset(header.csv_content_types) if header else frozenset(),
            json_types=frozenset(header.json_content_types) if header else frozenset(),
        )
    return EndpointSpec(name, EndpointStatus(status), version, tuple(variants), capture)


def from_deployment(deployment: dict[str, Any]) -> EndpointSpec:
    """The spec of ``get_endpoint_deployment``'s answer (an empty one before first deploy)."""
    name, status = deployment["EndpointName"], deployment["EndpointStatus"]
    version, deployed = deployment["Version"], deployment["DeployedSpec"]
    if deployed is None:
        return EndpointSpec(name, EndpointStatus(status), version, (), None)
    return build(name, status, version, deployed)
