"""Studio's pages of Model Monitor schedules, executions, violations and distributions.

An execution's page reads the files the execution wrote (constraint_violations.json,
statistics.json) and the baseline statistics.json it was compared with, and embeds the
HTML report that ``slipway.monitor.report`` made, as the REST API serves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from slipway.errors import NotFound, SlipwayError
from slipway.jobs.models import JobKind
from slipway.monitor import formats as f
from slipway.monitor.distributions import FeatureChart, feature_charts, shown
from slipway.monitor.models import (
    CreateMonitoringSchedule,
    ExecutionStatus,
    MonitoringExecution,
    MonitoringType,
    ScheduleStatus,
)
from slipway.studio.common import PAGE_SIZE, error_page, render, services

router = APIRouter(include_in_schema=False)


@router.get("/monitor")
def schedules(
    request: Request,
    q: str = "",
    endpoint: str = "",
    status: str = "",
    token: str | None = None,
) -> Response:
    try:
        page = services(request).monitor.list_monitoring_schedules(
            endpoint_name=endpoint.strip() or None,
            status=status or None,
            name_contains=q.strip() or None,
            max_results=PAGE_SIZE,
            next_token=token,
        )
    except SlipwayError as error:
        return error_page(request, error)
    return render(
        request,
        "monitor_schedules.html",
        title="Model Monitor",
        page=page,
        q=q,
        endpoint=endpoint,
        status=status,
        statuses=list(ScheduleStatus),
    )


@router.get("/monitor/schedules/{name}")
def schedule(request: Request, name: str, status: str = "", token: str | None = None) -> Response:
    svc = services(request).monitor
    try:
        found = svc.describe_monitoring_schedule(name)
        page = svc.list_monitoring_executions(
            schedule_name=name, status=status or None, max_results=PAGE_SIZE, next_token=token
        )
    except SlipwayError as error:
        return error_page(request, error)
    return render(
        request,
        "monitor_schedule.html",
        title=name,
        schedule=found,
        config=found.monitoring_schedule_config,
        page=page,
        history=_history(page.items) if page.items else None,
        status=status,
        statuses=list(ExecutionStatus),
    )


def _history(executions: list[MonitoringExecution]) -> dict[str, Any]:
    """Violations found by each execution of the page, by the time it was scheduled for."""
    ordered = sorted(executions, key=lambda e: e.scheduled_time)
    colours = {
        ExecutionStatus.COMPLETED_WITH_VIOLATIONS: "#d62728",
        ExecutionStatus.FAILED: "#6e7781",
    }
    trace = {
        # Markers, not bars: an execution without violations must still show, at zero.
        "type": "scatter",
        "mode": "lines+markers",
        "name": "violations",
        "x": [e.scheduled_time.isoformat() for e in ordered],
        "y": [e.violation_count or 0 for e in ordered],
        "text": [e.monitoring_execution_status.value for e in ordered],
        "customdata": [e.monitoring_execution_name for e in ordered],
        "hovertemplate": "%{customdata}<br>%{text}: %{y} violations<extra></extra>",
        "line": {"color": "#8c959f"},
        "marker": {
            "size": 10,
            "color": [colours.get(e.monitoring_execution_status, "#1a7f37") for e in ordered],
        },
    }
    layout = {
        "title": {"text": "Violations per execution"},
        "xaxis": {"title": {"text": "scheduled time (UTC)"}, "type": "date"},
        "yaxis": {"title": {"text": "violations"}, "rangemode": "tozero"},
        "margin": {"t": 40, "r": 16, "b": 48, "l": 56},
    }
    return {"data": [trace], "layout": layout}


@dataclass
class Findings:
    """What an execution's files say; each part is missing when its file is."""

    violations: list[f.Violation] | None = None
    charts: list[FeatureChart] = field(default_factory=list)
    hidden: int = 0  # features of the statistics not drawn (too many for one page)
    baseline_uri: str | None = None
    problems: list[str] = field(default_factory=list)


@router.get("/monitor/executions/{name}")
def execution(request: Request, name: str) -> Response:
    try:
        found = services(request).monitor.describe_monitoring_execution(name)
    except SlipwayError as error:
        return error_page(request, error)
    findings = _findings(services(request), found)
    return render(
        request,
        "monitor_execution.html",
        title=name,
        execution=found,
        findings=findings,
        job_kind=JobKind.MONITORING.value,
    )


def _findings(platform: Any, execution: MonitoringExecution) -> Findings:
    name = execution.monitoring_execution_name
    findings = Findings()
    violations = _document(platform, name, "constraint_violations.json", f.Violations, findings)
    if violations is not None:
        findings.violations = violations.violations
    # Model-quality statistics are metrics, not feature distributions: the report has them.
    if execution.monitoring_type != MonitoringType.DATA_QUALITY:
        return findings
    current = _document(platform, name, "statistics.json", f.Statistics, findings)
    if current is None:
        return findings
    baseline = _baseline(platform, name, findings)
    charts = feature_charts(baseline, current, findings.violations or [])
    findings.charts, findings.hidden = shown(charts)
    return findings


def _document(
    platform: Any, name: str, file_name: str, model: type[f.M], findings: Findings
) -> f.M | None:
    try:
        raw = platform.monitor.read_execution_file(name, file_name)
        return f.parse(model, raw, f"{file_name} of execution {name!r}")
    except NotFound:
        return None  # the execution has not written it (yet, or it failed): nothing to show
    except SlipwayError as error:
        findings.problems.append(error.message)
        return None


def _baseline(platform: Any, name: str, findings: Findings) -> f.Statistics | None:
    """The baseline statistics this execution was compared with (its schedule's at the time)."""
    spec = platform.jobs.get_job(JobKind.MONITORING, name).spec
    uri = CreateMonitoringSchedule.model_validate(spec["Config"]).statistics_uri
    findings.baseline_uri = uri
    if uri is None:
        return None
    try:
        raw = b"".join(platform.artifacts.open(uri))
        return f.parse(f.Statistics, raw, f"the baseline statistics {uri}")
    except SlipwayError as error:
        findings.problems.append(f"{error.message}; only the current distributions are drawn")
        return None
