"""REST routes of the model registry under ``/api/v1``: each route is one service call.

Groups live under ``/model-package-groups/{name}``, versions under
``/model-packages/{group}/{version}`` (``.../deploy`` serves one on a new endpoint).
Bodies use the reference's PascalCase names.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from slipway.auth.guard import request_services
from slipway.auth.roles import OWNER
from slipway.experiments.models import SortOrder
from slipway.names import MAX_NAME_LENGTH, free_text
from slipway.registry.models import (
    MAX_VERSION,
    USER_HEADER,
    CreateModelPackage,
    CreateModelPackageFromTrainingJob,
    CreateModelPackageGroup,
    DeployModelPackage,
    GroupName,
    ModelApprovalStatus,
    ModelPackage,
    ModelPackageGroup,
    TrainingJobName,
    UpdateModelPackage,
)
from slipway.registry.repository import GROUP_SORTS, PACKAGE_SORTS
from slipway.registry.service import ACTOR_LENGTH, RegistryService
from slipway.serving.models import Endpoint
from slipway.wire import PageToken, Time, one_of

router = APIRouter(prefix="/api/v1", tags=["registry"])


def service(request: Request) -> RegistryService:
    return request_services(request).registry


def caller(request: Request) -> str:
    """Who is calling: the name of the token presented, else the user the client names."""
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal is not OWNER:
        return principal.name
    return request.headers.get(USER_HEADER, "").strip()[:ACTOR_LENGTH] or "anonymous"


Service = Annotated[RegistryService, Depends(service)]
Caller = Annotated[str, Depends(caller)]
MaxResults = Annotated[int, Query(ge=1, le=1000)]
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]
GroupSort = one_of(GROUP_SORTS)
NameFilter = free_text("name filter", MAX_NAME_LENGTH)
PackageSort = one_of(PACKAGE_SORTS)
Order = one_of(SortOrder)
ApprovalStatus = one_of(ModelApprovalStatus)


# --- groups -----------------------------------------------------------------------------


@router.post("/model-package-groups", status_code=201, response_model_exclude_none=True)
def create_model_package_group(
    body: CreateModelPackageGroup, svc: Service, who: Caller
) -> ModelPackageGroup:
    return svc.create_model_package_group(body, who)


@router.get("/model-package-groups")
def list_model_package_groups(
    svc: Service,
    name_contains: NameFilter | None = None,
    created_after: Time | None = None,
    created_before: Time | None = None,
    sort_by: GroupSort | None = None,
    sort_order: Order | None = None,
    max_results: MaxResults = 100,
    next_token: PageToken | None = None,
) -> dict[str, Any]:
    page = svc.list_model_package_groups(
        name_contains=name_contains,
        created_after=created_after,
        created_before=created_before,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )
    return page.to_wire()


@router.get("/model-package-groups/{name}", response_model_exclude_none=True)
def get_model_package_group(name: GroupName, svc: Service) -> ModelPackageGroup:
    return svc.get_model_package_group(name)


@router.delete("/model-package-groups/{name}", status_code=204)
def delete_model_package_group(name: GroupName, svc: Service, force: bool = False) -> Response:
    svc.delete_model_package_group(name, force=force)
    return Response(status_code=204)


@router.get("/model-package-groups/{name}/latest-approved", response_model_exclude_none=True)
def get_latest_approved_model_package(name: GroupName, svc: Service) -> ModelPackage:
    return svc.get_latest_approved_model_package(name)


# --- versions ---------------------------------------------------------------------------


@router.post("/model-packages", status_code=201, response_model_exclude_none=True)
def create_model_package(body: CreateModelPackage, svc: Service, who: Caller) -> ModelPackage:
    return svc.create_model_package(body, who)


@router.post("/model-packages/from-training-job", status_code=201, response_model_exclude_none=True)
def create_model_package_from_training_job(
    body: CreateModelPackageFromTrainingJob, svc: Service, who: Caller
) -> ModelPackage:
    return svc.create_model_package_from_training_job(body, who)


@router.get("/model-packages")
def list_model_packages(
    svc: Service,
    group_name: GroupName | None = None,
    approval_status: ApprovalStatus | None = None,
    training_job_name: TrainingJobName | None = None,
    created_after: Time | None = None,
    created_before: Time | None = None,
    sort_by: PackageSort | None = None,
    sort_order: Order | None = None,
    max_results: MaxResults = 100,
    next_token: PageToken | None = None,
) -> dict[str, Any]:
    page = svc.list_model_packages(
        group_name=group_name,
        approval_status=approval_status,
        training_job_name=training_job_name,
        created_after=created_after,
        created_before=created_before,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )
    return page.to_wire()


@router.get("/model-packages/{group}/{version}", response_model_exclude_none=True)
def get_model_package(group: GroupName, version: Version, svc: Service) -> ModelPackage:
    return svc.get_model_package(group, version)


@router.patch("/model-packages/{group}/{version}", response_model_exclude_none=True)
def update_model_package(
    group: GroupName, version: Version, body: UpdateModelPackage, svc: Service, who: Caller
) -> ModelPackage:
    return svc.update_model_package(
        group, version, body.model_approval_status, body.approval_description, who
    )


@router.post(
    "/model-packages/{group}/{version}/deploy", status_code=201, response_model_exclude_none=True
)
def deploy_model_package(
    group: GroupName, version: Version, body: DeployModelPackage, svc: Service
) -> Endpoint:
    return svc.deploy_model_package(
        group,
        version,
        body.endpoint_name,
        initial_instance_count=body.initial_instance_count,
        model_server_workers=body.model_server_workers,
        invocation_timeout_seconds=body.invocation_timeout_seconds,
    )


@router.delete("/model-packages/{group}/{version}", status_code=204)
def delete_model_package(group: GroupName, version: Version, svc: Service) -> Response:
    svc.delete_model_package(group, version)
    return Response(status_code=204)
