"""Studio's endpoint pages: variants, loaded models, traffic charts, a test request.

One endpoint's page is ``/endpoint/{name}``: everything under ``/endpoints/`` belongs to
the serving data plane, which answers it before any page route could.

A test request goes through the server's own data plane (``/endpoints/{name}/invocations``,
in this process, over ASGI): it is checked, served, cached and counted exactly as a
client's request is, so it shows up in the charts like one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from slipway.errors import NotFound, SlipwayError, ValidationError
from slipway.registry.deploy import PACKAGE_TAG
from slipway.registry.models import parse_package_arn
from slipway.serving.models import (
    ContainerMode,
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Model,
)
from slipway.studio import traffic
from slipway.studio.common import PAGE_SIZE, error_page, read_form, render, services

# Answers longer than this are cut on the page (the endpoint's clients get all of it).
MAX_SHOWN_BYTES = 64 * 1024
MAX_TEST_BODY = 1024 * 1024
DEFAULT_MINUTES = 15

router = APIRouter(include_in_schema=False)
# One sampler per worker process; it starts sampling with the first endpoint page.
sampler = traffic.Sampler()


@router.get("/endpoints")
def endpoints(request: Request, status: str | None = None, token: str | None = None) -> Response:
    try:
        page = services(request).serving.list_endpoints(
            max_results=PAGE_SIZE, next_token=token, status_equals=status or None
        )
    except SlipwayError as error:
        return error_page(request, error)
    reading = sampler.sample()
    totals = {e.endpoint_name: reading.endpoint_totals(e.endpoint_name) for e in page.items}
    return render(
        request,
        "endpoints.html",
        title="Endpoints",
        page=page,
        status=status or "",
        statuses=list(EndpointStatus),
        totals=totals,
    )


@dataclass
class VariantRow:
    """A variant as the page shows it: its config, its model and its traffic share."""

    name: str
    model_name: str
    model: Model | None
    instances: int
    weight: float
    share: float
    settings: dict[str, Any]

    @property
    def multi_model(self) -> bool:
        return (
            self.model is not None
            and self.model.primary_container.mode == ContainerMode.MULTI_MODEL
        )


def _served(serving: Any, endpoint: Endpoint) -> tuple[EndpointConfig | None, dict[str, Model]]:
    """The config and models the endpoint serves; before its first deploy, those it will."""
    deployed = serving.get_endpoint_deployment(endpoint.endpoint_name)["DeployedSpec"]
    if deployed is not None:
        models = deployed["Models"].items()
        return EndpointConfig.model_validate(deployed["EndpointConfig"]), {
            name: Model.model_validate(model) for name, model in models
        }
    try:
        config = serving.get_endpoint_config(endpoint.endpoint_config_name)
    except NotFound:  # deleted since: the endpoint page still answers
        return None, {}
    models = {}
    for variant in config.production_variants:
        try:
            models[variant.model_name] = serving.get_model(variant.model_name)
        except NotFound:
            continue
    return config, models


def _variants(
    endpoint: Endpoint, config: EndpointConfig | None, models: dict[str, Model]
) -> list[VariantRow]:
    if config is None:
        return []
    summaries = {s.variant_name: s for s in endpoint.production_variants}
    total = sum(v.initial_variant_weight for v in config.production_variants) or 1.0
    rows = []
    for v in config.production_variants:
        summary = summaries.get(v.variant_name)
        settings = {
            "Workers": v.model_server_workers,
            "Model cache bytes": v.model_cache_bytes,
            "Max models": v.max_models,
            "Timeout (s)": v.invocation_timeout_seconds,
        }
        rows.append(
            VariantRow(
                name=v.variant_name,
                model_name=v.model_name,
                model=models.get(v.model_name),
                instances=summary.current_instance_count if summary else v.initial_instance_count,
                weight=summary.current_weight if summary else v.initial_variant_weight,
                share=v.initial_variant_weight / total,
                settings={k: value for k, value in settings.items() if value is not None},
            )
        )
    return rows


def _window(minutes: str) -> int:
    """The chart window a page asked for, or a ValidationError naming what it asked."""
    offered = {str(w): w for w in traffic.WINDOWS_MINUTES}
    if minutes not in offered:
        raise ValidationError(
            f"minutes {minutes!r} is not a chart window; use one of {', '.join(offered)}"
        )
    return offered[minutes]


def _endpoint_context(request: Request, name: str, minutes: int) -> dict[str, Any]:
    """Everything the endpoint page shows; raises NotFound naming a missing endpoint."""
    serving = services(request).serving
    endpoint = serving.get_endpoint(name)
    config, models = _served(serving, endpoint)
    reading = sampler.sample()
    charts = traffic.figures(sampler.history(name), reading.time, minutes)
    arn = next((t.value for t in endpoint.tags if t.key == PACKAGE_TAG), None)
    return {
        "title": name,
        "endpoint": endpoint,
        "config": config,
        "variants": _variants(endpoint, config, models),
        "by_model": sorted(reading.invocations.get(name, {}).items()),
        "caches": reading.caches.get(name, {}),
        "loaded": reading.loaded.get(name, {}),
        "rate": charts["rate"],
        "latency": charts["latency"],
        "package": parse_package_arn(arn) if arn else None,
        "minutes": minutes,
        "windows": traffic.WINDOWS_MINUTES,
    }


@router.get("/endpoint/{name}")
def endpoint(request: Request, name: str, minutes: str = str(DEFAULT_MINUTES)) -> Response:
    try:
        context = _endpoint_context(request, name, _window(minutes))
    except SlipwayError as error:
        return error_page(request, error)
    return render(request, "endpoint.html", **context)


@dataclass
class TestResult:
    status: int
    content_type: str
    body: str
    truncated: bool
    milliseconds: float
    variant: str | None


async def _invoke(request: Request, name: str, form: dict[str, str]) -> TestResult:
    """Send the form's request to the endpoint through this server's data plane."""
    body = form.get("body", "").encode()
    if len(body) > MAX_TEST_BODY:
        raise ValidationError(f"the test body is {len(body)} bytes; send at most {MAX_TEST_BODY}")
    headers = {"Content-Type": form.get("content_type") or "application/json"}
    optional = {
        "Accept": form.get("accept"),
        "X-Amzn-SageMaker-Target-Model": form.get("target_model"),
        "X-Amzn-SageMaker-Target-Variant": form.get("target_variant"),
    }
    headers |= {key: value.strip() for key, value in optional.items() if value and value.strip()}
    # The data plane checks the caller's session as it would a token.
    if cookie := request.headers.get("cookie"):
        headers["Cookie"] = cookie
    transport = httpx.ASGITransport(app=request.app)
    base_url = str(request.base_url)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        started = time.perf_counter()
        answer = await client.post(f"/endpoints/{name}/invocations", content=body, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
    return TestResult(
        status=answer.status_code,
        content_type=answer.headers.get("content-type", ""),
        body=answer.content[:MAX_SHOWN_BYTES].decode("utf-8", "replace"),
        truncated=len(answer.content) > MAX_SHOWN_BYTES,
        milliseconds=round(elapsed, 2),
        variant=answer.headers.get("x-amzn-invoked-production-variant"),
    )


@router.post("/endpoint/{name}/test")
async def test_request(request: Request, name: str) -> Response:
    try:
        form = await read_form(request)
        # Before invoking: a missing endpoint is a 404 page, not a runtime error body.
        await run_in_threadpool(services(request).serving.get_endpoint, name)
        result = await _invoke(request, name, form)
        context = await run_in_threadpool(_endpoint_context, request, name, DEFAULT_MINUTES)
    except SlipwayError as error:
        return error_page(request, error)
    return render(request, "endpoint.html", **context, result=result, sent=form)
