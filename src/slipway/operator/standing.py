"""Endpoints and monitoring schedules: records the operator keeps in step with a spec.

A job's pod submits the job itself; an endpoint and a schedule have no run to its end,
so the operator writes them to the store through the serving and monitor services. An
edited HostingDeployment becomes a new endpoint config and an update of the endpoint,
as in the reference (models and configs cannot change, so each version of them gets a
name of its own, derived from its content: applying the same spec twice, or again after
a restart, finds them made already). A schedule takes the changes UpdateMonitoringSchedule
allows and refuses the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

from slipway.errors import AlreadyExists, Conflict, NotFound, ValidationError
from slipway.monitor.models import CreateMonitoringSchedule, UpdateMonitoringSchedule
from slipway.operator.changes import Refused
from slipway.operator.kinds import HostingDeploymentSpec
from slipway.operator.schema import camel
from slipway.serving.models import EndpointStatus


class Busy(Exception):
    """The endpoint is being created or updated; the change waits for it to settle."""


def version_name(name: str, content: Any) -> str:
    """``name-<digest>``: one name per content, within the 63 characters names may have."""
    digest = hashlib.sha1(json.dumps(content, sort_keys=True).encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-')}-{digest}"


def _models(serving: Any, spec: HostingDeploymentSpec) -> dict[str, str]:
    names = {}
    for model in spec.models:
        container = model.primary_container.to_wire()
        names[model.model_name] = version_name(model.model_name, container)
        with contextlib.suppress(AlreadyExists):
            serving.create_model(names[model.model_name], container, spec.tags)
    return names


def _config(serving: Any, spec: HostingDeploymentSpec, models: dict[str, str]) -> str:
    variants = []
    for variant in spec.production_variants:
        if variant.model_name not in models:
            raise ValidationError(
                f"production variant {variant.variant_name!r} serves model "
                f"{variant.model_name!r}, which spec.models does not have (it has "
                f"{', '.join(sorted(models))}); add the model or fix the variant's modelName"
            )
        variants.append({**variant.to_wire(), "ModelName": models[variant.model_name]})
    capture = spec.data_capture_config.to_wire() if spec.data_capture_config else None
    name = version_name(spec.endpoint_name, {"variants": variants, "capture": capture})
    with contextlib.suppress(AlreadyExists):
        serving.create_endpoint_config(name, variants, capture, spec.tags)
    return name


def deploy_endpoint(serving: Any, spec: HostingDeploymentSpec) -> dict[str, Any]:
    """Create the endpoint, or move it to the spec's config; returns the status fields.

    Raises Busy while the endpoint is Creating or Updating: it can take a new config once
    it has settled. A Failed endpoint is created anew, so a fixed spec brings it back.
    """
    models = _models(serving, spec)
    config = _config(serving, spec, models)
    name = spec.endpoint_name
    try:
        endpoint = serving.get_endpoint(name)
    except NotFound:
        endpoint = serving.create_endpoint(name, config, spec.tags)
    else:
        if endpoint.endpoint_config_name != config:
            endpoint = _switch(serving, name, endpoint.endpoint_status, config, spec)
    return {
        "endpointName": name,
        "endpointStatus": str(endpoint.endpoint_status),
        "endpointConfigName": endpoint.endpoint_config_name,
        "modelNames": models,
    }


def _switch(
    serving: Any, name: str, status: EndpointStatus, config: str, spec: HostingDeploymentSpec
) -> Any:
    if status == EndpointStatus.FAILED:
        serving.delete_endpoint(name)
        return serving.create_endpoint(name, config, spec.tags)
    if status != EndpointStatus.IN_SERVICE:
        raise Busy(f"endpoint {name!r} is {status}; it moves to {config!r} once it settles")
    try:
        return serving.update_endpoint(name, config)
    except Conflict as error:  # it left InService since we looked
        raise Busy(error.message) from None


def endpoint_status(serving: Any, name: str) -> dict[str, Any]:
    """The endpoint's status fields as slipway has them ({} while it does not exist)."""
    try:
        endpoint = serving.get_endpoint(name)
    except NotFound:
        return {}
    found = {
        "endpointStatus": str(endpoint.endpoint_status),
        "endpointConfigName": endpoint.endpoint_config_name,
    }
    if endpoint.failure_reason:
        found["failureReason"] = endpoint.failure_reason
    return found


def retire_endpoint(serving: Any, name: str) -> None:
    """Delete the endpoint; its configs and models stay, as records of what was served."""
    with contextlib.suppress(NotFound):
        serving.delete_endpoint(name)


_UPDATABLE = tuple(f.alias or n for n, f in UpdateMonitoringSchedule.model_fields.items())


def apply_schedule(monitor: Any, request: CreateMonitoringSchedule) -> Refused | None:
    """Create the schedule, or apply the changes it allows; any other change is refused."""
    name = request.monitoring_schedule_name
    try:
        current = monitor.describe_monitoring_schedule(name)
    except NotFound:
        monitor.create_monitoring_schedule(request)
        return None
    stored, wanted = current.monitoring_schedule_config.to_wire(), request.to_wire()
    changed = [k for k in sorted(set(stored) | set(wanted)) if stored.get(k) != wanted.get(k)]
    # An update sets fields; it cannot take one away, so a removed field is refused too.
    fixed = [f"spec.{camel(k)}" for k in changed if k not in _UPDATABLE or k not in wanted]
    if fixed:
        allowed = ", ".join(camel(k) for k in _UPDATABLE)
        return Refused(
            tuple(fixed),
            f"schedule {name!r} keeps what it monitors and how; only {allowed} can be "
            "changed (not removed): create a new MonitoringSchedule for the rest",
        )
    if changed:
        update = UpdateMonitoringSchedule.model_validate({k: wanted.get(k) for k in changed})
        monitor.update_monitoring_schedule(name, update)
    return None


def retire_schedule(monitor: Any, name: str) -> None:
    """Delete the schedule; its executions and reports stay for the record."""
    with contextlib.suppress(NotFound):
        monitor.delete_monitoring_schedule(name)
