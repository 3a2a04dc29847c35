"""Studio pages: server-rendered HTML over the same services the REST API calls.

Each page is one or a few service calls and a template. Charts are plotly figures sent
as JSON in the page and drawn by ``static/studio.js`` with the plotly.js of the plotly
package, so nothing is fetched from outside the server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from slipway.errors import SlipwayError
from slipway.experiments.expressions import Filter, Operator, SearchExpression
from slipway.experiments.models import SortOrder, TrialComponent
from slipway.jobs.models import JobKind, JobStatus
from slipway.monitor.report import plotly_js
from slipway.server.middleware import SESSION_COOKIE, SIGN_IN_PATH
from slipway.studio import charts

HERE = Path(__file__).parent
STATIC_FILES = {
    "studio.css": HERE / "static" / "studio.css",
    "studio.js": HERE / "static" / "studio.js",
}
PAGE_SIZE = 25
MAX_COMPARED = 20
# Chart documents bigger than this are listed but not drawn.
MAX_CHART_BYTES = 5 * 1024 * 1024

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(
        request, template, {"signed_in": SESSION_COOKIE in request.cookies, **context}, status_code
    )


def _error_page(request: Request, error: SlipwayError) -> Response:
    return _page(request, "error.html", error.status_code, title=error.code, message=error.message)


def _services(request: Request) -> Any:
    return request.app.state.services


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


# --- sign-in and assets ---------------------------------------------------------------


@router.get(SIGN_IN_PATH)
def sign_in_form(request: Request, next: str = "/") -> Response:
    return _page(request, "signin.html", title="Sign in", next=_safe_next(next))


@router.post(SIGN_IN_PATH)
async def sign_in(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = form.get("token", [""])[0].strip()
    target = _safe_next(form.get("next", ["/"])[0])
    if not token or _services(request).tokens.name_of(token) is None:
        return _page(
            request,
            "signin.html",
            401,
            title="Sign in",
            next=target,
            error="That token is not valid; create one with `slipway token create NAME`.",
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
def sign_out() -> Response:
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return response


@router.get("/studio/static/{name}")
def static_file(name: str) -> Response:
    if name == "plotly.min.js":
        return FileResponse(plotly_js(), media_type="text/javascript")
    if name not in STATIC_FILES:
        return Response(status_code=404)
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(STATIC_FILES[name], media_type=media)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/experiments", status_code=303)


# --- experiments ----------------------------------------------------------------------


@router.get("/experiments")
def experiments(request: Request, q: str = "", token: str | None = None) -> Response:
    expression = None
    if q.strip():
        name_filter = Filter(name="ExperimentName", operator=Operator.CONTAINS, value=q.strip())
        expression = SearchExpression(filters=[name_filter])
    try:
        page = _services(request).experiments.search(
            "Experiment", expression, "CreationTime", SortOrder.DESCENDING, PAGE_SIZE, token
        )
    except SlipwayError as error:
        return _error_page(request, error)
    return _page(request, "experiments.html", title="Experiments", page=page, q=q)


def _columns(components: list[TrialComponent]) -> tuple[list[str], list[str]]:
    parameters = sorted({name for tc in components for name in tc.parameters})
    metrics = sorted({m.metric_name for tc in components for m in tc.metrics})
    return parameters, metrics


@router.get("/experiments/{name}")
def experiment(
    request: Request,
    name: str,
    sort_by: str = "CreationTime",
    sort_order: SortOrder = SortOrder.DESCENDING,
    token: str | None = None,
) -> Response:
    svc = _services(request).experiments
    in_experiment = Filter(name="Parents.ExperimentName", value=name)
    try:
        entity = svc.get_experiment(name)
        page = svc.search(
            "TrialComponent",
            SearchExpression(filters=[in_experiment]),
            sort_by,
            sort_order,
            PAGE_SIZE,
            token,
        )
    except SlipwayError as error:
        return _error_page(request, error)
    parameters, metrics = _columns(page.items)
    return _page(
        request,
        "experiment.html",
        title=entity.display_name,
        experiment=entity,
        page=page,
        parameters=parameters,
        metrics=metrics,
        sort_by=sort_by,
        sort_order=sort_order.value,
    )


def _is_number(tc: TrialComponent, parameter: str) -> bool:
    value = tc.parameters.get(parameter)
    return value is None or value.number_value is not None


@router.get("/compare")
def compare(
    request: Request,
    components: list[str] = Query(default=[]),
    metric: str | None = None,
    parameter: str | None = None,
    experiment: str | None = None,
) -> Response:
    svc = _services(request).experiments
    names = list(dict.fromkeys(components))[:MAX_COMPARED]
    try:
        entities = [svc.get_trial_component(n) for n in names]
        parameters, metrics = _columns(entities)
        metric = metric if metric in metrics else (metrics[0] if metrics else None)
        series = {n: svc.get_metric_series(n, metric) for n in names} if metric else {}
    except SlipwayError as error:
        return _error_page(request, error)
    numeric = [p for p in parameters if all(_is_number(tc, p) for tc in entities)]
    parameter = parameter if parameter in parameters else (numeric or parameters or [None])[0]
    curves = charts.metric_curves(metric, series) if metric else None
    scatter = None
    if metric and parameter:
        points = {}
        for tc in entities:
            summary = next((m for m in tc.metrics if m.metric_name == metric), None)
            if parameter in tc.parameters and summary is not None and summary.last is not None:
                points[tc.trial_component_name] = (tc.parameters[parameter].value, summary.last)
        scatter = charts.parameter_scatter(parameter, f"{metric} (last)", points)
    return _page(
        request,
        "compare.html",
        title="Compare",
        components=entities,
        names=names,
        metrics=metrics,
        metric=metric,
        parameters=parameters,
        parameter=parameter,
        experiment=experiment,
        curves=curves,
        scatter=scatter,
    )


def _chart_of(svc: Any, uri: str) -> dict[str, Any] | None:
    try:
        if svc.artifact_record(uri).size > MAX_CHART_BYTES:
            return None
        document = json.loads(b"".join(svc.open_artifact(uri)))
        return charts.from_document(document) if isinstance(document, dict) else None
    except (SlipwayError, ValueError, KeyError, TypeError):
        return None


def _downloadable(svc: Any, uri: str) -> bool:
    try:
        svc.artifact_record(uri)
    except SlipwayError:
        return False
    return True


@router.get("/components/{name}")
def component(request: Request, name: str) -> Response:
    svc = _services(request).experiments
    try:
        tc = svc.get_trial_component(name)
    except SlipwayError as error:
        return _error_page(request, error)
    artifacts = [
        (direction, artifact_name, artifact, _downloadable(svc, artifact.value))
        for direction, group in (("input", tc.input_artifacts), ("output", tc.output_artifacts))
        for artifact_name, artifact in group.items()
    ]
    figures = []
    for _, artifact_name, artifact, stored in artifacts:
        if stored and artifact.media_type == "application/json":
            figure = _chart_of(svc, artifact.value)
            if figure is not None:
                figures.append((artifact_name, figure))
    return _page(
        request,
        "component.html",
        title=tc.display_name,
        tc=tc,
        artifacts=artifacts,
        figures=figures,
    )


# --- jobs -----------------------------------------------------------------------------


@router.get("/jobs")
def jobs(
    request: Request,
    kind: JobKind | None = None,
    status: JobStatus | None = None,
    token: str | None = None,
) -> Response:
    try:
        page = _services(request).jobs.list_jobs(
            kind=kind, status=status, max_results=PAGE_SIZE, next_token=token
        )
    except SlipwayError as error:
        return _error_page(request, error)
    return _page(
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
    svc = _services(request).jobs
    try:
        entity = svc.get_job(kind, name)
        logs = svc.read_logs(kind, name, limit=10_000)
    except SlipwayError as error:
        return _error_page(request, error)
    return _page(
        request,
        "job.html",
        title=name,
        job=entity,
        logs=logs,
        spec=json.dumps(entity.spec, indent=2, default=str),
        result=json.dumps(entity.result, indent=2, default=str),
    )
