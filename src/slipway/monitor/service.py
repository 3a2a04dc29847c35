"""Model Monitor: baselines, schedules, executions (jobs of kind MonitoringExecution),
the scheduler step, alerts and the retraining trigger.

An execution belongs to the process that created its job row. Scheduled executions are
named after their schedule and firing time, so the jobs table's unique (kind, name) is
the lock that lets several servers share one database and still run each execution
once: whoever inserts the row runs it, the others see it exists and move on. A running
execution's process beats a heartbeat; if it dies, another process adopts the execution
and runs it again from the start.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from slipway.artifacts.service import ArtifactService
from slipway.errors import AlreadyExists, NotFound, SlipwayError, ValidationError
from slipway.experiments.expressions import decode_token, encode_token
from slipway.experiments.models import Page
from slipway.jobs.models import Job, JobKind, JobStatus, SecondaryStatus
from slipway.jobs.service import JobService
from slipway.monitor import _execution, metrics
from slipway.monitor import formats as f
from slipway.monitor import schedule as cron
from slipway.monitor import tables as t
from slipway.monitor._baselines import suggest_baseline
from slipway.monitor._deliveries import Deliveries
from slipway.monitor._retrain import start_retraining
from slipway.monitor.models import (
    AlertDelivery,
    BaselineResult,
    CreateMonitoringSchedule,
    ExecutionStatus,
    MonitoringExecution,
    MonitoringSchedule,
    MonitoringType,
    PutGroundTruth,
    ScheduleStatus,
    StartExecution,
    SuggestBaseline,
    UpdateMonitoringSchedule,
    offset,
)
from slipway.settings import Settings
from slipway.store.db import Database

KIND = JobKind.MONITORING
ORPHAN_AFTER = dt.timedelta(seconds=60)
HEARTBEAT_SECONDS = 5.0
EXECUTION_FILES = ("statistics.json", "constraint_violations.json", "report.html")
log = logging.getLogger("slipway.monitor")


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
        self.serving = serving
        self.jobs = jobs
        self.artifacts = artifacts
        self.training = training
        self.settings = settings
        self.deliveries = Deliveries(database)
        self.wake = threading.Event()  # set when there is scheduler work to do at once
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, min(settings.max_parallel_jobs, 4)),
            thread_name_prefix="slipway-monitor",
        )
        self._owned: set[str] = set()
        self._lock = threading.Lock()
        self._beating = False
        metrics.publish(self)

    # --- baselines ----------------------------------------------------------------------

    def suggest_baseline(self, request: SuggestBaseline) -> BaselineResult:
        """Profile a data set; write statistics.json and constraints.json under output_uri."""
        return suggest_baseline(request, self._put)

    # --- schedules ----------------------------------------------------------------------

    def create_monitoring_schedule(self, request: CreateMonitoringSchedule) -> MonitoringSchedule:
        self._check_baseline(request)
        now = _now()
        with self.db.write() as conn:
            exists = conn.scalar(
                sa.select(t.monitoring_schedules.c.id).where(
                    t.monitoring_schedules.c.name == request.monitoring_schedule_name
                )
            )
            if exists is not None:
                raise AlreadyExists(
                    f"monitoring schedule {request.monitoring_schedule_name!r} exists already; "
                    "delete it first or pick another name"
                )
            conn.execute(
                sa.insert(t.monitoring_schedules).values(
                    name=request.monitoring_schedule_name,
                    endpoint_name=request.endpoint_name,
                    status=ScheduleStatus.SCHEDULED.value,
                    spec=request.to_wire(),
                    created_at=now,
                    modified_at=now,
                )
            )
        self.wake.set()
        return self.describe_monitoring_schedule(request.monitoring_schedule_name)

    def describe_monitoring_schedule(self, name: str) -> MonitoringSchedule:
        row = self._schedule_row(name)
        return self._describe_schedule(row)

    def list_monitoring_schedules(
        self,
        endpoint_name: str | None = None,
        status: ScheduleStatus | str | None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[MonitoringSchedule]:
        _check_page(max_results)
        s = t.monitoring_schedules
        query = sa.select(s)
        if endpoint_name:
            query = query.where(s.c.endpoint_name == endpoint_name)
        if status:
            query = query.where(s.c.status == _enum(ScheduleStatus, status, "schedule status"))
        if name_contains:
            query = query.where(s.c.name.contains(name_contains, autoescape=True))
        offset_ = decode_token(next_token)
        query = query.order_by(s.c.created_at.desc(), s.c.id.desc())
        with self.db.read() as conn:
            rows = list(conn.execute(query.offset(offset_).limit(max_results + 1)))
        items = [self._describe_schedule(row) for row in rows[:max_results]]
        token = encode_token(offset_ + max_results) if len(rows) > max_results else None
        return Page[MonitoringSchedule](items=items, next_token=token)

    def update_monitoring_schedule(
        self, name: str, update: UpdateMonitoringSchedule
    ) -> MonitoringSchedule:
        row = self._schedule_row(name)
        changes = update.model_dump(exclude_none=True)
        config = CreateMonitoringSchedule.model_validate(
            {**CreateMonitoringSchedule.model_validate(row.spec).model_dump(), **changes}
        )
        self._check_baseline(config)
        self._set_schedule(name, spec=config.to_wire())
        return self.describe_monitoring_schedule(name)

    def stop_monitoring_schedule(self, name: str) -> MonitoringSchedule:
        self._schedule_row(name)
        self._set_schedule(name, status=ScheduleStatus.STOPPED.value)
        return self.describe_monitoring_schedule(name)

    def start_monitoring_schedule(self, name: str) -> MonitoringSchedule:
        row = self._schedule_row(name)
        plan = cron.parse(CreateMonitoringSchedule.model_validate(row.spec).schedule_expression)
        # Firings missed while stopped are not made up; the next one counts.
        cursor = row.last_fired_at if plan.once else plan.latest_at_or_before(_now())
        self._set_schedule(name, status=ScheduleStatus.SCHEDULED.value, last_fired_at=cursor)
        return self.describe_monitoring_schedule(name)

    def delete_monitoring_schedule(self, name: str) -> None:
        """Delete a schedule; its executions and their files stay for the record."""
        self._schedule_row(name)
        with self.db.write() as conn:
            conn.execute(
                sa.delete(t.monitoring_schedules).where(t.monitoring_schedules.c.name == name)
            )

    # --- executions ---------------------------------------------------------------------

    def start_monitoring_execution(
        self, schedule_name: str, request: StartExecution
    ) -> MonitoringExecution:
        """Run one execution now over a window given by hand."""
        row = self._schedule_row(schedule_name)
        stamp = _now().strftime("%Y%m%d%H%M%S%f")[:17]
        name = f"{schedule_name}-manual-{stamp}"
        config = CreateMonitoringSchedule.model_validate(row.spec)
        output = (
            f"{config.output_uri.rstrip('/')}/{config.endpoint_name}/{schedule_name}/manual/{name}"
        )
        self._create_execution(
            name,
            config,
            request.data_analysis_end_time,
            request.data_analysis_start_time,
            request.data_analysis_end_time,
            output,
        )
        self._submit(name)
        return self.describe_monitoring_execution(name)

    def describe_monitoring_execution(self, name: str) -> MonitoringExecution:
        return _describe_execution(self.jobs.get_job(KIND, name))

    def list_monitoring_executions(
        self,
        schedule_name: str | None = None,
        endpoint_name: str | None = None,
        status: ExecutionStatus | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[MonitoringExecution]:
        """Executions, newest first, of a schedule or an endpoint (or all)."""
        _check_page(max_results)
        wanted = _enum(ExecutionStatus, status, "execution status") if status else None
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
                found = self.describe_monitoring_execution(name)
            except NotFound:
                continue
            if wanted is None or found.monitoring_execution_status == wanted:
                items.append(found)
        token = encode_token(position) if position < start + len(names) else None
        return Page[MonitoringExecution](items=items, next_token=token)

    def stop_monitoring_execution(self, name: str) -> MonitoringExecution:
        self.jobs.request_stop(KIND, name)
        return self.describe_monitoring_execution(name)

    def wait_for_execution(
        self, name: str, timeout: float = 300, poll: float = 0.1
    ) -> MonitoringExecution:
        deadline = time.monotonic() + timeout
        while True:
            found = self.describe_monitoring_execution(name)
            if found.monitoring_execution_status in _FINAL or time.monotonic() > deadline:
                return found
            time.sleep(poll)

    def read_execution_file(self, name: str, file_name: str) -> bytes:
        """statistics.json, constraint_violations.json or report.html of an execution."""
        if file_name not in EXECUTION_FILES:
            raise ValidationError(
                f"file {file_name!r} is not an execution file; use one of "
                + ", ".join(EXECUTION_FILES)
            )
        execution = self.describe_monitoring_execution(name)
        uri = self.jobs.get_job(KIND, name).result.get("Files", {}).get(file_name)
        if uri is None:
            raise NotFound(
                f"execution {name!r} ({execution.monitoring_execution_status}) has no "
                f"{file_name}; {execution.failure_reason or 'it has not finished'}"
            )
        return b"".join(self.artifacts.open(uri))

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
        started = []
        s = t.monitoring_schedules
        query = sa.select(s).where(s.c.status == ScheduleStatus.SCHEDULED.value)
        if schedule_name is not None:
            query = query.where(s.c.name == schedule_name)
        with self.db.read() as conn:
            rows = list(conn.execute(query))
        for row in rows:
            try:
                name = self._fire_if_due(row, now)
            except SlipwayError as error:
                log.error("monitoring schedule %s cannot fire: %s", row.name, error.message)
                self._set_schedule(row.name, failure_reason=error.message[:1024])
                continue
            if name:
                started.append(name)
        self.adopt_orphans()
        self.deliveries.retry_due(now)
        metrics.refresh(self)
        return started

    def adopt_orphans(self) -> list[str]:
        adopted = []
        for job in self.jobs.orphans(KIND, ORPHAN_AFTER):
            if job.job_name in self._owned:
                continue
            if self.jobs.claim(KIND, job.job_name, ORPHAN_AFTER):
                log.info("running monitoring execution %s again: its process is gone", job.job_name)
                self._submit(job.job_name)
                adopted.append(job.job_name)
        return adopted

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

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- firing -------------------------------------------------------------------------

    def _fire_if_due(self, row: Any, now: dt.datetime) -> str | None:
        config = CreateMonitoringSchedule.model_validate(row.spec)
        plan = cron.parse(config.schedule_expression)
        if plan.once:
            if row.last_fired_at is not None:
                return None
            fire = row.created_at
            start = now + offset(config.data_analysis_start_time or "-PT1H")
            end = now + offset(config.data_analysis_end_time or "PT0S")
            name = f"{row.name}-{fire:%Y%m%d%H%M%S}"
        else:
            fire = plan.latest_at_or_before(now)
            if fire <= (row.last_fired_at or row.created_at):
                return None
            start, end = plan.previous(fire), fire
            name = f"{row.name}-{fire:%Y%m%d%H%M}"
        output = (
            f"{config.output_uri.rstrip('/')}/{config.endpoint_name}/{row.name}/{fire:%Y/%m/%d/%H}"
        )
        try:
            self._create_execution(name, config, fire, start, end, output)
            claimed = True
        except (AlreadyExists, IntegrityError):
            claimed = False  # another server took this firing
        self._advance(row.name, fire)
        if not claimed:
            return None
        self._submit(name)
        return name

    def _create_execution(
        self,
        name: str,
        config: CreateMonitoringSchedule,
        scheduled: dt.datetime,
        start: dt.datetime,
        end: dt.datetime,
        output: str,
    ) -> Job:
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
        with self._lock:
            self._owned.add(name)
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

    def _advance(self, name: str, fire: dt.datetime) -> None:
        s = t.monitoring_schedules
        with self.db.write() as conn:
            conn.execute(
                sa.update(s)
                .where(
                    s.c.name == name, sa.or_(s.c.last_fired_at.is_(None), s.c.last_fired_at < fire)
                )
                .values(last_fired_at=fire)
            )

    def _submit(self, name: str) -> None:
        with self._lock:
            self._owned.add(name)
            if not self._beating:
                self._beating = True
                threading.Thread(
                    target=self._beat, name="slipway-monitor-heartbeat", daemon=True
                ).start()
        self._pool.submit(self._run, name)

    def _beat(self) -> None:
        """Heartbeats for every execution this process owns, queued or running."""
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            with self._lock:
                owned = list(self._owned)
            for name in owned:
                try:
                    self.jobs.heartbeat(KIND, name, None)
                except Exception:  # the database is away for a moment; beat again later
                    log.debug("heartbeat of %s failed", name, exc_info=True)

    # --- running ------------------------------------------------------------------------

    def _run(self, name: str) -> None:
        """The whole life of one execution; whatever happens it ends in a final status."""
        try:
            job = self.jobs.get_job(KIND, name)
            spec = job.spec
            config = CreateMonitoringSchedule.model_validate(spec["Config"])
            self.jobs.transition(
                KIND, name, SecondaryStatus.DOWNLOADING, "reading the captured data of the window"
            )
            ctx = _execution.Context(
                name=name,
                config=config,
                capture_uri=spec["CaptureUri"],
                start=dt.datetime.fromisoformat(spec["DataAnalysisStartTime"]),
                end=dt.datetime.fromisoformat(spec["DataAnalysisEndTime"]),
                output_uri=spec["OutputUri"],
                should_stop=lambda: self.jobs.stop_requested(KIND, name),
                log=lambda message: self.jobs.append_logs(KIND, name, [(time.time(), message)]),
                upload=self._put_file,
            )
            self._finish(job, config, ctx)
        except Exception as error:  # the scheduler must survive anything
            log.exception("monitoring execution %s failed", name)
            self._fail(name, f"InternalError: {error!r}")
        finally:
            with self._lock:
                self._owned.discard(name)

    def _finish(self, job: Job, config: CreateMonitoringSchedule, ctx: _execution.Context) -> None:
        name = job.job_name
        try:
            result = _execution.run(ctx)
        except _execution.Stopped:
            self.jobs.finish(
                KIND,
                name,
                JobStatus.STOPPED,
                result=_status_result(ExecutionStatus.STOPPED, "Stopped by request."),
            )
            return
        except SlipwayError as error:
            self._fail(name, error.message, config)
            return
        status = (
            ExecutionStatus.COMPLETED_WITH_VIOLATIONS
            if result.violations
            else ExecutionStatus.COMPLETED
        )
        values = {
            **_status_result(status, result.exit_message),
            "Files": result.files,
            "ViolationCount": len(result.violations),
            "RecordCount": result.record_count,
            "UnparseableRecordCount": result.unparseable,
            "Drift": {
                m.feature: m.value for m in result.metrics if m.name == "feature_baseline_drift"
            },
        }
        self.jobs.transition(KIND, name, SecondaryStatus.UPLOADING, "recording the results")
        if config.enable_cloudwatch_metrics:
            self._store_metrics(name, config, result)
        if result.violations and config.retraining is not None:
            values.update(
                start_retraining(
                    self.training, config.retraining, name, result.violations, result.files
                )
            )
        # Alerts are recorded before the execution is final (nothing is lost if the process
        # dies now) and sent after, so a slow webhook never holds the execution open.
        pending = self._record_alerts(
            job, config, status, values, result.violations, values["Drift"]
        )
        self.jobs.finish(KIND, name, JobStatus.COMPLETED, result=values)
        self._send_alerts(pending)

    def _fail(self, name: str, reason: str, config: CreateMonitoringSchedule | None = None) -> None:
        values = _status_result(ExecutionStatus.FAILED, f"Failed: {reason}")
        try:
            job = self.jobs.get_job(KIND, name)
            config = config or CreateMonitoringSchedule.model_validate(job.spec["Config"])
            pending = self._record_alerts(
                job, config, ExecutionStatus.FAILED, values, [], {}, reason
            )
            self.jobs.finish(KIND, name, JobStatus.FAILED, reason, result=values)
        except Exception:  # the job or its schedule is unreadable; end it all the same
            log.exception("recording the failure of %s", name)
            with contextlib.suppress(SlipwayError):
                self.jobs.finish(KIND, name, JobStatus.FAILED, reason, result=values)
            return
        self._send_alerts(pending)

    def _record_alerts(
        self,
        job: Job,
        config: CreateMonitoringSchedule,
        status: ExecutionStatus,
        values: dict[str, Any],
        violations: list[f.Violation],
        distances: dict[str, float],
        reason: str | None = None,
    ) -> list[int]:
        if not config.alert_rules:
            return []
        final = job.model_copy(
            update={"result": {**job.result, **values}, "failure_reason": reason}
        )
        described = _describe_execution(final).model_copy(
            update={"monitoring_execution_status": status}
        )
        return self.deliveries.record(
            config.alert_rules, described.to_wire(), status.value, violations, distances
        )

    def _send_alerts(self, pending: list[int]) -> None:
        try:
            self.deliveries.send(pending)
        except Exception:  # a delivery problem must not undo the execution; retried later
            log.exception("sending alerts failed; they stay pending and are tried again")

    def _store_metrics(
        self, name: str, config: CreateMonitoringSchedule, result: _execution.Result
    ) -> None:
        if not result.metrics:
            return
        now = _now()
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
        metrics.refresh(self)

    # --- helpers ------------------------------------------------------------------------

    def _check_baseline(self, config: CreateMonitoringSchedule) -> None:
        """Refuse a schedule whose baseline files cannot be read, before it ever runs."""
        model = (
            f.QualityConstraints
            if config.monitoring_type == MonitoringType.MODEL_QUALITY
            else f.Constraints
        )
        for uri, kind, what in (
            (config.constraints_uri, model, "constraints"),
            (config.statistics_uri, f.Statistics, "statistics"),
        ):
            if uri is None or (kind is f.Statistics and model is f.QualityConstraints):
                continue
            try:
                _execution.load(kind, uri, what)
            except SlipwayError as error:
                raise ValidationError(error.message) from None

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

    def _put(self, uri: str, data: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "document"
            path.write_bytes(data)
            self.artifacts.put_file_at(uri, path)

    def _put_file(self, uri: str, path: Path) -> None:
        self.artifacts.put_file_at(uri, path)

    def _schedule_row(self, name: str) -> Any:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(t.monitoring_schedules).where(t.monitoring_schedules.c.name == name)
            ).first()
        if row is None:
            raise NotFound(
                f"monitoring schedule {name!r} not found; list schedules with "
                "`slipway monitor schedule list`"
            )
        return row

    def _set_schedule(self, name: str, **values: Any) -> None:
        with self.db.write() as conn:
            conn.execute(
                sa.update(t.monitoring_schedules)
                .where(t.monitoring_schedules.c.name == name)
                .values(modified_at=_now(), **values)
            )

    def _describe_schedule(self, row: Any) -> MonitoringSchedule:
        config = CreateMonitoringSchedule.model_validate(row.spec)
        plan = cron.parse(config.schedule_expression)
        latest = self.list_monitoring_executions(schedule_name=row.name, max_results=1).items
        upcoming = None
        if row.status == ScheduleStatus.SCHEDULED.value and not plan.once:
            upcoming = plan.next_after(max(_now(), row.last_fired_at or row.created_at))
        return MonitoringSchedule(
            monitoring_schedule_name=row.name,
            monitoring_schedule_status=ScheduleStatus(row.status),
            endpoint_name=row.endpoint_name,
            monitoring_type=config.monitoring_type,
            creation_time=row.created_at,
            last_modified_time=row.modified_at,
            failure_reason=row.failure_reason,
            next_scheduled_time=upcoming,
            monitoring_schedule_config=config,
            last_monitoring_execution_summary=latest[0] if latest else None,
        )


_FINAL = {
    ExecutionStatus.COMPLETED,
    ExecutionStatus.COMPLETED_WITH_VIOLATIONS,
    ExecutionStatus.FAILED,
    ExecutionStatus.STOPPED,
}


def _status_result(status: ExecutionStatus, message: str) -> dict[str, Any]:
    return {"MonitoringExecutionStatus": status.value, "ExitMessage": message}


def _describe_execution(job: Job) -> MonitoringExecution:
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


def _check_page(max_results: int) -> None:
    if not 1 <= max_results <= 1000:
        raise ValidationError(f"max_results {max_results} is out of range; use 1 to 1000")


def _enum(kind: type, value: Any, what: str) -> str:
    try:
        return kind(value).value
    except ValueError:
        raise ValidationError(
            f"{what} {value!r} is not valid; use one of " + ", ".join(v.value for v in kind)
        ) from None
