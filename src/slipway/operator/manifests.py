"""Reconcile as plain functions: a custom resource in, the Kubernetes objects it needs out.

Every pod runs slipway's image. A job pod runs ``slipway operator execute KIND`` with the
request in ``SLIPWAY_REQUEST``: it records the job in the shared metadata store
(``SLIPWAY_DATABASE_URL``), runs it under the container contract and keeps artifacts in
the shared artifact store (``SLIPWAY_ARTIFACT_URI``, S3 credentials from the store
Secret). An endpoint pod runs ``slipway endpoints serve``: the operator keeps the
endpoint's models, configs and the endpoint itself in the store (see ``standing``), and the
serving pods follow the endpoint's config there.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from slipway import __version__
from slipway.monitor import schedule
from slipway.operator.crds import POD_FIELDS
from slipway.operator.kinds import GROUP, kind_of
from slipway.operator.schema import model_schema, to_wire

SERVING_PORT = 8080  # the container contract's
_WORK = "/opt/ml"
# On a Job: the custom resource's spec it was made from (see ``changes``).
SPEC_ANNOTATION = f"{GROUP}/spec"


@dataclass(frozen=True)
class OperatorConfig:
    """What the operator puts in every pod; from ``SLIPWAY_OPERATOR_*`` variables."""

    image: str = f"slipway:{__version__}"
    store_secret: str = "slipway-store"
    artifact_uri: str | None = None
    service_account: str | None = None

    @classmethod
    def from_env(cls) -> OperatorConfig:
        env = os.environ
        return cls(
            image=env.get("SLIPWAY_OPERATOR_IMAGE", cls.image),
            store_secret=env.get("SLIPWAY_OPERATOR_STORE_SECRET", cls.store_secret),
            artifact_uri=env.get("SLIPWAY_ARTIFACT_URI"),
            service_account=env.get("SLIPWAY_OPERATOR_JOB_SERVICE_ACCOUNT"),
        )


def slipway_name(body: dict[str, Any]) -> str:
    """The job's name in slipway: the spec's, else the CR's name and a piece of its UID."""
    kind = kind_of(body)
    given = to_wire(body.get("spec", {}), model_schema(kind.request)).get(kind.name_field)
    if given:
        return given
    meta = body["metadata"]
    uid = meta["uid"].replace("-", "")[:8]
    return f"{meta['name'][: kind.name_length - 9].rstrip('-.')}-{uid}"


def request_of(body: dict[str, Any]) -> BaseModel:
    """The CR's spec as the service's validated request model."""
    kind = kind_of(body)
    spec = {k: v for k, v in body.get("spec", {}).items() if k not in POD_FIELDS}
    wire = to_wire(spec, model_schema(kind.request))
    wire[kind.name_field] = slipway_name(body)
    return kind.request.model_validate(wire)


def object_name(body: dict[str, Any]) -> str:
    """The owned object's name: a DNS-1035 label of at most 63 characters."""
    name = f"slipway-{kind_of(body).prefix}-{body['metadata']['name']}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-.')}-{digest}"


def _labels(body: dict[str, Any]) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "slipway",
        "app.kubernetes.io/managed-by": "slipway-operator",
        "slipway.dev/kind": body["kind"].lower(),
        "slipway.dev/name": body["metadata"]["name"],
    }


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    owner = {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "name": object_name(body),
        "namespace": meta.get("namespace", "default"),
        "labels": _labels(body),
        "ownerReferences": [owner],
    }


def _env(config: OperatorConfig, extra: dict[str, str]) -> list[dict[str, Any]]:
    values = {"SLIPWAY_HOME": f"{_WORK}/slipway", **extra}
    if config.artifact_uri:
        values["SLIPWAY_ARTIFACT_URI"] = config.artifact_uri
    return [{"name": k, "value": v} for k, v in values.items()]


def _container(
    body: dict[str, Any], config: OperatorConfig, command: list[str], env: dict[str, str]
) -> dict[str, Any]:
    spec = body.get("spec", {})
    container: dict[str, Any] = {
        "name": "slipway",
        "image": spec.get("image") or config.image,
        "command": command,
        "env": _env(config, env),
        # The store's address and S3 credentials: SLIPWAY_DATABASE_URL, AWS_* ... Not
        # optional: without them the pod's work would go to its own throwaway folder.
        "envFrom": [{"secretRef": {"name": config.store_secret}}],
        "volumeMounts": [{"name": "work", "mountPath": _WORK}],
    }
    if spec.get("resources"):
        container["resources"] = spec["resources"]
    return container


def _pod(containers: list[dict[str, Any]], config: OperatorConfig, **extra: Any) -> dict:
    pod: dict[str, Any] = {
        "containers": containers,
        "volumes": [{"name": "work", "emptyDir": {}}],
        **extra,
    }
    if config.service_account:
        pod["serviceAccountName"] = config.service_account
    return pod


def _execute(body: dict[str, Any], config: OperatorConfig, env: dict[str, str]) -> dict:
    request = request_of(body)
    command = ["slipway", "operator", "execute", body["kind"]]
    wire = json.dumps(request.model_dump(mode="json", by_alias=True, exclude_none=True))
    return _container(body, config, command, {"SLIPWAY_REQUEST": wire, **env})


def _job(body: dict[str, Any], config: OperatorConfig, env: dict[str, str], **spec: Any) -> dict:
    template = {
        "metadata": {"labels": _labels(body)},
        "spec": _pod([_execute(body, config, env)], config, restartPolicy="Never"),
    }
    submitted = json.dumps(body.get("spec", {}), sort_keys=True, separators=(",", ":"))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {**_metadata(body), "annotations": {SPEC_ANNOTATION: submitted}},
        "spec": {"backoffLimit": 0, **spec, "template": template},
    }


def training_job(body: dict[str, Any], config: OperatorConfig) -> list[dict[str, Any]]:
    request = request_of(body)
    # The contract's fixed places; the runner inside points them at its job folder.
    contract = {
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": '["algo-1"]',
        "SM_MODEL_DIR": f"{_WORK}/model",
        "SM_OUTPUT_DATA_DIR": f"{_WORK}/output/data",
        "SM_INPUT_DIR": f"{_WORK}/input",
        "SM_INPUT_CONFIG_DIR": f"{_WORK}/input/config",
        "SM_CHANNELS": json.dumps(sorted(request.input_data_config)),
        "SM_USER_ENTRY_POINT": request.entry_point,
    }
    contract.update(
        {f"SM_CHANNEL_{n.upper()}": f"{_WORK}/input/data/{n}" for n in request.input_data_config}
    )
    grace = 300  # time to fetch inputs and pack the model around the script's max_run
    return [_job(body, config, contract, activeDeadlineSeconds=request.max_run + grace)]


def one_job(body: dict[str, Any], config: OperatorConfig) -> list[dict[str, Any]]:
    """Tuning, batch transform and AutoML: one Job running the matching service."""
    return [_job(body, config, {})]


def monitoring_schedule(body: dict[str, Any], config: OperatorConfig) -> list[dict[str, Any]]:
    request = request_of(body)
    parsed = schedule.parse(request.schedule_expression)
    if parsed.once:
        return [_job(body, config, {})]
    job = _job(body, config, {})
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": _metadata(body),
            "spec": {
                "schedule": cron(parsed),
                "timeZone": "Etc/UTC",
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {"metadata": {"labels": _labels(body)}, "spec": job["spec"]},
            },
        }
    ]


def cron(parsed: schedule.Schedule) -> str:
    """The schedule's hours as a five-field Kubernetes cron (minute 0, as the reference)."""
    hours = sorted(parsed.hours)
    return "0 * * * *" if len(hours) == 24 else f"0 {','.join(map(str, hours))} * * *"


def hosting_deployment(body: dict[str, Any], config: OperatorConfig) -> list[dict[str, Any]]:
    request = request_of(body)
    serve = _container(
        body,
        config,
        [
            "slipway",
            "endpoints",
            "serve",
            request.endpoint_name,
            "--host",
            "0.0.0.0",
            "--port",
            str(SERVING_PORT),
        ],
        {},
    )
    serve["ports"] = [{"name": "http", "containerPort": SERVING_PORT}]
    serve["readinessProbe"] = {"httpGet": {"path": "/ping", "port": "http"}}
    replicas = max(v.initial_instance_count for v in request.production_variants)
    labels = _labels(body)
    pod = _pod([serve], config)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(body),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(body),
        "spec": {
            "selector": labels,
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }
    return [deployment, service]


_RECONCILERS = {
    "TrainingJob": training_job,
    "HyperparameterTuningJob": one_job,
    "BatchTransformJob": one_job,
    "AutoMLJob": one_job,
    "MonitoringSchedule": monitoring_schedule,
    "HostingDeployment": hosting_deployment,
}


_JOB = ("batch/v1", "Job")
# What each kind may own, the object its status follows first; read by name, so a
# resource whose spec no longer validates can still be stopped and looked at.
OWNED: dict[str, tuple[tuple[str, str], ...]] = {
    "TrainingJob": (_JOB,),
    "HyperparameterTuningJob": (_JOB,),
    "BatchTransformJob": (_JOB,),
    "AutoMLJob": (_JOB,),
    "MonitoringSchedule": (("batch/v1", "CronJob"), _JOB),
    "HostingDeployment": (("apps/v1", "Deployment"), ("v1", "Service")),
}


def desired_objects(body: dict[str, Any], config: OperatorConfig) -> list[dict[str, Any]]:
    """The Kubernetes objects a custom resource stands for."""
    return _RECONCILERS[body["kind"]](body, config)


def endpoint_url(body: dict[str, Any]) -> str:
    """Where a hosting deployment answers inside the cluster."""
    namespace = body["metadata"].get("namespace", "default")
    return f"http://{object_name(body)}.{namespace}.svc/invocations"
