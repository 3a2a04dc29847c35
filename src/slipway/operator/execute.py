"""What a pod the operator starts runs: one request, through the services, to its end."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

from slipway.errors import ValidationError
from slipway.operator.kinds import KINDS

# An endpoint has no run to its end: the operator keeps it in the store, its pods serve it.
_RUN = tuple(k for k in KINDS if k != "HostingDeployment")


def _request(kind: str) -> Any:
    if kind not in _RUN:
        raise ValidationError(f"kind {kind!r} is not one of {', '.join(_RUN)}")
    wire = os.environ.get("SLIPWAY_REQUEST")
    if not wire:
        raise ValidationError("SLIPWAY_REQUEST is not set; the operator sets it to the request")
    return KINDS[kind].request.model_validate(json.loads(wire))


class Stopped(Exception):
    """The pod was told to stop (its custom resource was deleted)."""


def _stop_on_sigterm(*_: Any) -> None:
    raise Stopped


# Each kind that runs to its end as a slipway job: its service and the verb that creates it.
_JOBS = {
    "TrainingJob": ("training", "create_training_job"),
    "HyperparameterTuningJob": ("tuning", "create_hyper_parameter_tuning_job"),
    "BatchTransformJob": ("transform", "create_transform_job"),
    "AutoMLJob": ("automl", "create_auto_ml_job"),
}


def execute(kind: str) -> str:
    """Run the request in SLIPWAY_REQUEST; returns the final status.

    Kubernetes stops a pod with SIGTERM: the job is then stopped in slipway too, so its
    record says Stopped rather than staying InProgress.
    """
    from slipway.platform import services

    request = _request(kind)
    svc = services()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if kind not in _JOBS:
        try:
            return _monitor(svc.monitor, request.monitoring_schedule_name)
        except Stopped:
            return "Stopped"
    capability, create = _JOBS[kind]
    service = getattr(svc, capability)
    name = request.model_dump(by_alias=True)[KINDS[kind].name_field]
    try:
        getattr(service, create)(request)
        return service.lifecycle.wait(name).status
    except Stopped:
        service.lifecycle.stop(name)
        return "Stopped"


def _monitor(monitor: Any, schedule_name: str) -> str:
    """Run this schedule's execution if due (the operator keeps the schedule in the store)."""
    names = monitor.tick(schedule_name=schedule_name)
    for name in names:
        monitor.wait_for_execution(name)
    return f"ran {len(names)} execution(s)"
