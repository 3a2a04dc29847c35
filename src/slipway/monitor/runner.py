"""Running monitoring executions: the analysis, then the record of how it ended, the
metrics, the retraining trigger and the alerts.

An execution belongs to the process that created its job row. The job life cycle
(``jobs.lifecycle``) beats a running execution's heartbeat; if its process dies, another
process adopts the execution and runs it again from the start.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from typing import Any

from slipway.artifacts.service import ArtifactService
from slipway.errors import SlipwayError
from slipway.jobs.lifecycle import JobLifecycle
from slipway.jobs.models import Job, JobStatus, SecondaryStatus
from slipway.jobs.service import JobService
from slipway.monitor import _execution, metrics
from slipway.monitor import formats as f
from slipway.monitor._deliveries import Deliveries
from slipway.monitor._retrain import start_retraining
from slipway.monitor.executions import KIND, ExecutionStore, describe_execution, status_result
from slipway.monitor.models import CreateMonitoringSchedule, ExecutionStatus, MonitoringExecution

log = logging.getLogger("slipway.monitor")


class ExecutionRunner:
    """Runs the executions this process claimed, a few at a time, in worker threads."""

    def __init__(
        self,
        jobs: JobService,
        executions: ExecutionStore,
        deliveries: Deliveries,
        artifacts: ArtifactService,
        training: Any,
        max_parallel: int,
    ) -> None:
        self.jobs = jobs
        self.executions = executions
        self.deliveries = deliveries
        self.artifacts = artifacts
        self.training = training
        self.lifecycle = JobLifecycle(jobs, KIND, max_parallel)

    def submit(self, name: str) -> None:
        """Queue a stored execution to run."""

        def fail(error: Exception) -> None:
            self._fail(name, f"InternalError: {error!r}")

        self.lifecycle.run(name, lambda: self._run(name), fail, queue=True)

    def stop(self, name: str) -> None:
        self.lifecycle.stop(name)

    def wait(self, name: str, timeout: float, poll: float) -> MonitoringExecution:
        return describe_execution(self.lifecycle.wait(name, timeout, poll))

    def adopt_orphans(self) -> list[str]:
        """Run executions again from the start whose process is gone."""
        return self.lifecycle.adopt_orphans(self.submit)

    def close(self) -> None:
        self.lifecycle.close()

    def _run(self, name: str) -> None:
        """The whole life of one execution, run by its life cycle."""
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
            should_stop=lambda: self.lifecycle.stop_requested(name),
            log=lambda message: self.jobs.append_logs(KIND, name, [(time.time(), message)]),
            upload=self.artifacts.put_file_at,
        )
        self._finish(job, config, ctx)

    def _finish(self, job: Job, config: CreateMonitoringSchedule, ctx: _execution.Context) -> None:
        name = job.job_name
        try:
            result = _execution.run(ctx)
        except _execution.Stopped:
            self.lifecycle.finish(
                name,
                JobStatus.STOPPED,
                result=status_result(ExecutionStatus.STOPPED, "Stopped by request."),
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
            **status_result(status, result.exit_message),
            "Files": result.files,
            "ViolationCount": len(result.violations),
            "RecordCount": result.record_count,
            "UnparseableRecordCount": result.unparseable,
            "Drift": {
                m.feature: m.value for m in result.metrics if m.name == "feature_baseline_drift"
            },
        }
        self.jobs.transition(KIND, name, SecondaryStatus.UPLOADING, "recording the results")
        if config.enable_cloudwatch_metrics and result.metrics:
            self.executions.store_metrics(name, config, result)
            metrics.refresh(self.executions)
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
        self.lifecycle.finish(name, JobStatus.COMPLETED, result=values)
        self._send_alerts(pending)

    def _fail(self, name: str, reason: str, config: CreateMonitoringSchedule | None = None) -> None:
        values = status_result(ExecutionStatus.FAILED, f"Failed: {reason}")
        try:
            job = self.jobs.get_job(KIND, name)
            config = config or CreateMonitoringSchedule.model_validate(job.spec["Config"])
            pending = self._record_alerts(
                job, config, ExecutionStatus.FAILED, values, [], {}, reason
            )
            self.lifecycle.finish(name, JobStatus.FAILED, reason, result=values)
        except Exception:  # the job or its schedule is unreadable; end it all the same
            log.exception("recording the failure of %s", name)
            with contextlib.suppress(SlipwayError):
                self.lifecycle.finish(name, JobStatus.FAILED, reason, result=values)
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
        described = describe_execution(final).model_copy(
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
