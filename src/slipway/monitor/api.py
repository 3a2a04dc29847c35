"""REST routes of Model Monitor: each route is one service call.

``/api/v1/monitoring/baselines``, ``/api/v1/monitoring-schedules[/{name}[/stop|start|
executions]]``, ``/api/v1/monitoring-executions[/{name}[/stop|files/{file}|report|
plotly.min.js|report.js|alerts]]``, ``/api/v1/monitoring/alert-deliveries`` and
``/api/v1/monitoring/ground-truth``.
Per-feature metrics go out on the server's ``/metrics`` (see ``slipway.monitor.metrics``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from starlette.concurrency import run_in_threadpool

from slipway.auth.guard import request_services
from slipway.monitor.executions import EXECUTION_FILES
from slipway.monitor.models import (
    BaselineResult,
    CreateMonitoringSchedule,
    EndpointName,
    ExecutionStatus,
    MonitoringExecution,
    MonitoringSchedule,
    PutGroundTruth,
    ScheduleName,
    ScheduleStatus,
    StartExecution,
    SuggestBaseline,
    UpdateMonitoringSchedule,
)
from slipway.monitor.report import scripts
from slipway.monitor.service import MonitorService
from slipway.names import entity_name
from slipway.server.headers import REPORT_POLICY
from slipway.wire import PageToken, Time, one_of

router = APIRouter(prefix="/api/v1", tags=["monitor"])
_Max = Annotated[int, Query(ge=1, le=1000)]


def service(request: Request) -> MonitorService:
    return request_services(request).monitor


Service = Annotated[MonitorService, Depends(service)]
ExecutionName = entity_name("monitoring execution name")
ExecutionFile = one_of(EXECUTION_FILES)


@router.post("/monitoring/baselines", status_code=201)
async def suggest_baseline(body: SuggestBaseline, svc: Service) -> BaselineResult:
    return await run_in_threadpool(svc.suggest_baseline, body)


@router.post("/monitoring-schedules", status_code=201, response_model_exclude_none=True)
def create_monitoring_schedule(body: CreateMonitoringSchedule, svc: Service) -> MonitoringSchedule:
    return svc.create_monitoring_schedule(body)


@router.get("/monitoring-schedules")
def list_monitoring_schedules(
    svc: Service,
    endpoint_name: EndpointName | None = None,
    status: ScheduleStatus | None = None,
    name_contains: str | None = None,
    max_results: _Max = 100,
    next_token: PageToken | None = None,
) -> dict[str, Any]:
    return svc.list_monitoring_schedules(
        endpoint_name=endpoint_name,
        status=status,
        name_contains=name_contains,
        max_results=max_results,
        next_token=next_token,
    ).to_wire()


@router.get("/monitoring-schedules/{name}", response_model_exclude_none=True)
def describe_monitoring_schedule(name: ScheduleName, svc: Service) -> MonitoringSchedule:
    return svc.describe_monitoring_schedule(name)


@router.patch("/monitoring-schedules/{name}", response_model_exclude_none=True)
def update_monitoring_schedule(
    name: ScheduleName, body: UpdateMonitoringSchedule, svc: Service
) -> MonitoringSchedule:
    return svc.update_monitoring_schedule(name, body)


@router.post("/monitoring-schedules/{name}/stop", response_model_exclude_none=True)
def stop_monitoring_schedule(name: ScheduleName, svc: Service) -> MonitoringSchedule:
    return svc.stop_monitoring_schedule(name)


@router.post("/monitoring-schedules/{name}/start", response_model_exclude_none=True)
def start_monitoring_schedule(name: ScheduleName, svc: Service) -> MonitoringSchedule:
    return svc.start_monitoring_schedule(name)


@router.delete("/monitoring-schedules/{name}", status_code=204)
def delete_monitoring_schedule(name: ScheduleName, svc: Service) -> Response:
    svc.delete_monitoring_schedule(name)
    return Response(status_code=204)


@router.post(
    "/monitoring-schedules/{name}/executions", status_code=201, response_model_exclude_none=True
)
def start_monitoring_execution(
    name: ScheduleName, body: StartExecution, svc: Service
) -> MonitoringExecution:
    return svc.start_monitoring_execution(name, body)


@router.get("/monitoring-executions")
def list_monitoring_executions(
    svc: Service,
    schedule_name: ScheduleName | None = None,
    endpoint_name: EndpointName | None = None,
    status: ExecutionStatus | None = None,
    max_results: _Max = 100,
    next_token: PageToken | None = None,
) -> dict[str, Any]:
    return svc.list_monitoring_executions(
        schedule_name=schedule_name,
        endpoint_name=endpoint_name,
        status=status,
        max_results=max_results,
        next_token=next_token,
    ).to_wire()


@router.get("/monitoring-executions/{name}", response_model_exclude_none=True)
def describe_monitoring_execution(name: ExecutionName, svc: Service) -> MonitoringExecution:
    return svc.describe_monitoring_execution(name)


@router.post("/monitoring-executions/{name}/stop", response_model_exclude_none=True)
def stop_monitoring_execution(name: ExecutionName, svc: Service) -> MonitoringExecution:
    return svc.stop_monitoring_execution(name)


@router.get(
    "/monitoring-executions/{name}/files/{file_name}",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def read_execution_file(name: ExecutionName, file_name: ExecutionFile, svc: Service) -> Response:
    content = svc.read_execution_file(name, file_name)
    if file_name.endswith(".html"):
        return _report(content)
    return Response(content, media_type="application/json")


@router.get("/monitoring-executions/{name}/report", response_class=HTMLResponse)
def read_report(name: ExecutionName, svc: Service) -> Response:
    """The execution's HTML report; it loads its scripts from beside itself."""
    return _report(svc.read_execution_file(name, "report.html"))


def _report(content: bytes) -> Response:
    # Sandboxed wherever it is opened: its feature names come from whoever calls an endpoint.
    return Response(
        content, media_type="text/html", headers={"Content-Security-Policy": REPORT_POLICY}
    )


# The report's scripts hold no data and need no token: a sandboxed report frame has no
# cookie to send (see server/middleware.py).
_SCRIPT = {
    "response_class": Response,
    "responses": {200: {"content": {"text/javascript": {}}}},
    "openapi_extra": {"security": []},
}


@router.get("/monitoring-executions/{name}/plotly.min.js", **_SCRIPT)
def plotly(name: ExecutionName) -> FileResponse:
    return _script("plotly.min.js")


@router.get("/monitoring-executions/{name}/report.js", **_SCRIPT)
def report_js(name: ExecutionName) -> FileResponse:
    return _script("report.js")


def _script(file_name: str) -> FileResponse:
    return FileResponse(
        scripts()[file_name],
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/monitoring/alert-deliveries")
def list_alert_deliveries(
    svc: Service, execution_name: str | None = None, schedule_name: str | None = None
) -> dict[str, Any]:
    deliveries = svc.list_alert_deliveries(execution_name, schedule_name)
    return {"Items": [d.to_wire() for d in deliveries]}


@router.post("/monitoring/alert-deliveries/retry")
def retry_alert_deliveries(svc: Service, now: Time | None = None) -> dict[str, int]:
    return {"Attempted": svc.retry_alert_deliveries(now)}


@router.post("/monitoring/ground-truth", status_code=201)
def put_ground_truth(body: PutGroundTruth, svc: Service) -> dict[str, Any]:
    return svc.put_ground_truth(body)
