"""What a pod the operator starts runs: one request, through the services, to its end."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from typing import Any

from slipway.errors import AlreadyExists, NotFound, ValidationError
from slipway.operator.kinds import KINDS


def _request(kind: str) -> Any:
    if kind not in KINDS:
        raise ValidationError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
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
    if kind == "MonitoringSchedule":
        return _monitor(svc.monitor, request)
    return _register_endpoint(svc.serving, request)


def _monitor(monitor: Any, request: Any) -> str:
    """Keep the schedule in the store, then run the executions that are due."""
    with contextlib.suppress(AlreadyExists):
        monitor.create_monitoring_schedule(request)
    names = monitor.tick()
    for name in names:
        monitor.wait_for_execution(name)
    return f"ran {len(names)} execution(s)"


def _register_endpoint(serving: Any, request: Any) -> str:
    """Models, endpoint config and endpoint in the store, created once, then reused."""
    for model in request.models:
        with contextlib.suppress(AlreadyExists):
            serving.create_model(model.model_name, model.primary_container, [])
    config_name = request.endpoint_name
    with contextlib.suppress(AlreadyExists):
        serving.create_endpoint_config(
            config_name, request.production_variants, request.data_capture_config, request.tags
        )
    try:
        serving.get_endpoint(request.endpoint_name)
    except NotFound:
        serving.create_endpoint(request.endpoint_name, config_name, request.tags)
    return "registered"
