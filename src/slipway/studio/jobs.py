"""Studio's job pages: every kind of job in one list; a job's history, live logs and charts.

A job's page streams its new log lines and status changes as server-sent events while it
runs. Training jobs add their metric curves, tuning jobs a leaderboard of their training
jobs and an objective-over-time chart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool

from slipway.errors import NotFound, SlipwayError, ValidationError
from slipway.jobs.models import Job, JobKind, JobStatus, LogLine
from slipway.jobs.service import JobService
from slipway.studio import charts
from slipway.studio.common import (
    PAGE_SIZE,
    back_to,
    error_page,
    read_form,
    render,
    services,
)
from slipway.tuning.models import Objective, ObjectiveType, TrainingJobSummary
from slipway.tuning.service import best_of

# A follower polls the job service this often: cheap for the database, live for a person.
POLL_SECONDS = 0.5
LOG_BATCH = 1000
PAGE_LOG_LINES = 10_000
# Only training jobs have a parent job: the tuning job that started them.
PARENT_KIND = {JobKind.TRAINING: JobKind.TUNING}
CHILD_KIND = {parent: child for child, parent in PARENT_KIND.items()}
# Kinds whose Studio area has a page of its own for a job, beside its job page.
AREA_PAGE = {JobKind.AUTOML: "/automl/{}", JobKind.MONITORING: "/monitor/executions/{}"}

router = APIRouter(include_in_schema=False)


def job_kind(value: str) -> JobKind:
    try:
        return JobKind(value)
    except ValueError:
        raise ValidationError(
            f"job kind {value!r} is not valid; use one of " + ", ".join(k.value for k in JobKind)
        ) from None


def job_path(kind: JobKind, name: str) -> str:
    return f"/jobs/{kind.value}/{quote(name, safe='')}"


@router.get("/jobs")
def jobs(
    request: Request, kind: str = "", status: str = "", q: str = "", token: str | None = None
) -> Response:
    # The filter form sends empty values for "any".
    try:
        chosen = job_kind(kind) if kind else None
        page = services(request).jobs.list_jobs(
            kind=chosen,
            status=status or None,
            name_contains=q.strip() or None,
            max_results=PAGE_SIZE,
            next_token=token,
        )
    except SlipwayError as error:
        return error_page(request, error)
    return render(
        request,
        "jobs.html",
        title="Jobs",
        page=page,
        kind=kind,
        status=status,
        q=q,
        kinds=list(JobKind),
        statuses=list(JobStatus),
        parent_kind=PARENT_KIND,
    )


@router.get("/jobs/{kind}/{name}")
def job(request: Request, kind: str, name: str) -> Response:
    platform = services(request)
    try:
        chosen = job_kind(kind)
        entity = platform.jobs.get_job(chosen, name)
        logs = platform.jobs.tail_logs(chosen, name, limit=PAGE_LOG_LINES)
        details = _details(platform, entity)
    except SlipwayError as error:
        return error_page(request, error)
    parent_kind = PARENT_KIND.get(chosen)
    after = logs[-1].line_number if logs else 0
    return render(
        request,
        "job.html",
        title=name,
        job=entity,
        logs=logs,
        # The page streams what comes after its last line, while the job runs.
        stream=None
        if entity.status.is_final
        else f"{job_path(chosen, name)}/logs/stream?after={after}",
        parent=job_path(parent_kind, entity.parent_job_name)
        if parent_kind and entity.parent_job_name
        else None,
        area_page=AREA_PAGE[chosen].format(quote(name, safe="")) if chosen in AREA_PAGE else None,
        spec=json.dumps(entity.spec, indent=2, default=str),
        result=json.dumps(entity.result, indent=2, default=str),
        **details,
    )


@router.post("/jobs/{kind}/{name}/stop")
async def stop(request: Request, kind: str, name: str) -> Response:
    try:
        await read_form(request)
        chosen = job_kind(kind)
        await run_in_threadpool(services(request).jobs.request_stop, chosen, name)
    except SlipwayError as error:
        return error_page(request, error)
    return back_to(job_path(chosen, name))


@router.get("/jobs/{kind}/{name}/logs/stream")
async def log_stream(
    request: Request,
    kind: str,
    name: str,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # a BIGINT
) -> Response:
    """The job's log lines after ``after``, then new ones, as server-sent events.

    Events: ``log`` (one line, its number as the event id, so a reconnecting browser
    resumes after the last line it got), ``status`` when the status changes, and ``end``
    once the job has ended and every line was sent.
    """
    svc = services(request).jobs
    try:
        chosen = job_kind(kind)
        await run_in_threadpool(svc.get_job, chosen, name)
    except SlipwayError as error:
        return error_page(request, error)
    resumed = request.headers.get("last-event-id", "")
    # A browser reconnecting says the last line it got; anything else is ignored.
    cursor = int(resumed) if resumed.isdigit() and len(resumed) < 19 else after
    return StreamingResponse(
        _events(request, svc, chosen, name, cursor),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event(name: str, data: Any, event_id: int | None = None) -> str:
    # JSON keeps a value on one "data:" line whatever characters a log line holds.
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data)}\n\n"


def _poll(
    svc: JobService, kind: JobKind, name: str, cursor: int
) -> tuple[Job, dict[str, Any], list[LogLine]]:
    """The job, its state as the page shows it, and its log lines after ``cursor``."""
    # The status is read before the lines: lines stored before a job ended are then
    # always read in the same poll that sees it ended, or an earlier one.
    job = svc.get_job(kind, name)
    state: dict[str, Any] = {"status": job.status.value, "secondary": job.secondary_status.value}
    if kind in CHILD_KIND:  # a parent's page changes when one of its jobs does
        counts = svc.child_status_counts(CHILD_KIND[kind], (kind, name))
        state["children"] = {status.value: count for status, count in counts.items()}
    return job, state, svc.read_logs(kind, name, cursor, LOG_BATCH)


async def _events(
    request: Request, svc: JobService, kind: JobKind, name: str, cursor: int
) -> AsyncIterator[str]:
    reported: dict[str, Any] | None = None
    while not await request.is_disconnected():
        try:
            job, state, lines = await run_in_threadpool(_poll, svc, kind, name, cursor)
        except NotFound as error:  # deleted while followed
            yield _event("end", {"message": error.message})
            return
        for line in lines:
            yield _event("log", line.message, line.line_number)
        if lines:
            cursor = lines[-1].line_number
        if state != reported:
            yield _event("status", state)
            reported = state
        if len(lines) == LOG_BATCH:
            continue  # more lines are waiting: no pause before the next batch
        if job.status.is_final:
            yield _event("end", state)
            return
        await asyncio.sleep(POLL_SECONDS)


# --- what a kind of job adds to its page -------------------------------------------------


def _details(platform: Any, job: Job) -> dict[str, Any]:
    describe = DETAILS.get(job.job_kind)
    if describe is None:
        return {}
    try:
        return describe(platform, job)
    except PydanticValidationError:
        # A job row whose spec is not a request of this version (written by an older
        # one, or by hand) still has its status, history and logs to show.
        return {}


def _training(platform: Any, job: Job) -> dict[str, Any]:
    """The training job's description, its metric curves and its trial component."""
    described = platform.training.describe_training_job(job.job_name)
    component = described.trial_component_name
    experiments = platform.experiments
    try:
        metrics = [m.metric_name for m in experiments.get_trial_component(component).metrics]
    except NotFound:  # its tracking was refused, or the component was deleted since
        return {"training": described, "component": None, "figures": []}
    figures = [
        (metric, charts.metric_curves(metric, {component: series}))
        for metric in metrics
        if (series := experiments.get_metric_curve(component, metric))[0]
    ]
    return {"training": described, "component": component, "figures": figures}


def _tuning(platform: Any, job: Job) -> dict[str, Any]:
    """The tuning job's training jobs best first, the best one, the objective over time."""
    described = platform.tuning.describe_hyper_parameter_tuning_job(job.job_name)
    summaries = platform.tuning.list_training_jobs_for_hyper_parameter_tuning_job(job.job_name)
    config = described.hyper_parameter_tuning_job_config
    objective = config.hyper_parameter_tuning_job_objective
    best = described.best_training_job
    return {
        "tuning": described,
        "objective": objective,
        "leaderboard": leaderboard(summaries, objective.type),
        "hyperparameters": sorted({n for s in summaries for n in s.tuned_hyper_parameters}),
        "best": best.training_job_name if best else None,
        "objective_chart": objective_over_time(summaries, objective) if summaries else None,
    }


DETAILS: dict[JobKind, Callable[[Any, Job], dict[str, Any]]] = {
    JobKind.TRAINING: _training,
    JobKind.TUNING: _tuning,
}


def _value(summary: TrainingJobSummary) -> float | None:
    metric = summary.final_hyper_parameter_tuning_job_objective_metric
    return metric.value if metric else None


def leaderboard(
    summaries: list[TrainingJobSummary], objective_type: ObjectiveType
) -> list[TrainingJobSummary]:
    """Training jobs with an objective value best first; then the others as they started."""
    sign = -1.0 if objective_type == ObjectiveType.MAXIMIZE else 1.0
    scored = [s for s in summaries if _value(s) is not None]
    scored.sort(key=lambda s: sign * (_value(s) or 0.0))  # sort is stable: ties by start
    return scored + [s for s in summaries if _value(s) is None]


def _plotly_time(moment: dt.datetime) -> str:
    # plotly.js reads dates without a time zone offset; times are stored in UTC.
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def objective_over_time(
    summaries: list[TrainingJobSummary], objective: Objective
) -> dict[str, Any]:
    """The objective of each finished training job by end time, and the best so far.

    The best-so-far line counts what the tuning job's best does: completed jobs only.
    """
    finished = sorted(
        [
            (_plotly_time(s.training_end_time), value, s)
            for s in summaries
            if (value := _value(s)) is not None and s.training_end_time is not None
        ],
        key=lambda item: item[0],
    )
    best_x: list[str] = []
    best_y: list[float | None] = []
    for index, (ended, _, _) in enumerate(finished):
        best = best_of([s for _, _, s in finished[: index + 1]], objective.type)
        if best is not None:
            best_x.append(ended)
            best_y.append(_value(best))
    objective_trace = {
        "type": "scatter",
        "mode": "markers",
        "name": objective.metric_name,
        "x": [ended for ended, _, _ in finished],
        "y": [value for _, value, _ in finished],
        "text": [s.training_job_name for _, _, s in finished],
        "marker": {"size": 9},
    }
    best_trace = {
        "type": "scatter",
        "mode": "lines",
        "name": "best so far",
        "x": best_x,
        "y": best_y,
        "line": {"shape": "hv"},
    }
    return {
        "data": [objective_trace, best_trace],
        "layout": {
            "title": {"text": f"{objective.metric_name} ({objective.type.value}) over time"},
            "xaxis": {"title": {"text": "training job end time (UTC)"}, "type": "date"},
            "yaxis": {"title": {"text": objective.metric_name}},
            "margin": {"t": 48, "r": 16, "b": 48, "l": 56},
        },
    }
