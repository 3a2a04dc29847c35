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


_STOP = {
    "TrainingJob": ("training", "stop_training_job", "TrainingJobName"),
    "HyperparameterTuningJob": (
        "tuning",
        "stop_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
    ),
    "BatchTransformJob": ("transform", "stop_transform_job", "TransformJobName"),
    "AutoMLJob": ("automl", "stop_auto_ml_job", "AutoMLJobName"),
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
    try:
        return _run(kind, request, svc)
    except Stopped:
        if kind in _STOP:
            service, verb, field = _STOP[kind]
            name = request.model_dump(by_alias=True)[field]
            getattr(getattr(svc, service), verb)(name)
        return "Stopped"


def _run(kind: str, request: Any, svc: Any) -> str:
    if kind == "TrainingJob":
        svc.training.create_training_job(request)
        return svc.training.wait(request.training_job_name).training_job_status
    if kind == "HyperparameterTuningJob":
        svc.tuning.create_hyper_parameter_tuning_job(request)
        done = svc.tuning.wait(request.hyper_parameter_tuning_job_name)
        return done.hyper_parameter_tuning_job_status
    if kind == "BatchTransformJob":
        svc.transform.create_transform_job(request)
        return svc.transform.wait(request.transform_job_name).transform_job_status
    if kind == "AutoMLJob":
        svc.automl.create_auto_ml_job(request)
        return svc.automl.wait(request.auto_ml_job_name).auto_ml_job_status
    return _monitor(svc.monitor, request.monitoring_schedule_name)


def _monitor(monitor: Any, schedule_name: str) -> str:
    """Run this schedule's execution if due (the operator keeps the schedule in the store)."""
    names = monitor.tick(schedule_name=schedule_name)
    for name in names:
        monitor.wait_for_execution(name)
    return f"ran {len(names)} execution(s)"
