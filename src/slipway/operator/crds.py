"""CustomResourceDefinitions generated from the request models the services use."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from slipway.automl.models import AutoMLCandidate
from slipway.operator.kinds import GROUP, KINDS, VERSION, Kind
from slipway.operator.schema import camel, model_schema, structural
from slipway.tuning.models import TrainingJobStatusCounters, TrainingJobSummary

_QUANTITIES = {"type": "object", "additionalProperties": {"x-kubernetes-int-or-string": True}}
# Fields of the spec that are Kubernetes', not the request's.
POD_FIELDS: dict[str, Any] = {
    "image": {"type": "string", "description": "Container image (default: the operator's)."},
    "resources": {
        "type": "object",
        "description": "Container resource requests and limits, as in a pod.",
        "properties": {"requests": _QUANTITIES, "limits": _QUANTITIES},
    },
}
_STRING = {"type": "string"}


def _answer(model: type[BaseModel], description: str) -> dict[str, Any]:
    """The schema of a status field that holds a service's answer as it gives it."""
    return {**structural(model_schema(model)), "description": description}


_CONDITION = {
    "type": "object",
    "required": ["type", "status"],
    "properties": {
        "type": _STRING,
        "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
        "reason": _STRING,
        "message": _STRING,
        "lastTransitionTime": {"type": "string", "format": "date-time"},
    },
}
_STATUS_FIELDS: dict[str, Any] = {
    "status": _STRING,
    "secondaryStatus": _STRING,
    "failureReason": _STRING,
    "slipwayName": {**_STRING, "description": "The job's or endpoint's name in slipway."},
    "kubernetesObject": {**_STRING, "description": "The Job, CronJob or Deployment run."},
    "lastCheckTime": {"type": "string", "format": "date-time"},
    "modelArtifacts": {
        "type": "object",
        "properties": {"s3ModelArtifacts": _STRING},
    },
    "conditions": {
        "type": "array",
        "description": "Synced: whether the spec as it is now has been applied, and if not why.",
        "items": _CONDITION,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    },
    "endpointUrl": _STRING,
    "endpointName": _STRING,
    "endpointConfigName": {**_STRING, "description": "The config the endpoint serves."},
    "endpointStatus": {**_STRING, "description": "The endpoint's status in slipway."},
    "modelNames": {
        "type": "object",
        "description": "Each spec model's name in slipway (one per version of it).",
        "additionalProperties": _STRING,
    },
    "bestTrainingJob": _answer(TrainingJobSummary, "The tuning job's best training job."),
    "trainingJobStatusCounters": _answer(
        TrainingJobStatusCounters, "The tuning job's training jobs, by status."
    ),
    "bestCandidate": _answer(AutoMLCandidate, "The AutoML job's best candidate so far."),
}
_CORE_STATUS = (
    "status",
    "secondaryStatus",
    "failureReason",
    "slipwayName",
    "kubernetesObject",
    "lastCheckTime",
    "conditions",
)


def _column(name: str, path: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "jsonPath": path, **extra}


# Columns a kind shows when its status has the field; ``priority: 1`` ones need `-o wide`.
_COLUMNS: dict[str, list[dict[str, Any]]] = {
    "endpointUrl": [
        _column("Endpoint-Config", ".status.endpointConfigName"),
        _column("Endpoint-Url", ".status.endpointUrl"),
    ],
    "bestTrainingJob": [
        _column("Best-Training-Job", ".status.bestTrainingJob.trainingJobName"),
        _column(
            "Best-Objective",
            ".status.bestTrainingJob.finalHyperParameterTuningJobObjectiveMetric.value",
            "number",
        ),
    ],
    "bestCandidate": [
        _column("Best-Candidate", ".status.bestCandidate.candidateName"),
        _column(
            "Best-Objective", ".status.bestCandidate.finalAutoMLJobObjectiveMetric.value", "number"
        ),
    ],
    "modelArtifacts": [
        _column("Model-Artifacts", ".status.modelArtifacts.s3ModelArtifacts", priority=1)
    ],
}


def spec_schema(kind: Kind) -> dict[str, Any]:
    """The structural schema of a kind's spec; its name field is optional (from the CR)."""
    schema = structural(model_schema(kind.request))
    schema.pop("description", None)
    required = [r for r in schema.get("required", []) if r != camel(kind.name_field)]
    schema["required"] = required
    if not required:
        del schema["required"]
    schema["properties"].update(POD_FIELDS)
    return schema


def status_schema(kind: Kind) -> dict[str, Any]:
    names = (*_CORE_STATUS, *kind.extra_status)
    props = {name: _STATUS_FIELDS[name] for name in names}
    # kopf keeps its own bookkeeping under status.kopf.
    props["kopf"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"type": "object", "properties": props}


def _columns(kind: Kind) -> list[dict[str, Any]]:
    columns = [
        _column("Status", ".status.status"),
        _column("Secondary-Status", ".status.secondaryStatus"),
        _column("Slipway-Name", ".status.slipwayName"),
        _column("Synced", '.status.conditions[?(@.type=="Synced")].status'),
    ]
    for field in kind.extra_status:
        columns.extend(_COLUMNS.get(field, []))
    columns.append(_column("Age", ".metadata.creationTimestamp", "date"))
    return columns


def crd(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name, "labels": {"app.kubernetes.io/name": "slipway"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": ["slipway"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": _STRING,
                                "kind": _STRING,
                                "metadata": {"type": "object"},
                                "spec": spec_schema(kind),
                                "status": status_schema(kind),
                            },
                        }
                    },
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _columns(kind),
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    return [crd(kind) for kind in KINDS.values()]


def file_name(kind: Kind) -> str:
    """The file a kind's CRD is committed as under deploy/crds/."""
    return f"{GROUP}_{kind.plural}.yaml"


def dump(documents: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, width=100)
