"""REST routes of batch transform jobs under ``/api/v1/transform-jobs``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from slipway.auth.guard import request_services
from slipway.jobs.models import JobStatus
from slipway.transform.models import CreateTransformJob, TransformJob, TransformJobName
from slipway.transform.service import TransformService
from slipway.wire import PageToken

router = APIRouter(prefix="/api/v1/transform-jobs", tags=["transform"])


def service(request: Request) -> TransformService:
    return request_services(request).transform


Service = Annotated[TransformService, Depends(service)]


@router.post("", status_code=201, response_model_exclude_none=True)
def create_transform_job(body: CreateTransformJob, svc: Service) -> TransformJob:
    return svc.create_transform_job(body)


@router.get("")
def list_transform_jobs(
    svc: Service,
    status: JobStatus | None = None,
    name_contains: str | None = None,
    max_results: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: PageToken | None = None,
) -> dict[str, Any]:
    return svc.list_transform_jobs(
        status=status, name_contains=name_contains, max_results=max_results, next_token=next_token
    ).to_wire()


@router.get("/{name}", response_model_exclude_none=True)
def describe_transform_job(name: TransformJobName, svc: Service) -> TransformJob:
    return svc.describe_transform_job(name)


@router.post("/{name}/stop", response_model_exclude_none=True)
def stop_transform_job(name: TransformJobName, svc: Service) -> TransformJob:
    return svc.stop_transform_job(name)
