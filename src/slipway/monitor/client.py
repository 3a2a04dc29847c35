"""Remote mode for Model Monitor: the MonitorService's verbs over the REST API."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from urllib.parse import quote

from slipway._http import HttpClient
from slipway.experiments.models import Page
from slipway.jobs.waiting import wait_until
from slipway.monitor.models import (
    AlertDelivery,
    BaselineResult,
    CreateMonitoringSchedule,
    ExecutionStatus,
    MonitoringExecution,
    MonitoringSchedule,
    PutGroundTruth,
    ScheduleStatus,
    StartExecution,
    SuggestBaseline,
    UpdateMonitoringSchedule,
)

_SCHEDULES = "/monitoring-schedules"
_EXECUTIONS = "/monitoring-executions"
_FINAL = {
    ExecutionStatus.COMPLETED,
    ExecutionStatus.COMPLETED_WITH_VIOLATIONS,
    ExecutionStatus.FAILED,
    ExecutionStatus.STOPPED,
}


def _q(name: str) -> str:
    return quote(name, safe="")


class RemoteMonitor:
    """Model Monitor run by a slipway server."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def suggest_baseline(self, request: SuggestBaseline) -> BaselineResult:
        body = self.http.request("POST", "/monitoring/baselines", json=request.to_wire())
        return BaselineResult.model_validate(body)

    def create_monitoring_schedule(self, request: CreateMonitoringSchedule) -> MonitoringSchedule:
        body = self.http.request("POST", _SCHEDULES, json=request.to_wire())
        return MonitoringSchedule.model_validate(body)

    def describe_monitoring_schedule(self, name: str) -> MonitoringSchedule:
        return MonitoringSchedule.model_validate(
            self.http.request("GET", f"{_SCHEDULES}/{_q(name)}")
        )

    def list_monitoring_schedules(
        self,
        *,
        endpoint_name: str | None = None,
        status: ScheduleStatus | str | None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[MonitoringSchedule]:
        params = {
            "endpoint_name": endpoint_name,
            "status": str(status) if status else None,
            "name_contains": name_contains,
            "max_results": max_results,
            "next_token": next_token,
        }
        body = self.http.request("GET", _SCHEDULES, params=params)
        return Page[MonitoringSchedule](
            items=[MonitoringSchedule.model_validate(i) for i in body["Items"]],
            next_token=body.get("NextToken"),
        )

    def update_monitoring_schedule(
        self, name: str, update: UpdateMonitoringSchedule
    ) -> MonitoringSchedule:
        body = self.http.request("PATCH", f"{_SCHEDULES}/{_q(name)}", json=update.to_wire())
        return MonitoringSchedule.model_validate(body)

    def stop_monitoring_schedule(self, name: str) -> MonitoringSchedule:
        body = self.http.request("POST", f"{_SCHEDULES}/{_q(name)}/stop")
        return MonitoringSchedule.model_validate(body)

    def start_monitoring_schedule(self, name: str) -> MonitoringSchedule:
        body = self.http.request("POST", f"{_SCHEDULES}/{_q(name)}/start")
        return MonitoringSchedule.model_validate(body)

    def delete_monitoring_schedule(self, name: str) -> None:
        self.http.request("DELETE", f"{_SCHEDULES}/{_q(name)}")

    def start_monitoring_execution(
        self, schedule_name: str, request: StartExecution
    ) -> MonitoringExecution:
        body = self.http.request(
            "POST",
            f"{_SCHEDULES}/{_q(schedule_name)}/executions",
            json=request.model_dump(mode="json", by_alias=True),
        )
        return MonitoringExecution.model_validate(body)

    def describe_monitoring_execution(self, name: str) -> MonitoringExecution:
        return MonitoringExecution.model_validate(
            self.http.request("GET", f"{_EXECUTIONS}/{_q(name)}")
        )

    def list_monitoring_executions(
        self,
        *,
        schedule_name: str | None = None,
        endpoint_name: str | None = None,
        status: ExecutionStatus | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[MonitoringExecution]:
        params = {
            "schedule_name": schedule_name,
            "endpoint_name": endpoint_name,
            "status": str(status) if status else None,
            "max_results": max_results,
            "next_token": next_token,
        }
        body = self.http.request("GET", _EXECUTIONS, params=params)
        return Page[MonitoringExecution](
            items=[MonitoringExecution.model_validate(i) for i in body["Items"]],
            next_token=body.get("NextToken"),
        )

    def stop_monitoring_execution(self, name: str) -> MonitoringExecution:
        body = self.http.request("POST", f"{_EXECUTIONS}/{_q(name)}/stop")
        return MonitoringExecution.model_validate(body)

    def wait_for_execution(
        self, name: str, timeout: float = 300, poll: float = 0.2
    ) -> MonitoringExecution:
        return wait_until(
            lambda: self.describe_monitoring_execution(name),
            lambda found: found.monitoring_execution_status in _FINAL,
            timeout,
            poll,
        )

    def read_execution_file(self, name: str, file_name: str) -> bytes:
        return b"".join(self.http.stream(f"{_EXECUTIONS}/{_q(name)}/files/{_q(file_name)}", {}))

    def list_alert_deliveries(
        self, execution_name: str | None = None, schedule_name: str | None = None
    ) -> list[AlertDelivery]:
        params = {"execution_name": execution_name, "schedule_name": schedule_name}
        body = self.http.request("GET", "/monitoring/alert-deliveries", params=params)
        return [AlertDelivery.model_validate(item) for item in body["Items"]]

    def retry_alert_deliveries(self, now: dt.datetime | None = None) -> int:
        params = {"now": now.isoformat() if now else None}
        return self.http.request("POST", "/monitoring/alert-deliveries/retry", params=params)[
            "Attempted"
        ]

    def put_ground_truth(self, request: PutGroundTruth) -> dict[str, Any]:
        return self.http.request(
            "POST", "/monitoring/ground-truth", json=request.model_dump(mode="json", by_alias=True)
        )


@functools.cache
def remote_monitor(server_url: str, token: str | None) -> RemoteMonitor:
    return RemoteMonitor(HttpClient(server_url, token))
