"""Which spec changes the operator can apply, and how it says so in the status.

A job runs once, as it was submitted (jobs are immutable in the reference), so any
change to a job's spec after its Job exists is refused. The spec a Job was made from
rides on it as an annotation: the check survives operator restarts and does not depend
on kopf's record of the last handled spec, which a refused change also advances.
Endpoints and monitoring schedules keep their slipway name; ``standing`` says which
other changes they take.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from slipway.operator.kinds import kind_of
from slipway.operator.manifests import SPEC_ANNOTATION, slipway_name
from slipway.operator.schema import camel

JOB_KINDS = frozenset({"TrainingJob", "HyperparameterTuningJob", "BatchTransformJob", "AutoMLJob"})
_LISTED = 5  # fields named in a message; the rest are counted


@dataclass(frozen=True)
class Refused:
    """A spec that cannot be applied: the fields at fault, why, and the condition's reason."""

    fields: tuple[str, ...]
    why: str
    reason: str = "ChangeRefused"

    @property
    def message(self) -> str:
        if not self.fields:
            return self.why
        named = ", ".join(self.fields[:_LISTED])
        more = len(self.fields) - _LISTED
        if more > 0:
            named += f" and {more} more"
        return f"{named} cannot change: {self.why}"


def changed_fields(old: Any, new: Any, path: str = "spec") -> list[str]:
    """The paths at which two specs differ, down to the first field that differs."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += changed_fields(old.get(key), new.get(key), f"{path}.{key}")
        return found
    return [] if old == new else [path]


def submitted_spec(job: dict[str, Any] | None) -> dict[str, Any] | None:
    """The spec a Job was made from, or None (no Job yet, or one made without it)."""
    if job is None:
        return None
    text = (job.get("metadata") or {}).get("annotations", {}).get(SPEC_ANNOTATION)
    return json.loads(text) if text else None


def job_change(body: dict[str, Any], job: dict[str, Any] | None) -> Refused | None:
    """A job's spec edited after its Job was created is refused, naming the fields."""
    submitted = submitted_spec(job)
    if body["kind"] not in JOB_KINDS or submitted is None:
        return None
    fields = changed_fields(submitted, body.get("spec", {}))
    if not fields:
        return None
    return Refused(
        tuple(fields),
        f"the {body['kind']} was submitted as {slipway_name(body)!r} and a job runs as it "
        "was submitted; put the spec back, or create a new resource for the new spec",
    )


def name_change(body: dict[str, Any]) -> Refused | None:
    """A resource keeps the slipway name it was first given (its status records it)."""
    known = (body.get("status") or {}).get("slipwayName")
    wanted = slipway_name(body)
    if known is None or known == wanted:
        return None
    return Refused(
        (f"spec.{camel(kind_of(body).name_field)}",),
        f"this {body['kind']} is {known!r} in slipway and cannot become {wanted!r}; "
        "create a new resource for a new name",
    )


def synced(body: dict[str, Any], refused: Refused | None) -> list[dict[str, Any]]:
    """The status conditions: Synced is True once the spec is applied, else False and why."""
    condition = {
        "type": "Synced",
        "status": "True" if refused is None else "False",
        "reason": "Applied" if refused is None else refused.reason,
        "message": "the spec as it is now is applied" if refused is None else refused.message,
    }
    before = [c for c in (body.get("status") or {}).get("conditions", []) if c["type"] == "Synced"]
    if before and before[0]["status"] == condition["status"]:
        moment = before[0].get("lastTransitionTime")
    else:
        moment = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [{**condition, "lastTransitionTime": moment}]
