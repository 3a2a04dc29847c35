"""REST routes of tuning jobs under ``/api/v1/tuning-jobs``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from slipway.auth.guard import request_services
from slipway.jobs.models import JobStatus
from slipway.server.openapi import BINARY_BODY
from slipway.tuning.models import CreateTuningJob, TuningJob, TuningJobName
from slipway.tuning.service import TuningService
from slipway.wire import PageToken

router = APIRouter(prefix="/api/v1/tuning-jobs", tags=["tuning"])


def service(request: Request) -> TuningService:
    return request_services(request).tuning


Service = Annotated[TuningService, Depends(service)]


@router.post("", status_code=201, response_model_exclude_none=True)
def create_tuning_job(body: CreateTuningJob, svc: Service) -> TuningJob:
    return svc.create_hyper_parameter_tuning_job(body)


@router.get("")
def list_tuning_jobs(
    svc: Service,
    status: JobStatus | None = None,
    name_contains: str | None = None,
    max_results: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: PageToken | None = None,
) -> dict[str, Any]:
    page = svc.list_hyper_parameter_tuning_jobs(
        status=status, name_contains=name_contains, max_results=max_results, next_token=next_token
    )
    return page.to_wire()


@router.get("/{name}", response_model_exclude_none=True)
def describe_tuning_job(name: TuningJobName, svc: Service) -> TuningJob:
    return svc.describe_hyper_parameter_tuning_job(name)


@router.get("/{name}/training-jobs")
def list_training_jobs(
    name: TuningJobName, svc: Service, status: JobStatus | None = None
) -> dict[str, Any]:
    summaries = svc.list_training_jobs_for_hyper_parameter_tuning_job(name, status)
    return {"TrainingJobSummaries": [s.to_wire() for s in summaries]}


@router.post("/{name}/stop", response_model_exclude_none=True)
def stop_tuning_job(name: TuningJobName, svc: Service) -> TuningJob:
    return svc.stop_hyper_parameter_tuning_job(name)


@router.put("/{name}/source", openapi_extra=BINARY_BODY)
async def upload_source(name: TuningJobName, request: Request, svc: Service) -> dict[str, str]:
    """Receive the packed source folder (sourcedir.tar.gz) before the tuning job is created."""
    chunks = [chunk async for chunk in request.stream()]
    uri = await run_in_threadpool(svc.upload_source, name, chunks)
    return {"Uri": uri}
