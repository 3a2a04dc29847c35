"""Monitoring executions as they are stored: a row of the shared ``jobs`` table (kind
MonitoringExecution) with the window and files, a row of ``monitoring_executions`` that
ties it to its schedule and endpoint for listing, and the per-feature metrics it found.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from slipway.artifacts.service import ArtifactService
from slipway.errors import NotFound, ValidationError
from slipway.experiments.expressions import decode_token, encode_token
from slipway.experiments.models import Page
from slipway.jobs.models import Job, JobKind, JobStatus, SecondaryStatus
from slipway.jobs.service import JobService
from slipway.monitor import _execution
from slipway.monitor import tables as t
from slipway.monitor._listing import check_page_size, enum_value
from slipway.monitor.models import (
    CreateMonitoringSchedule,
    ExecutionStatus,
    MonitoringExecution,
    MonitoringType,
)
from slipway.store.db import Database

KIND = JobKind.MONITORING
EXECUTION_FILES = ("statistics.json", "constraint_violations.json", "report.html")


def status_result(status: ExecutionStatus, message: str) -> dict[str, Any]:
    """The part of a job's result that says how its execution ended."""
    return {"MonitoringExecutionStatus": status.value, "ExitMessage": message}


def describe_execution(job: Job) -> MonitoringExecution:
    spec, result = job.spec, job.result
    status = result.get("MonitoringExecutionStatus")
    if status is None or not job.status.is_final:
        status = {
            JobStatus.IN_PROGRESS: ExecutionStatus.IN_PROGRESS,
            JobStatus.STOPPING: ExecutionStatus.STOPPING,
            JobStatus.STOPPED: ExecutionStatus.STOPPED,
            JobStatus.FAILED: ExecutionStatus.FAILED,
            JobStatus.COMPLETED: ExecutionStatus.COMPLETED,
        }[job.status]
        if job.status == JobStatus.IN_PROGRESS and job.secondary_status == SecondaryStatus.STARTING:
            status = ExecutionStatus.PENDING
    files = result.get("Files", {})
    return MonitoringExecution(
        monitoring_execution_name=job.job_name,
        monitoring_schedule_name=spec["MonitoringScheduleName"],
        endpoint_name=spec["EndpointName"],
        monitoring_type=MonitoringType(spec.get("MonitoringType", "DataQuality")),
        monitoring_execution_status=ExecutionStatus(status),
        scheduled_time=dt.datetime.fromisoformat(spec["ScheduledTime"]),
        data_analysis_start_time=dt.datetime.fromisoformat(spec["DataAnalysisStartTime"]),
        data_analysis_end_time=dt.datetime.fromisoformat(spec["DataAnalysisEndTime"]),
        creation_time=job.creation_time,
        last_modified_time=job.last_modified_time,
        end_time=job.end_time,
        failure_reason=job.failure_reason,
        exit_message=result.get("ExitMessage"),
        statistics_uri=files.get("statistics.json"),
        constraint_violations_uri=files.get("constraint_violations.json"),
        report_uri=files.get("report.html"),
        violation_count=result.get("ViolationCount"),
        record_count=result.get("RecordCount"),
        unparseable_record_count=result.get("UnparseableRecordCount"),
        retraining_job_name=result.get("RetrainingJobName"),
        secondary_status_transitions=job.secondary_status_transitions,
    )


class ExecutionStore:
    """The monitoring executions of one metadata database and artifact store."""

    def __init__(
        self,
        database: Database,
        jobs: JobService,
        artifacts: ArtifactService,
        serving: Any = None,
    ) -> None:
        self.db = database
        self.jobs = jobs
        self.artifacts = artifacts
        self.serving = serving

    def create(
        self,
        name: str,
        config: CreateMonitoringSchedule,
        scheduled: dt.datetime,
        start: dt.datetime,
        end: dt.datetime,
        output: str,
    ) -> Job:
        """Store a new execution; its job row's unique name is the claim on running it."""
        spec = {
            "MonitoringScheduleName": config.monitoring_schedule_name,
            "EndpointName": config.endpoint_name,
            "MonitoringType": config.monitoring_type.value,
            "ScheduledTime": scheduled.isoformat(),
            "DataAnalysisStartTime": start.isoformat(),
            "DataAnalysisEndTime": end.isoformat(),
            "OutputUri": output,
            "CaptureUri": self._capture_uri(config),
            "Config": config.to_wire(),
        }
        job = self.jobs.create_job(KIND, name, spec)
        with self.db.write() as conn:
            conn.execute(
                sa.insert(t.monitoring_executions).values(
                    name=name,
                    schedule_name=config.monitoring_schedule_name,
                    endpoint_name=config.endpoint_name,
                    scheduled_time=scheduled,
                    created_at=job.creation_time,
                )
            )
        return job

    def describe(self, name: str) -> MonitoringExecution:
        return describe_execution(self.jobs.get_job(KIND, name))

    def list(
        self,
        *,
        schedule_name: str | None,
        endpoint_name: str | None,
        status: ExecutionStatus | str | None,
        max_results: int,
        next_token: str | None,
    ) -> Page[MonitoringExecution]:
        """Executions, newest first, of a schedule or an endpoint (or all)."""
        check_page_size(max_results)
        wanted = enum_value(ExecutionStatus, status, "execution status") if status else None
        e = t.monitoring_executions
        query = sa.select(e.c.name)
        if schedule_name:
            query = query.where(e.c.schedule_name == schedule_name)
        if endpoint_name:
            query = query.where(e.c.endpoint_name == endpoint_name)
        start = decode_token(next_token)
        query = query.order_by(e.c.created_at.desc(), e.c.id.desc())
        items: list[MonitoringExecution] = []
        position = start
        with self.db.read() as conn:
            names = list(conn.scalars(query.offset(start)))
        for name in names:
            if len(items) == max_results:
                break
            position += 1
            try:
                found = self.describe(name)
            except NotFound:
                continue
            if wanted is None or found.monitoring_execution_status == wanted:
                items.append(found)
        token = encode_token(position) if position < start + len(names) else None
        return Page[MonitoringExecution](items=items, next_token=token)

    def latest(self, schedule_name: str) -> MonitoringExecution | None:
        """The newest execution of a schedule, if it has any."""
        page = self.list(
            schedule_name=schedule_name,
            endpoint_name=None,
            status=None,
            max_results=1,
            next_token=None,
        )
        return page.items[0] if page.items else None

    def read_file(self, name: str, file_name: str) -> bytes:
        if file_name not in EXECUTION_FILES:
            raise ValidationError(
                f"file {file_name!r} is not an execution file; use one of "
                + ", ".join(EXECUTION_FILES)
            )
        execution = self.describe(name)
        uri = self.jobs.get_job(KIND, name).result.get("Files", {}).get(file_name)
        if uri is None:
            raise NotFound(
                f"execution {name!r} ({execution.monitoring_execution_status}) has no "
                f"{file_name}; {execution.failure_reason or 'it has not finished'}"
            )
        return b"".join(self.artifacts.open(uri))

    def store_metrics(
        self, name: str, config: CreateMonitoringSchedule, result: _execution.Result
    ) -> None:
        if not result.metrics:
            return
        now = dt.datetime.now(dt.UTC)
        rows = [
            {
                "execution_name": name,
                "schedule_name": config.monitoring_schedule_name,
                "endpoint_name": config.endpoint_name,
                "metric": m.name,
                "feature": m.feature[:256],
                "statistic": m.statistic,
                "value": m.value,
                "created_at": now,
            }
            for m in result.metrics
        ]
        with self.db.write() as conn:
            conn.execute(sa.insert(t.monitoring_metrics), rows)

    def latest_metrics(self) -> list[Any]:
        """The per-feature metrics of each schedule's latest execution."""
        m = t.monitoring_metrics
        latest = (
            sa.select(m.c.schedule_name, sa.func.max(m.c.created_at).label("at"))
            .group_by(m.c.schedule_name)
            .subquery()
        )
        query = sa.select(m).join(
            latest,
            sa.and_(m.c.schedule_name == latest.c.schedule_name, m.c.created_at == latest.c.at),
        )
        with self.db.read() as conn:
            return list(conn.execute(query))

    def _capture_uri(self, config: CreateMonitoringSchedule) -> str:
        """The schedule's capture URI, else the endpoint's DataCaptureConfig destination."""
        if config.data_capture_uri:
            return config.data_capture_uri
        if self.serving is not None:
            try:
                endpoint = self.serving.get_endpoint(config.endpoint_name)
            except NotFound:
                endpoint = None
            capture = getattr(endpoint, "data_capture_config", None)
            if capture is not None:
                return capture.destination_s3_uri
        return self.artifacts.uri_for("data-capture")
