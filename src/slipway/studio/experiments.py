"""Studio's experiment pages: the list, an experiment's components, compare, a component."""

from __future__ import annotations

import json
from typing import Any

import pydantic
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from slipway.errors import NotFound, SlipwayError, ValidationError, describe_problems
from slipway.experiments.expressions import (
    FILTER_EXAMPLE,
    Filter,
    Operator,
    SearchExpression,
    parse_filter,
)
from slipway.experiments.models import Page, SortOrder, TrialComponent
from slipway.jobs.models import JobKind
from slipway.studio import charts, data
from slipway.studio.common import PAGE_SIZE, error_page, render, services

MAX_COMPARED = 20
# Chart documents bigger than this are listed but not drawn.
MAX_CHART_BYTES = 5 * 1024 * 1024
# Columns of each kind (parameters, metrics) an experiment's table shows until the user
# chooses: enough to tell runs apart, few enough to fit the screen.
DEFAULT_COLUMNS = 5
PREVIEW_ROWS = 10
LOGGED_TABLE_ROWS = 100
EXPRESSION_EXAMPLE = (
    '{"Filters": [{"Name": "Metrics.accuracy.Last", "Operator": "GreaterThan", "Value": "0.8"}]}'
)

router = APIRouter(include_in_schema=False)


def _typed_expression(text: str) -> SearchExpression | None:
    """The expression typed in a page's search box.

    Filters as the CLI's --filter takes them, joined by AND (``Metrics.accuracy.Max
    GreaterThan 0.9 AND Parameters.lr LessThan 0.1``), or the search API's
    SearchExpression as JSON for anything more (Or, nested filters).
    """
    if not text.strip():
        return None
    if not text.lstrip().startswith("{"):
        return SearchExpression(filters=[parse_filter(part) for part in text.split(" AND ")])
    try:
        return SearchExpression.model_validate_json(text)
    except pydantic.ValidationError as error:
        problems = describe_problems(error.errors(), limit=3)
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ValidationError(
            f"search expression {shown!r} is not valid ({problems}); write it as the search "
            f"API's SearchExpression, for example {EXPRESSION_EXAMPLE}"
        ) from None


def _combined(filters: list[Filter], typed: str) -> SearchExpression | None:
    """The page's own filters ANDed with the expression the user typed."""
    expression = _typed_expression(typed)
    if not filters:
        return expression
    return SearchExpression(filters=filters, sub_expressions=[expression] if expression else [])


def _name_contains(prop: str, text: str) -> list[Filter]:
    if not text.strip():
        return []
    return [Filter(name=prop, operator=Operator.CONTAINS, value=text.strip())]


@router.get("/experiments")
def experiments(
    request: Request, q: str = "", expression: str = "", token: str | None = None
) -> Response:
    status, error, page = 200, None, Page[Any](items=[])
    try:
        search = _combined(_name_contains("ExperimentName", q), expression)
        page = services(request).experiments.search(
            "Experiment",
            search_expression=search,
            sort_by="CreationTime",
            sort_order=SortOrder.DESCENDING,
            max_results=PAGE_SIZE,
            next_token=token,
        )
    except SlipwayError as problem:
        # A bad filter is the user's typing: answer on the same page, with the form.
        status, error = 400, problem.message
    return render(
        request,
        "experiments.html",
        status,
        title="Experiments",
        page=page,
        q=q,
        expression=expression,
        example=FILTER_EXAMPLE,
        error=error,
    )


def _columns(components: list[TrialComponent]) -> tuple[list[str], list[str]]:
    parameters = sorted({name for tc in components for name in tc.parameters})
    metrics = sorted({m.metric_name for tc in components for m in tc.metrics})
    return parameters, metrics


def _chosen(columns: list[str]) -> tuple[list[str], list[str]]:
    """The parameter and metric names of ``column`` values such as Parameters.lr."""
    parameters, metrics = [], []
    for column in dict.fromkeys(columns):
        kind, _, name = column.partition(".")
        if kind not in ("Parameters", "Metrics") or not name:
            raise ValidationError(
                f"column {column!r} is not Parameters.<name> or Metrics.<name>; "
                "choose columns in the Columns form"
            )
        (parameters if kind == "Parameters" else metrics).append(name)
    return parameters, metrics


@router.get("/experiments/{name}")
def experiment(
    request: Request,
    name: str,
    sort_by: str = "CreationTime",
    sort_order: SortOrder = SortOrder.DESCENDING,
    token: str | None = None,
    q: str = "",
    expression: str = "",
    column: list[str] = Query(default=[]),
) -> Response:
    svc = services(request).experiments
    try:
        entity = svc.get_experiment(name)
        parameters, metrics = svc.experiment_columns(name)
    except SlipwayError as error:
        return error_page(request, error)
    status, error, page = 200, None, Page[Any](items=[])
    chosen_parameters, chosen_metrics = [], []
    try:
        chosen_parameters, chosen_metrics = _chosen(column)
        in_experiment = Filter(name="Parents.ExperimentName", value=name)
        search = _combined([in_experiment, *_name_contains("DisplayName", q)], expression)
        page = svc.search(
            "TrialComponent",
            search_expression=search,
            sort_by=sort_by,
            sort_order=sort_order,
            max_results=PAGE_SIZE,
            next_token=token,
        )
    except SlipwayError as problem:
        status, error = 400, problem.message
    return render(
        request,
        "experiment.html",
        status,
        title=entity.display_name,
        experiment=entity,
        page=page,
        # Offered: every column of the experiment, and what was chosen even if none has it.
        parameters=sorted({*parameters, *chosen_parameters}),
        metrics=sorted({*metrics, *chosen_metrics}),
        shown_parameters=chosen_parameters or parameters[:DEFAULT_COLUMNS],
        shown_metrics=chosen_metrics or metrics[:DEFAULT_COLUMNS],
        sort_by=sort_by,
        sort_order=sort_order.value,
        q=q,
        expression=expression,
        example=FILTER_EXAMPLE,
        error=error,
    )


def _is_number(tc: TrialComponent, parameter: str) -> bool:
    value = tc.parameters.get(parameter)
    return value is None or value.number_value is not None


def _last(tc: TrialComponent, metric: str) -> float | None:
    summary = next((m for m in tc.metrics if m.metric_name == metric), None)
    return summary.last if summary is not None else None


def _parallel_coordinates(
    entities: list[TrialComponent], metric: str, axes: list[str]
) -> dict[str, Any] | None:
    """Components that logged the metric, over the axes every one of them has a value on."""
    rows = [tc for tc in entities if _last(tc, metric) is not None]
    axes = [a for a in axes if all(a in tc.parameters for tc in rows)]
    if not rows or not axes:
        return None
    values = {a: [tc.parameters[a].number_value for tc in rows] for a in axes}
    return charts.parallel_coordinates(
        f"{metric} (last)", values, [_last(tc, metric) for tc in rows]
    )


@router.get("/compare")
def compare(
    request: Request,
    components: list[str] = Query(default=[]),
    metric: str | None = None,
    parameter: str | None = None,
    axis: list[str] = Query(default=[]),
    experiment: str | None = None,
) -> Response:
    svc = services(request).experiments
    names = list(dict.fromkeys(components))[:MAX_COMPARED]
    try:
        entities = [svc.get_trial_component(n) for n in names]
        parameters, metrics = _columns(entities)
        metric = metric if metric in metrics else (metrics[0] if metrics else None)
        series = {n: svc.get_metric_curve(n, metric) for n in names} if metric else {}
    except SlipwayError as error:
        return error_page(request, error)
    numeric = [p for p in parameters if all(_is_number(tc, p) for tc in entities)]
    parameter = parameter if parameter in parameters else (numeric or parameters or [None])[0]
    axes = [a for a in axis if a in numeric] or numeric
    curves = charts.metric_curves(metric, series) if metric else None
    scatter = parallel = None
    if metric and parameter:
        points = {
            tc.trial_component_name: (tc.parameters[parameter].value, last)
            for tc in entities
            if parameter in tc.parameters and (last := _last(tc, metric)) is not None
        }
        scatter = charts.parameter_scatter(parameter, f"{metric} (last)", points)
    if metric:
        parallel = _parallel_coordinates(entities, metric, axes)
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
        numeric=numeric,
        axes=axes,
        experiment=experiment,
        curves=curves,
        scatter=scatter,
        parallel=parallel,
    )


def _document_of(svc: Any, uri: str) -> dict[str, Any] | None:
    """A JSON artifact's document, unless it is too big to draw or not a JSON object."""
    try:
        if svc.artifact_record(uri).size > MAX_CHART_BYTES:
            return None
        document = json.loads(b"".join(svc.open_artifact(uri)))
    except (SlipwayError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _figure_of(document: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return charts.from_document(document)
    except (KeyError, TypeError, ValueError):  # a chart document with fields missing
        return None


def _logged_table(document: dict[str, Any]) -> tuple[list[str], list[tuple]] | None:
    """Columns and first rows of a tracker's ``log_table`` document, else None."""
    columns = document.get("data")
    if document.get("type") != "Table" or not isinstance(columns, dict):
        return None
    if not all(isinstance(values, list) for values in columns.values()):
        return None
    rows = list(zip(*columns.values(), strict=False))[:LOGGED_TABLE_ROWS]
    return list(columns), rows


def _downloadable(svc: Any, uri: str) -> bool:
    try:
        svc.artifact_record(uri)
    except SlipwayError:
        return False
    return True


def _producing_job(request: Request, tc: TrialComponent) -> tuple[str, str] | None:
    """(kind, name) of the job whose trial component this is, when that job exists.

    Jobs record themselves as the component's source: type ``SageMaker<Kind>`` and an
    ARN that ends in ``/<job name>``.
    """
    if tc.source is None or not tc.source.source_type or "/" not in tc.source.source_arn:
        return None
    try:
        kind = JobKind(tc.source.source_type.removeprefix("SageMaker"))
    except ValueError:
        return None
    job_name = tc.source.source_arn.rsplit("/", 1)[1]
    try:
        services(request).jobs.get_job(kind, job_name)
    except NotFound:
        return None
    return kind.value, job_name


def _table_preview(svc: Any, uri: str) -> tuple[Any, str | None]:
    """The first rows of a table artifact, or why they cannot be shown."""
    try:
        return data.read_table(svc, uri, PREVIEW_ROWS).frame, None
    except SlipwayError as error:
        return None, error.message


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
    figures, tables, images, logged = [], [], [], []
    for _, artifact_name, artifact, stored in artifacts:
        if not stored:
            continue
        kind = data.artifact_kind(artifact)
        if kind == "table":
            tables.append((artifact_name, artifact.value, *_table_preview(svc, artifact.value)))
        elif kind == "image":
            images.append((artifact_name, artifact.value))
        elif artifact.media_type == "application/json":
            document = _document_of(svc, artifact.value) or {}
            if (table := _logged_table(document)) is not None:
                logged.append((artifact_name, *table))
            elif (figure := _figure_of(document)) is not None:
                figures.append((artifact_name, figure))
    return render(
        request,
        "component.html",
        title=tc.display_name,
        tc=tc,
        job=_producing_job(request, tc),
        artifacts=artifacts,
        tables=tables,
        table_uris={uri for _, uri, _, _ in tables},
        images=images,
        figures=figures,
        logged=logged,
    )
