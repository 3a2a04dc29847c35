"""Model Monitor: baselines, schedules, executions (jobs of kind MonitoringExecution),
the scheduler's tick, alerts and the retraining trigger.

The service holds the verbs; schedules are stored by ``schedules``, executions by
``executions``, fired by ``firing`` and run by ``runner``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from slipway.artifacts.service import ArtifactService
from slipway.errors import ValidationError
from slipway.experiments.models import Page
from slipway.jobs.service import JobService
from slipway.monitor import metrics
from slipway.monitor._baselines import suggest_baseline
from slipway.monitor._deliveries import Deliveries
from slipway.monitor.executions import ExecutionStore
from slipway.monitor.firing import Firing
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
from slipway.monitor.runner import ExecutionRunner
from slipway.monitor.schedules import ScheduleStore
from slipway.settings import Settings
from slipway.store.db import Database


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MonitorService:
    """Monitoring of one metadata database and artifact store."""

    def __init__(
        self,
        database: Database,
        jobs: JobService,
        artifacts: ArtifactService,
        training: Any,
        settings: Settings,
        serving: Any = None,
    ) -> None:
        self.db = database
        self.artifacts = artifacts
        self.deliveries = Deliveries(database)
        self.executions = ExecutionStore(database, jobs, artifacts, serving)
        self.schedules = ScheduleStore(database, self.executions.latest)
        self.runner = ExecutionRunner(
            jobs,
            self.executions,
            self.deliveries,
            artifacts,
            training,
            max_parallel=max(1, min(settings.max_parallel_jobs, 4)),
        )
        self.firing = Firing(self.schedules, self.executions, self.runner)
        self.wake = threading.Event()  # set when there is scheduler work to do at once
        metrics.publish(self)

    # --- baselines ----------------------------------------------------------------------

    def suggest_baseline(self, request: SuggestBaseline) -> BaselineResult:
        """Profile a data set; write statistics.json and constraints.json under output_uri."""
        return suggest_baseline(request, self._put)

    # --- schedules ----------------------------------------------------------------------

    def create_monitoring_schedule(self, request: CreateMonitoringSchedule) -> MonitoringSchedule:
        self.schedules.create(request)
        self.wake.set()
        return self.describe_monitoring_schedule(request.monitoring_schedule_name)

    def describe_monitoring_schedule(self, name: str) -> MonitoringSchedule:
        return self.schedules.describe(name)

    def list_monitoring_schedules(
        self,
        *,
        endpoint_name: str | None = None,
        status: ScheduleStatus | str | None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[MonitoringSchedule]:
        return self.schedules.list(
            endpoint_name=endpoint_name,
            status=status,
            name_contains=name_contains,
            max_results=max_results,
            next_token=next_token,
        )

    def update_monitoring_schedule(
        self, name: str, update: UpdateMonitoringSchedule
    ) -> MonitoringSchedule:
        self.schedules.update(name, update)
        return self.describe_monitoring_schedule(name)

    def stop_monitoring_schedule(self, name: str) -> MonitoringSchedule:
        self.schedules.stop(name)
        return self.describe_monitoring_schedule(name)

    def start_monitoring_schedule(self, name: str) -> MonitoringSchedule:
        self.schedules.start(name)
        return self.describe_monitoring_schedule(name)

    def delete_monitoring_schedule(self, name: str) -> None:
        """Delete a schedule; its executions and their files stay for the record."""
        self.schedules.delete(name)

    # --- executions ---------------------------------------------------------------------

    def start_monitoring_execution(
        self, schedule_name: str, request: StartExecution
    ) -> MonitoringExecution:
        """Run one execution now over a window given by hand."""
        return self.describe_monitoring_execution(self.firing.fire_by_hand(schedule_name, request))

    def describe_monitoring_execution(self, name: str) -> MonitoringExecution:
        return self.executions.describe(name)

    def list_monitoring_executions(
        self,
        *,
        schedule_name: str | None = None,
        endpoint_name: str | None = None,
        status: ExecutionStatus | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[MonitoringExecution]:
        """Executions, newest first, of a schedule or an endpoint (or all)."""
        return self.executions.list(
            schedule_name=schedule_name,
            endpoint_name=endpoint_name,
            status=status,
            max_results=max_results,
            next_token=next_token,
        )

    def stop_monitoring_execution(self, name: str) -> MonitoringExecution:
        self.runner.stop(name)
        return self.describe_monitoring_execution(name)

    def wait_for_execution(
        self, name: str, timeout: float = 300, poll: float = 0.1
    ) -> MonitoringExecution:
        return self.runner.wait(name, timeout, poll)

    def read_execution_file(self, name: str, file_name: str) -> bytes:
        """statistics.json, constraint_violations.json or report.html of an execution."""
        return self.executions.read_file(name, file_name)

    # --- alerts and ground truth ----------------------------------------------------------

    def list_alert_deliveries(
        self, execution_name: str | None = None, schedule_name: str | None = None
    ) -> list[AlertDelivery]:
        return self.deliveries.list(execution_name, schedule_name)

    def retry_alert_deliveries(self, now: dt.datetime | None = None) -> int:
        return self.deliveries.retry_due(now)

    def put_ground_truth(self, request: PutGroundTruth) -> dict[str, Any]:
        """Store labels as reference ground-truth records under the hour they were collected."""
        when = (request.collection_time or _now()).astimezone(dt.UTC)
        lines = b"".join(
            orjson.dumps(
                {
                    "groundTruthData": {"data": str(r.label), "encoding": "CSV"},
                    "eventMetadata": {"eventId": r.event_id},
                    "eventVersion": "0",
                }
            )
            + b"\n"
            for r in request.records
        )
        stamp = when.strftime("%M-%S-%f")[:9]
        uri = (
            f"{request.ground_truth_uri.rstrip('/')}/{when:%Y/%m/%d/%H}/"
            f"{stamp}-{time.time_ns():x}.jsonl"
        )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "labels.jsonl"
            path.write_bytes(lines)
            try:
                self.artifacts.put_file_at(uri, path)
            except OSError as error:  # the URI names a file, a name too long...
                raise ValidationError(
                    "cannot write ground truth under GroundTruthUri "
                    f"{request.ground_truth_uri!r}: {error.strerror or error}"
                ) from None
        return {"Uri": uri, "RecordCount": len(request.records)}

    # --- the scheduler ------------------------------------------------------------------

    def tick(self, now: dt.datetime | None = None, schedule_name: str | None = None) -> list[str]:
        """Start the executions that are due; adopt orphans; retry alert deliveries.

        With ``schedule_name``, only that schedule's (a Kubernetes CronJob runs one).
        """
        now = now or _now()
        started = self.firing.fire_due(now, schedule_name)
        self.adopt_orphans()
        self.deliveries.retry_due(now)
        metrics.refresh(self)
        return started

    def adopt_orphans(self) -> list[str]:
        """Run executions again from the start whose process is gone."""
        return self.runner.adopt_orphans()

    def latest_metrics(self) -> list[Any]:
        """The per-feature metrics of each schedule's latest execution."""
        return self.executions.latest_metrics()

    def close(self) -> None:
        self.runner.close()

    def _put(self, uri: str, data: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "document"
            path.write_bytes(data)
            self.artifacts.put_file_at(uri, path)
