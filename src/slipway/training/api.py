"""REST routes of training jobs under ``/api/v1/training-jobs``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from slipway.auth.guard import request_services
from slipway.jobs.models import JobStatus
from slipway.server.openapi import BINARY_BODY
from slipway.training.models import CreateTrainingJob, TrainingJob, TrainingJobName
from slipway.training.service import TrainingService
from slipway.tuning.models import TuningJobName
from slipway.wire import PageToken

router = APIRouter(prefix="/api/v1/training-jobs", tags=["training"])


def service(request: Request) -> TrainingService:
    return request_services(request).training


Service = Annotated[TrainingService, Depends(service)]


@router.post("", status_code=201, response_model_exclude_none=True)
def create_training_job(body: CreateTrainingJob, svc: Service) -> TrainingJob:
    return svc.create_training_job(body)


@router.get("")
def list_training_jobs(
    svc: Service,
    status: JobStatus | None = None,
    name_contains: str | None = None,
    tuning_job_name: TuningJobName | None = None,
    max_results: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: PageToken | None = None,
) -> dict[str, Any]:
    page = svc.list_training_jobs(
        status=status,
        name_contains=name_contains,
        tuning_job_name=tuning_job_name,
        max_results=max_results,
        next_token=next_token,
    )
    return page.to_wire()


@router.get("/{name}", response_model_exclude_none=True)
def describe_training_job(name: TrainingJobName, svc: Service) -> TrainingJob:
    return svc.describe_training_job(name)


@router.post("/{name}/stop", response_model_exclude_none=True)
def stop_training_job(name: TrainingJobName, svc: Service) -> TrainingJob:
    return svc.stop_training_job(name)


@router.get("/{name}/logs")
def read_logs(
    name: TrainingJobName,
    svc: Service,
    after_line: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # a BIGINT
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    return {"Lines": [line.to_wire() for line in svc.read_logs(name, after_line, limit)]}


@router.put("/{name}/source", openapi_extra=BINARY_BODY)
async def upload_source(name: TrainingJobName, request: Request, svc: Service) -> dict[str, str]:
    """Receive a job's packed source folder (sourcedir.tar.gz) before the job is created."""
    chunks = [chunk async for chunk in request.stream()]
    uri = await run_in_threadpool(svc.upload_source, name, chunks)
    return {"Uri": uri}
