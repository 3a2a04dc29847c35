"""Studio's pages of the model registry's groups and versions, approval and deploy.

Approving, rejecting and deploying are forms posted back with the CSRF field. Who
approved is the caller as the registry's REST API sees it: the name of the token the
Studio session signed in with. Nothing in the registry or serving packages turns a
version into an endpoint yet, so ``deploy`` here does it with the serving service's own
calls, as the one-step ``slipway endpoints create NAME --model-data URI`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from slipway.errors import AlreadyExists, Conflict, NotFound, SlipwayError, ValidationError
from slipway.names import check_name
from slipway.registry.api import caller
from slipway.registry.models import ModelApprovalStatus, ModelPackage, build
from slipway.serving.models import (
    MAX_ENDPOINT_NAME,
    ContainerDefinition,
    Endpoint,
    ProductionVariant,
    Tag,
)
from slipway.studio.common import PAGE_SIZE, back_to, error_page, read_form, render, services

if TYPE_CHECKING:
    from slipway.serving.service import ServingService

# Tag a Studio deployment puts on the model and endpoint: the model package they serve.
PACKAGE_TAG = "slipway:ModelPackageArn"
DECISIONS = (ModelApprovalStatus.APPROVED, ModelApprovalStatus.REJECTED)
# Deploy form fields: the production variant's settings they set.
VARIANT_FIELDS = {
    "instance_count": "initial_instance_count",
    "workers": "model_server_workers",
    "timeout": "invocation_timeout_seconds",
}

router = APIRouter(include_in_schema=False)


@router.get("/models")
def groups(request: Request, q: str = "", token: str | None = None) -> Response:
    try:
        page = services(request).registry.list_model_package_groups(
            name_contains=q.strip() or None, max_results=PAGE_SIZE, next_token=token
        )
    except SlipwayError as error:
        return error_page(request, error)
    return render(request, "models.html", title="Models", page=page, q=q)


@router.get("/models/{group}")
def group(request: Request, group: str, approval: str = "", token: str | None = None) -> Response:
    registry = services(request).registry
    try:
        entity = registry.get_model_package_group(group)
        page = registry.list_model_packages(
            group, approval or None, max_results=PAGE_SIZE, next_token=token
        )
    except SlipwayError as error:
        return error_page(request, error)
    metrics = sorted({m.metric_name for p in page.items for m in p.model_metrics.metrics})
    return render(
        request,
        "model_group.html",
        title=group,
        group=entity,
        page=page,
        metrics=metrics,
        approval=approval,
        statuses=list(ModelApprovalStatus),
    )


@router.get("/models/{group}/{version}")
def version(request: Request, group: str, version: str) -> Response:
    try:
        package = services(request).registry.get_model_package(group, version)
    except SlipwayError as error:
        return error_page(request, error)
    return render(
        request,
        "model_version.html",
        title=f"{group} version {package.model_package_version}",
        package=package,
        decisions=DECISIONS,
    )


@router.post("/models/{group}/{version}/approval")
async def approval(request: Request, group: str, version: str) -> Response:
    try:
        form = await read_form(request)
        decision = form.get("decision", "")
        if decision not in DECISIONS:
            raise ValidationError(
                f"decision {decision!r} is not valid; approve (Approved) or reject (Rejected)"
            )
        package = await run_in_threadpool(
            services(request).registry.update_model_package,
            group,
            version,
            decision,
            form.get("comment", "").strip() or None,
            caller(request),
        )
    except SlipwayError as error:
        return error_page(request, error)
    return back_to(f"/models/{group}/{package.model_package_version}")


def deploy(
    serving: ServingService, package: ModelPackage, endpoint_name: str, variant: dict[str, str]
) -> Endpoint:
    """Serve an Approved version on a new endpoint.

    Makes a model, an endpoint config and an endpoint all named ``endpoint_name``, as
    ``slipway endpoints create NAME --model-data URI`` does, tagged with the version's
    ARN; if one step fails, the ones before it are undone.
    """
    check_name("endpoint name", endpoint_name, MAX_ENDPOINT_NAME)
    where = f"{package.model_package_group_name} version {package.model_package_version}"
    if package.model_approval_status != ModelApprovalStatus.APPROVED:
        raise Conflict(
            f"model package {where} is {package.model_approval_status.value}, not Approved; "
            "approve it before deploying it"
        )
    containers = package.inference_specification.containers
    if len(containers) != 1:
        raise Conflict(
            f"model package {where} has {len(containers)} containers; an endpoint's model "
            "has one, so register each container as a version of its own to deploy it"
        )
    try:
        serving.get_endpoint(endpoint_name)
    except NotFound:
        pass
    else:  # said before anything is made: the model's name would clash first, less clearly
        raise AlreadyExists(
            f"endpoint {endpoint_name!r} exists already; pick another name for the new one"
        )
    container = build(
        ContainerDefinition,
        model_data_url=containers[0].model_data_url,
        environment=containers[0].environment,
    )
    production = build(ProductionVariant, model_name=endpoint_name, **variant)
    tags = [Tag(key=PACKAGE_TAG, value=package.model_package_arn)]
    serving.create_model(endpoint_name, container, tags)
    try:
        serving.create_endpoint_config(endpoint_name, [production], tags=tags)
        try:
            return serving.create_endpoint(endpoint_name, endpoint_name, tags)
        except SlipwayError:
            serving.delete_endpoint_config(endpoint_name)
            raise
    except SlipwayError:
        serving.delete_model(endpoint_name)
        raise


def _deploy(
    platform: Any, group: str, version: str, name: str, variant: dict[str, str]
) -> Endpoint:
    return deploy(
        platform.serving, platform.registry.get_model_package(group, version), name, variant
    )


@router.post("/models/{group}/{version}/deploy")
async def deploy_version(request: Request, group: str, version: str) -> Response:
    try:
        form = await read_form(request)
        name = form.get("endpoint_name", "").strip()
        variant = {
            setting: form[field].strip()
            for field, setting in VARIANT_FIELDS.items()
            if form.get(field, "").strip()
        }
        endpoint = await run_in_threadpool(
            _deploy, services(request), group, version, name, variant
        )
    except SlipwayError as error:
        return error_page(request, error)
    return back_to(f"/endpoint/{endpoint.endpoint_name}")
