"""Studio's job pages: every kind of job in one list, and a job's history and logs."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from slipway.errors import SlipwayError
from slipway.jobs.models import JobKind, JobStatus
from slipway.studio.common import PAGE_SIZE, error_page, render, services

router = APIRouter(include_in_schema=False)


@router.get("/jobs")
def jobs(
    request: Request,
    kind: JobKind | None = None,
    status: JobStatus | None = None,
    token: str | None = None,
) -> Response:
    try:
        page = services(request).jobs.list_jobs(
            kind=kind, status=status, max_results=PAGE_SIZE, next_token=token
        )
    except SlipwayError as error:
        return error_page(request, error)
    return render(
        request,
        "jobs.html",
        title="Jobs",
        page=page,
        kind=kind,
        status=status,
        kinds=list(JobKind),
        statuses=list(JobStatus),
    )


@router.get("/jobs/{kind}/{name}")
def job(request: Request, kind: JobKind, name: str) -> Response:
    svc = services(request).jobs
    try:
        entity = svc.get_job(kind, name)
        logs = svc.read_logs(kind, name, limit=10_000)
    except SlipwayError as error:
        return error_page(request, error)
    return render(
        request,
        "job.html",
        title=name,
        job=entity,
        logs=logs,
        spec=json.dumps(entity.spec, indent=2, default=str),
        result=json.dumps(entity.result, indent=2, default=str),
    )
