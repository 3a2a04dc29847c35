"""REST routes over jobs of every kind under ``/api/v1/jobs`` (what `slipway jobs` uses)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from slipway.auth.guard import request_services
from slipway.jobs.models import Job, JobKind, JobStatus
from slipway.jobs.service import JobService
from slipway.names import entity_name
from slipway.wire import PageToken

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


def service(request: Request) -> JobService:
    return request_services(request).jobs


Service = Annotated[JobService, Depends(service)]
JobName = entity_name("job name")
# A name alone may be ambiguous: jobs of different kinds can share it.
_AMBIGUOUS = {409: {"description": "Jobs of several kinds have this name; pass kind."}}


@router.get("")
def list_jobs(
    svc: Service,
    kind: JobKind | None = None,
    status: JobStatus | None = None,
    name_contains: str | None = None,
    max_results: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: PageToken | None = None,
) -> dict[str, Any]:
    page = svc.list_jobs(
        kind=kind,
        status=status,
        name_contains=name_contains,
        max_results=max_results,
        next_token=next_token,
    )
    return page.to_wire()


@router.get("/{name}", response_model_exclude_none=True, responses=_AMBIGUOUS)
def get_job(name: JobName, svc: Service, kind: JobKind | None = None) -> Job:
    return svc.find_job(name, kind)


@router.get("/{name}/logs", responses=_AMBIGUOUS)
def read_logs(
    name: JobName,
    svc: Service,
    kind: JobKind | None = None,
    after_line: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # a BIGINT
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    job = svc.find_job(name, kind)
    lines = svc.read_logs(job.job_kind, name, after_line, limit)
    return {"Lines": [line.to_wire() for line in lines]}


@router.post("/{name}/stop", response_model_exclude_none=True)
def stop_job(name: JobName, svc: Service, kind: JobKind | None = None) -> Job:
    job = svc.find_job(name, kind)
    return svc.request_stop(job.job_kind, name)
