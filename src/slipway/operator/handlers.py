"""The kopf controller: plain handler functions around the reconcile functions.

kopf keeps the finalizer (there is a delete handler), retries failed handlers and
records which ran, so a handler only says what the cluster should hold. The cluster is
reached through ``memo.cluster`` and the pod settings come from ``memo.config``, both
set at start-up, so tests call the handlers with their own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import kopf

from slipway.operator.kinds import GROUP, KINDS, VERSION
from slipway.operator.manifests import (
    OperatorConfig,
    desired_objects,
    endpoint_url,
    object_name,
    request_of,
    slipway_name,
)

SYNC_SECONDS = 15.0
_MUTABLE = {"Deployment", "Service", "CronJob"}  # a started Job is left as it is


class Cluster(Protocol):
    """The few API calls the handlers make."""

    def apply(self, obj: dict[str, Any]) -> None: ...
    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict | None: ...
    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None: ...


def reconcile(body: dict[str, Any], patch: Any, memo: Any, **_: Any) -> None:
    """Create or update what the resource stands for; Jobs once, the rest every time."""
    namespace = body["metadata"].get("namespace", "default")
    for obj in desired_objects(body, memo.config):
        name = obj["metadata"]["name"]
        exists = memo.cluster.get(obj["apiVersion"], obj["kind"], namespace, name)
        if exists is None or obj["kind"] in _MUTABLE:
            memo.cluster.apply(obj)
    patch.status.update(
        slipwayName=slipway_name(body),
        kubernetesObject=object_name(body),
        lastCheckTime=_now(),
    )
    if body.get("status", {}).get("status") is None:
        patch.status["status"] = "InProgress" if body["kind"] != "HostingDeployment" else "Creating"


def stop(body: dict[str, Any], memo: Any, **_: Any) -> None:
    """Deleting the resource stops its work: the owned objects go, pods get SIGTERM."""
    namespace = body["metadata"].get("namespace", "default")
    for obj in desired_objects(body, memo.config):
        memo.cluster.delete(obj["apiVersion"], obj["kind"], namespace, obj["metadata"]["name"])


def sync_status(body: dict[str, Any], patch: Any, memo: Any, **_: Any) -> None:
    """Mirror the owned Job, CronJob or Deployment into the resource's status."""
    namespace = body["metadata"].get("namespace", "default")
    owned = desired_objects(body, memo.config)[0]
    found = memo.cluster.get(
        owned["apiVersion"], owned["kind"], namespace, owned["metadata"]["name"]
    )
    if found is None:
        return
    status = status_of(owned["kind"], found.get("status") or {}, found.get("spec") or {})
    if body["kind"] == "HostingDeployment" and status["status"] == "InService":
        status["endpointUrl"] = endpoint_url(body)
    if body["kind"] == "TrainingJob" and status["status"] == "Completed":
        model = _model_uri(body, memo.config)
        if model:
            status["modelArtifacts"] = {"s3ModelArtifacts": model}
    current = body.get("status") or {}
    changed = {k: v for k, v in status.items() if current.get(k) != v}
    if changed:
        patch.status.update(changed, lastCheckTime=_now())


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


def _model_uri(body: dict[str, Any], config: OperatorConfig) -> str | None:
    """Where the training service packs model.tar.gz (its output path, else the store's)."""
    request = request_of(body)
    store = f"{config.artifact_uri.rstrip('/')}/training-jobs" if config.artifact_uri else None
    base = request.output_path or store
    if not base:
        return None
    return f"{base.rstrip('/')}/{request.training_job_name}/output/model.tar.gz"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def register(registry: kopf.OperatorRegistry | None = None) -> kopf.OperatorRegistry:
    """Bind the handlers to every kind (in a registry of their own when one is given)."""
    registry = registry or kopf.get_default_registry()
    for kind in KINDS.values():
        where = dict(group=GROUP, version=VERSION, plural=kind.plural)
        kopf.on.create(**where, registry=registry, id="reconcile")(reconcile)
        kopf.on.update(**where, registry=registry, id="reconcile", field="spec")(reconcile)
        kopf.on.resume(**where, registry=registry, id="resume")(reconcile)
        kopf.on.delete(**where, registry=registry, id="stop")(stop)
        kopf.timer(
            **where, registry=registry, id="status", interval=SYNC_SECONDS, initial_delay=1.0
        )(sync_status)
    return registry


def configure(
    settings: kopf.OperatorSettings, memo: Any, cluster: Cluster, config: OperatorConfig
) -> None:
    """Start-up: annotations for kopf's progress, the cluster and pod settings in memo."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    memo.cluster = cluster
    memo.config = config
