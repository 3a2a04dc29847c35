"""A custom resource's status, from the object it runs as and from slipway's services.

The Kubernetes object says whether the work runs (Job, CronJob, Deployment); the
services say what only slipway knows: a tuning job's best training job, an AutoML job's
best candidate, where a training job put its model, the config an endpoint serves.
"""

from __future__ import annotations

from typing import Any

from slipway.errors import NotFound
from slipway.operator.manifests import endpoint_url, slipway_name
from slipway.operator.schema import status_value
from slipway.operator.standing import endpoint_status


def status_of(kind: str, status: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A Kubernetes object's status in the reference's job and endpoint statuses."""
    if kind == "Job":
        if status.get("succeeded"):
            return {"status": "Completed", "secondaryStatus": "Completed"}
        if status.get("failed"):
            reasons = [
                c.get("message") or c.get("reason")
                for c in status.get("conditions", [])
                if c.get("type") == "Failed"
            ]
            return {
                "status": "Failed",
                "secondaryStatus": "Failed",
                "failureReason": reasons[0] if reasons and reasons[0] else "the pod failed",
            }
        running = "Training" if status.get("active") else "Starting"
        return {"status": "InProgress", "secondaryStatus": running}
    if kind == "CronJob":
        last = status.get("lastSuccessfulTime") or status.get("lastScheduleTime")
        return {"status": "Scheduled", "secondaryStatus": f"last run {last}" if last else "Pending"}
    wanted = spec.get("replicas", 1)
    if status.get("readyReplicas", 0) >= wanted:
        return {"status": "InService", "secondaryStatus": f"{wanted} ready"}
    ready = status.get("readyReplicas", 0)
    return {"status": "Creating", "secondaryStatus": f"{ready}/{wanted} ready"}


def service_status(services: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The status fields slipway's services know of the resource ({} until they do)."""
    name = (body.get("status") or {}).get("slipwayName") or slipway_name(body)
    kind = body["kind"]
    try:
        if kind == "TrainingJob":
            artifacts = services.training.describe_training_job(name).model_artifacts
            found = (artifacts or {}).get("S3ModelArtifacts")
            return {"modelArtifacts": {"s3ModelArtifacts": found}} if found else {}
        if kind == "HyperparameterTuningJob":
            tuning = services.tuning.describe_hyper_parameter_tuning_job(name)
            found = {"trainingJobStatusCounters": status_value(tuning.training_job_status_counters)}
            if tuning.best_training_job is not None:
                found["bestTrainingJob"] = status_value(tuning.best_training_job)
            return found
        if kind == "AutoMLJob":
            best = services.automl.describe_auto_ml_job(name).best_candidate
            return {"bestCandidate": status_value(best)} if best is not None else {}
    except NotFound:  # the job's pod has not recorded it yet
        return {}
    if kind == "HostingDeployment":
        return endpoint_status(services.serving, name)
    return {}


def observed_status(
    body: dict[str, Any], owned: dict[str, Any], known: dict[str, Any]
) -> dict[str, Any]:
    """The status of a resource: its ``owned`` object as read, and what slipway ``known``."""
    status = status_of(owned["kind"], owned.get("status") or {}, owned.get("spec") or {})
    status.update(known)
    if body["kind"] == "HostingDeployment":
        if known.get("endpointStatus") == "Failed":
            status["status"] = "Failed"
        elif status["status"] == "InService":
            # Pods are ready; the endpoint may still be checking a new config.
            status["status"] = known.get("endpointStatus", "Creating")
            status["endpointUrl"] = endpoint_url(body)
    return status
