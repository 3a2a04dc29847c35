"""CustomResourceDefinitions generated from the request models the services use."""

from __future__ import annotations

from typing import Any

import yaml

from slipway.operator.kinds import GROUP, KINDS, VERSION, Kind
from slipway.operator.schema import camel, model_schema, structural

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
    "endpointUrl": _STRING,
    "bestTrainingJob": _STRING,
    "bestCandidate": _STRING,
}
_CORE_STATUS = (
    "status",
    "secondaryStatus",
    "failureReason",
    "slipwayName",
    "kubernetesObject",
    "lastCheckTime",
)


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
        {"name": "Status", "type": "string", "jsonPath": ".status.status"},
        {"name": "Secondary-Status", "type": "string", "jsonPath": ".status.secondaryStatus"},
        {"name": "Slipway-Name", "type": "string", "jsonPath": ".status.slipwayName"},
    ]
    if "endpointUrl" in kind.extra_status:
        columns.append(
            {"name": "Endpoint-Url", "type": "string", "jsonPath": ".status.endpointUrl"}
        )
    columns.append({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
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
