"""The kopf controller: thin handlers around the plain functions that decide.

kopf keeps the finalizer (there is a delete handler), retries failed handlers and
records which ran, so a handler reads what is there, asks the plain functions of
``manifests``, ``changes``, ``standing`` and ``status`` what should be, and writes it.
The cluster is ``memo.cluster``, slipway's services ``memo.services`` and the pod
settings ``memo.config``, all set at start-up.

A spec that cannot be applied (invalid, or a change a job or schedule does not take)
is reported in the Synced condition and raised as kopf's PermanentError, so kopf
records it once and does not retry; an endpoint still settling is a TemporaryError,
retried until it can take the change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import kopf
from pydantic import ValidationError as ModelError

from slipway.errors import ValidationError
from slipway.operator.changes import Refused, job_change, name_change, synced
from slipway.operator.kinds import GROUP, KINDS, VERSION
from slipway.operator.manifests import (
    OWNED,
    OperatorConfig,
    desired_objects,
    object_name,
    request_of,
    slipway_name,
)
from slipway.operator.standing import (
    Busy,
    apply_schedule,
    deploy_endpoint,
    retire_endpoint,
    retire_schedule,
)
from slipway.operator.status import observed_status, service_status

SYNC_SECONDS = 15.0
_MUTABLE = {"Deployment", "Service", "CronJob"}  # a started Job is left as it is


class Cluster(Protocol):
    """The few API calls the handlers make."""

    def apply(self, obj: dict[str, Any]) -> None: ...
    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict | None: ...
    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None: ...


def to_apply(
    desired: list[dict[str, Any]], existing: list[dict[str, Any] | None]
) -> list[dict[str, Any]]:
    """Of the desired objects, those to apply: missing ones, and any but a Job."""
    return [
        obj
        for obj, found in zip(desired, existing, strict=True)
        if found is None or obj["kind"] in _MUTABLE
    ]


@dataclass(frozen=True)
class Plan:
    """What reconciling a resource does: objects to apply and status to set, or a refusal."""

    apply: list[dict[str, Any]] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    refused: Refused | None = None


_INVALID = (ModelError, ValidationError)


def _invalid(error: Exception) -> Plan:
    return Plan(refused=Refused((), str(error), "InvalidSpec"))


def plan(
    body: dict[str, Any],
    desired: list[dict[str, Any]],
    existing: list[dict[str, Any] | None],
    services: Any,
) -> Plan:
    """Decide, from the desired objects and those that exist, what reconciling does.

    An endpoint or a schedule is written to the store here, through the services; an
    endpoint still settling raises kopf's TemporaryError, to be tried again.
    """
    refused = name_change(body) or job_change(body, existing[0])
    if refused is not None:
        return Plan(refused=refused)
    known: dict[str, Any] = {}
    try:
        if body["kind"] == "HostingDeployment":
            known = deploy_endpoint(services.serving, request_of(body))
        elif body["kind"] == "MonitoringSchedule":
            refused = apply_schedule(services.monitor, request_of(body))
    except _INVALID as error:
        return _invalid(error)
    except Busy as busy:
        raise kopf.TemporaryError(str(busy), delay=SYNC_SECONDS) from None
    if refused is not None:
        return Plan(refused=refused)
    status = {
        "slipwayName": slipway_name(body),
        "kubernetesObject": object_name(body),
        "lastCheckTime": _now(),
        "conditions": synced(body, None),
        **known,
    }
    if (body.get("status") or {}).get("status") is None:
        status["status"] = "Creating" if body["kind"] == "HostingDeployment" else "InProgress"
    return Plan(to_apply(desired, existing), status)


def reconcile(body: dict[str, Any], patch: Any, memo: Any, **_: Any) -> None:
    """Create or update what the resource stands for, or say in status why it cannot."""
    namespace = body["metadata"].get("namespace", "default")
    try:
        desired = desired_objects(body, memo.config)
    except _INVALID as error:
        decided = _invalid(error)
    else:
        existing = [
            memo.cluster.get(o["apiVersion"], o["kind"], namespace, o["metadata"]["name"])
            for o in desired
        ]
        decided = plan(body, desired, existing, memo.services)
    if decided.refused is not None:
        patch.status["conditions"] = synced(body, decided.refused)
        raise kopf.PermanentError(decided.refused.message)
    for obj in decided.apply:
        memo.cluster.apply(obj)
    # kopf writes the patch even when a handler fails: status only after the objects.
    patch.status.update(decided.status)


def stop(body: dict[str, Any], memo: Any, **_: Any) -> None:
    """Deleting the resource stops its work: owned objects go (pods get SIGTERM), and an
    endpoint or schedule leaves the store."""
    namespace = body["metadata"].get("namespace", "default")
    for api_version, kind in OWNED[body["kind"]]:
        memo.cluster.delete(api_version, kind, namespace, object_name(body))
    name = (body.get("status") or {}).get("slipwayName")
    if name and body["kind"] == "HostingDeployment":
        retire_endpoint(memo.services.serving, name)
    if name and body["kind"] == "MonitoringSchedule":
        retire_schedule(memo.services.monitor, name)


def sync_status(body: dict[str, Any], patch: Any, memo: Any, **_: Any) -> None:
    """Mirror the owned Job, CronJob or Deployment, and what slipway knows, into status."""
    namespace = body["metadata"].get("namespace", "default")
    for api_version, kind in OWNED[body["kind"]]:
        owned = memo.cluster.get(api_version, kind, namespace, object_name(body))
        if owned is not None:
            break
    else:
        return
    known = service_status(memo.services, body)
    status = observed_status(body, {**owned, "kind": kind}, known)
    current = body.get("status") or {}
    changed = {k: v for k, v in status.items() if current.get(k) != v}
    if current.get("failureReason") and "failureReason" not in status:
        changed["failureReason"] = None  # recovered (a fixed endpoint): a merge patch clears it
    if changed:
        patch.status.update(changed, lastCheckTime=_now())


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def register(registry: kopf.OperatorRegistry | None = None) -> kopf.OperatorRegistry:
    """Bind the handlers to every kind (in a registry of their own when one is given)."""
    registry = registry or kopf.get_default_registry()
    # A registry of one's own has none of kopf's default logins: use the kubernetes
    # client's configuration (in-cluster or KUBECONFIG), as KubeCluster does.
    kopf.on.login(registry=registry)(kopf.login_via_client)
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
    settings: kopf.OperatorSettings,
    memo: Any,
    cluster: Cluster,
    services: Any,
    config: OperatorConfig,
) -> None:
    """Start-up: annotations for kopf's progress; cluster, services, pod settings in memo."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    memo.cluster = cluster
    memo.services = services
    memo.config = config


def run_operator(
    cluster: Cluster,
    services: Any,
    config: OperatorConfig,
    namespaces: list[str],
    stop_flag: threading.Event | None = None,
) -> None:
    """Run the controller until stopped: every namespace, or only those given."""
    registry = register(kopf.OperatorRegistry())
    memo = kopf.Memo()

    @kopf.on.startup(registry=registry)
    def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure(settings, memo, cluster, services, config)

    asyncio.run(
        kopf.operator(
            registry=registry,
            memo=memo,
            namespaces=namespaces or None,
            clusterwide=not namespaces,
            standalone=True,
            stop_flag=stop_flag,
        )
    )
