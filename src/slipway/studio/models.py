"""Studio's pages of the model registry's groups and versions, approval and deploy.

Approving, rejecting and deploying are forms posted back with the CSRF field. Who
approved is the caller as the registry's REST API sees it: the name of the token the
Studio session signed in with. Deploying is the registry service's, as for the SDK, the
CLI and the REST API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from slipway.errors import SlipwayError, ValidationError
from slipway.registry.api import caller
from slipway.registry.models import ModelApprovalStatus
from slipway.studio.common import PAGE_SIZE, back_to, error_page, read_form, render, services

DECISIONS = (ModelApprovalStatus.APPROVED, ModelApprovalStatus.REJECTED)
# Deploy form fields: the deploy_model_package settings they set.
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
            group_name=group,
            approval_status=approval or None,
            max_results=PAGE_SIZE,
            next_token=token,
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
            services(request).registry.deploy_model_package, group, version, name, **variant
        )
    except SlipwayError as error:
        return error_page(request, error)
    return back_to(f"/endpoint/{endpoint.endpoint_name}")
