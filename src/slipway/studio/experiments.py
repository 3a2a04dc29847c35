"""Studio's experiment pages: the list, an experiment's components, compare, a component."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from slipway.errors import SlipwayError
from slipway.experiments.expressions import Filter, Operator, SearchExpression
from slipway.experiments.models import SortOrder, TrialComponent
from slipway.studio import charts
from slipway.studio.common import PAGE_SIZE, error_page, render, services

MAX_COMPARED = 20
# Chart documents bigger than this are listed but not drawn.
MAX_CHART_BYTES = 5 * 1024 * 1024

router = APIRouter(include_in_schema=False)


@router.get("/experiments")
def experiments(request: Request, q: str = "", token: str | None = None) -> Response:
    expression = None
    if q.strip():
        name_filter = Filter(name="ExperimentName", operator=Operator.CONTAINS, value=q.strip())
        expression = SearchExpression(filters=[name_filter])
    try:
        page = services(request).experiments.search(
            "Experiment", expression, "CreationTime", SortOrder.DESCENDING, PAGE_SIZE, token
        )
    except SlipwayError as error:
        return error_page(request, error)
    return render(request, "experiments.html", title="Experiments", page=page, q=q)


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
    svc = services(request).experiments
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
        return error_page(request, error)
    parameters, metrics = _columns(page.items)
    return render(
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
    svc = services(request).experiments
    names = list(dict.fromkeys(components))[:MAX_COMPARED]
    try:
        entities = [svc.get_trial_component(n) for n in names]
        parameters, metrics = _columns(entities)
        metric = metric if metric in metrics else (metrics[0] if metrics else None)
        series = {n: svc.get_metric_series(n, metric) for n in names} if metric else {}
    except SlipwayError as error:
        return error_page(request, error)
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
    return render(
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
    svc = services(request).experiments
    try:
        tc = svc.get_trial_component(name)
    except SlipwayError as error:
        return error_page(request, error)
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
    return render(
        request,
        "component.html",
        title=tc.display_name,
        tc=tc,
        artifacts=artifacts,
        figures=figures,
    )
