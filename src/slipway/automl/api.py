"""REST routes of AutoML jobs under ``/api/v1/automl-jobs``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from slipway.auth.guard import request_services
from slipway.automl.models import AutoMLJob, AutoMLJobName, CreateAutoMLJob
from slipway.automl.service import SORT_BY, AutoMLService
from slipway.experiments.models import SortOrder
from slipway.jobs.models import JobStatus
from slipway.wire import PageToken, one_of

router = APIRouter(prefix="/api/v1/automl-jobs", tags=["automl"])


def service(request: Request) -> AutoMLService:
    return request_services(request).automl


Service = Annotated[AutoMLService, Depends(service)]
CandidateSort = one_of(SORT_BY)
Order = one_of(SortOrder)


@router.post("", status_code=201, response_model_exclude_none=True)
def create_automl_job(body: CreateAutoMLJob, svc: Service) -> AutoMLJob:
    return svc.create_auto_ml_job(body)


@router.get("")
def list_automl_jobs(
    svc: Service,
    status: JobStatus | None = None,
    name_contains: str | None = None,
    max_results: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: PageToken | None = None,
) -> dict[str, Any]:
    return svc.list_auto_ml_jobs(
        status=status, name_contains=name_contains, max_results=max_results, next_token=next_token
    ).to_wire()


@router.get("/{name}", response_model_exclude_none=True)
def describe_automl_job(name: AutoMLJobName, svc: Service) -> AutoMLJob:
    return svc.describe_auto_ml_job(name)


@router.get("/{name}/candidates")
def list_candidates(
    name: AutoMLJobName,
    svc: Service,
    status_equals: JobStatus | None = None,
    candidate_name_equals: str | None = None,
    sort_by: CandidateSort = "FinalObjectiveMetricValue",
    sort_order: Order = "Descending",
    max_results: Annotated[int, Query(ge=1, le=100)] = 100,
) -> dict[str, Any]:
    found = svc.list_candidates_for_auto_ml_job(
        name,
        status_equals=status_equals,
        candidate_name_equals=candidate_name_equals,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
    )
    return {"Candidates": [c.to_wire() for c in found]}


@router.post("/{name}/stop", response_model_exclude_none=True)
def stop_automl_job(name: AutoMLJobName, svc: Service) -> AutoMLJob:
    return svc.stop_auto_ml_job(name)
