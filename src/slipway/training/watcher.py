"""The life of one training job's process: its folder, its run, its end.

A watcher is the work the job life cycle (``jobs.lifecycle``) runs in a thread of the
process that created (or adopted) the job. It prepares the container folder, starts the
script with the job backend (``jobs.backend``), stores its log and the metric points the
regexes find in it, packs the model and ends the job and its trial component.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.errors import SlipwayError
from slipway.experiments.models import (
    Artifact,
    MetricPoint,
    PrimaryStatus,
    TrialComponentStatus,
)
from slipway.jobs.backend import Command, JobProcess, JobRef, Outcome, follow
from slipway.jobs.lifecycle import failure_reason
from slipway.jobs.models import JobKind, JobStatus, LogLine, SecondaryStatus, Stage
from slipway.store.artifacts import ArtifactInfo
from slipway.training.container import ContainerRoot
from slipway.training.models import CreateTrainingJob, source_arn, trial_component_name

if TYPE_CHECKING:
    from slipway.training.service import TrainingService

KIND = JobKind.TRAINING
_LOG_TAIL = 10
_DOWNLOADING = "preparing the job folder"
_UPLOADING = "packing the model"


@dataclass(frozen=True)
class PreparedFolder:
    """A job's folder made ready ahead of its start, and the command to run in it."""

    name: str
    command: Command


class JobWatcher:
    """Watches one job for a TrainingService; ``run`` is the thread's target."""

    def __init__(self, service: TrainingService) -> None:
        self.service = service
        self.jobs = service.jobs
        self.lifecycle = service.lifecycle
        self.backend = service.backend
        self.experiments = service.experiments
        self.artifacts = service.artifacts
        self.settings = service.settings

    def folder(self, name: str) -> ContainerRoot:
        """The job's stand-in for /opt/ml."""
        return ContainerRoot(self.service.folders / name)

    def run(
        self,
        name: str,
        adopt: bool,
        request: CreateTrainingJob | None,
        prepared: PreparedFolder | None = None,
    ) -> None:
        """The whole life of one job, from its start or its adoption to its end.

        ``prepared``: its folder, made ready before the job was created.
        """
        job = None
        if request is None:  # an adopted job: what it runs is in its row
            job = self.jobs.get_job(KIND, name)
            request = CreateTrainingJob.model_validate(job.spec)
        root = self.folder(name)
        ref = JobRef(KIND, name, root.root / "logs")
        if not adopt:
            process, started = self._start(request, root, ref, prepared)
            self._finish(request, root, *self._follow(request, process, started, 0))
            return
        pid = self.jobs.pid(KIND, name)
        if pid is None:
            self.fail(name, "the job's process was never started (its watcher stopped)")
            return
        # Lines the previous watcher stored are not stored (or scanned for metrics) twice.
        done = self._last_stored_line(name)
        job = job or self.jobs.get_job(KIND, name)
        started = (job.start_time or dt.datetime.now(dt.UTC)).timestamp()
        process = self.backend.adopt(ref, pid, done)
        self._finish(request, root, *self._follow(request, process, started, done))

    def prepare(self, request: CreateTrainingJob) -> PreparedFolder:
        """Make the job's folder (config, code, data): what runs in it, and how."""
        root = self.folder(request.training_job_name)
        if root.root.exists():
            shutil.rmtree(root.root)
        root.create()
        root.write_config(request)
        # s3:// URIs of the server's own buckets are files of the artifact store.
        if request.source_uri:
            root.fetch_code(self.artifacts.resolve(request.source_uri), self.settings)
        for channel, spec in request.input_data_config.items():
            root.fetch_channel(channel, self.artifacts.resolve(spec.uri))
        command = Command(root.command(request), self._environment(request, root), root.code)
        return PreparedFolder(request.training_job_name, command)

    def _start(
        self,
        request: CreateTrainingJob,
        root: ContainerRoot,
        ref: JobRef,
        prepared: PreparedFolder | None,
    ) -> tuple[JobProcess, float]:
        name = request.training_job_name
        downloading = Stage(SecondaryStatus.DOWNLOADING, _DOWNLOADING, dt.datetime.now(dt.UTC))
        entered = False
        if prepared is None:
            if request.input_data_config:  # data can take a while to fetch: say so now
                self.jobs.enter_stages(KIND, name, [downloading])
                entered = True
            prepared = self.prepare(request)
        launched_at = dt.datetime.now(dt.UTC)
        process = self.backend.start(ref, prepared.command)
        started = time.time()
        # A folder ready in milliseconds (or before the job) has its stage recorded now,
        # with its true times, in the write that records the start of training.
        training = Stage(SecondaryStatus.TRAINING, "running the entry point", launched_at)
        stages = [training] if entered else [downloading, training]
        self.jobs.enter_stages(KIND, name, stages, process.identity)
        return process, started

    def _environment(self, request: CreateTrainingJob, root: ContainerRoot) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        env.update(request.environment)
        env.update(root.environment(request, request.source_uri))
        env.update(
            {
                "PYTHONUNBUFFERED": "1",  # log lines (and metrics) arrive as printed
                "SLIPWAY_HOME": str(self.settings.home),
                "SLIPWAY_DATABASE_URL": self.settings.resolved_database_url,
                "SLIPWAY_ARTIFACT_URI": self.settings.resolved_artifact_uri,
                "SLIPWAY_TRIAL_COMPONENT_NAME": trial_component_name(request.training_job_name),
                "TRAINING_JOB_ARN": source_arn(request.training_job_name),
            }
        )
        return env

    def _follow(
        self,
        request: CreateTrainingJob,
        process: JobProcess,
        started: float,
        skip_lines: int,
    ) -> tuple[Outcome, _LogScanner]:
        """Watch the job's process to its end."""
        name = request.training_job_name
        scanner = _LogScanner(self.service, request)
        if skip_lines:
            scanner.steps = self._resume_metrics(name, scanner.regexes)
        outcome = follow(
            process,
            scanner.store,
            should_stop=lambda: self.lifecycle.stop_requested(name),
            max_run_seconds=request.max_run,
            started_at=started,
            grace_seconds=self.settings.job_stop_grace_seconds,
        )
        return outcome, scanner

    def _finish(
        self,
        request: CreateTrainingJob,
        root: ContainerRoot,
        outcome: Outcome,
        scanner: _LogScanner,
    ) -> None:
        name = request.training_job_name
        result: dict[str, Any] = {}
        succeeded = outcome.exit_code == 0 and not (outcome.stopped or outcome.timed_out)
        model_dir_used = _has_files(root.model)
        uploading_at = None  # when the Uploading stage began, if not recorded yet
        stored: list[ArtifactInfo] = []  # packed files, recorded with the job's end
        if succeeded or model_dir_used:
            uploading_at = dt.datetime.now(dt.UTC)
            if model_dir_used or _has_files(root.output_data):
                # Packing takes a while: say so now. Empty folders pack at once, and the
                # stage is recorded with the job's end, in one transaction.
                self.jobs.transition(KIND, name, SecondaryStatus.UPLOADING, _UPLOADING)
                uploading_at = None
            packed, stored = self._upload(request, root)
            result.update(packed)
        outputs = {}
        if "ModelArtifacts" in result:
            model_uri = result["ModelArtifacts"]["S3ModelArtifacts"]
            outputs["SageMaker.ModelArtifact"] = Artifact(
                value=model_uri, media_type="application/x-tar"
            )
        earlier = (
            [Stage(SecondaryStatus.UPLOADING, _UPLOADING, uploading_at)] if uploading_at else []
        )
        # The last log lines, the job and its trial component end together, in one write.
        with self.jobs.db.write():
            for info in stored:
                self.artifacts.remember(info)
            scanner.store(outcome.last_lines)
            status, secondary, reason = self._ending(request, root, outcome, succeeded)
            tc_status = {
                JobStatus.COMPLETED: PrimaryStatus.COMPLETED,
                JobStatus.STOPPED: PrimaryStatus.STOPPED,
            }.get(status, PrimaryStatus.FAILED)
            result["FinalMetricDataList"] = self._final_metrics(name)
            self.lifecycle.finish(
                name, status, reason, secondary=secondary, result=result, stages=earlier
            )
            self.experiments.update_trial_component(
                trial_component_name(name),
                status=TrialComponentStatus(primary_status=tc_status, message=reason),
                end_time=dt.datetime.now(dt.UTC),
                output_artifacts=outputs or None,
            )

    def _ending(
        self,
        request: CreateTrainingJob,
        root: ContainerRoot,
        outcome: Outcome,
        succeeded: bool,
    ) -> tuple[JobStatus, SecondaryStatus, str | None]:
        """How a job whose process has ended ends: its status, last stage and reason."""
        if outcome.timed_out:
            reason = f"the job ran longer than max_run={request.max_run} seconds and was stopped"
            return JobStatus.STOPPED, SecondaryStatus.MAX_RUNTIME_EXCEEDED, reason
        if outcome.stopped:
            return JobStatus.STOPPED, SecondaryStatus.STOPPED, None
        if succeeded:
            return JobStatus.COMPLETED, SecondaryStatus.COMPLETED, None
        reason = self._failure_reason(request.training_job_name, root, outcome)
        return JobStatus.FAILED, SecondaryStatus.FAILED, reason

    def _resume_metrics(self, name: str, regexes: list[tuple[str, re.Pattern]]) -> dict[str, int]:
        """Steps per metric in the lines an earlier watcher stored, logging points it missed.

        A watcher stores a batch's log lines, then its metric points; one that died between
        the two left lines whose points are missing, and they are the last ones.
        """
        expected: dict[str, list[MetricPoint]] = {}
        steps: dict[str, int] = {}
        after = 0
        while page := self.jobs.read_logs(KIND, name, after, 1000):
            for point in _points(regexes, [(line.timestamp, line.message) for line in page], steps):
                expected.setdefault(point.metric_name, []).append(point)
            after = page[-1].line_number
        component = self.experiments.get_trial_component(trial_component_name(name))
        stored = {summary.metric_name: summary.count for summary in component.metrics}
        missing = [p for metric, found in expected.items() for p in found[stored.get(metric, 0) :]]
        if missing:
            self.experiments.log_metrics(trial_component_name(name), missing)
        return steps

    def _upload(
        self, request: CreateTrainingJob, root: ContainerRoot
    ) -> tuple[dict[str, Any], list[ArtifactInfo]]:
        """Pack the model (and output data) to their place: the result, and what to record."""
        name = request.training_job_name
        base = (request.output_path or self.artifacts.uri_for("training-jobs")).rstrip("/")
        model_uri = f"{base}/{name}/output/model.tar.gz"
        with self.artifacts.writing(model_uri, record=False) as stream:
            root.pack_model(stream)
        stored = [stream.info]
        result: dict[str, Any] = {"ModelArtifacts": {"S3ModelArtifacts": model_uri}}
        if root.has_output_data():
            output_uri = f"{base}/{name}/output/output.tar.gz"
            with self.artifacts.writing(output_uri, record=False) as stream:
                root.pack_output_data(stream)
            stored.append(stream.info)
            result["OutputDataUri"] = output_uri
        return result, stored

    def _final_metrics(self, name: str) -> list[dict[str, Any]]:
        # Every metric of the component: the log's and any the script logged with a Tracker.
        return [
            {
                "MetricName": summary.metric_name,
                "Value": summary.last,
                "Timestamp": (summary.time_stamp or dt.datetime.now(dt.UTC)).isoformat(),
            }
            for summary in self.experiments.metric_summaries(trial_component_name(name))
            if summary.last is not None
        ]

    def _failure_reason(self, name: str, root: ContainerRoot, outcome: Outcome) -> str:
        written = root.failure_reason()
        if written:
            return written
        if outcome.exit_code is None:
            return "AlgorithmError: the job's process ended without an exit code (killed?)"
        last = [line.message for line in self._last_log_lines(name)]
        tail = "\n".join(last)
        return f"AlgorithmError: exit code {outcome.exit_code}\n{tail}"[:1024]

    def _last_stored_line(self, name: str) -> int:
        lines = self._last_log_lines(name)
        return lines[-1].line_number if lines else 0

    def _last_log_lines(self, name: str) -> list[LogLine]:
        lines: list[LogLine] = []
        after = 0
        while True:
            page = self.jobs.read_logs(KIND, name, after, 1000)
            if not page:
                return lines[-_LOG_TAIL:]
            lines = (lines + page)[-_LOG_TAIL:]
            after = page[-1].line_number

    def on_error(self, name: str, error: Exception) -> None:
        """End a job whose watcher met an error Failed, with its trial component."""
        self.fail(name, failure_reason(error))

    def fail(self, name: str, reason: str) -> None:
        try:
            self.lifecycle.finish(name, JobStatus.FAILED, reason)
            self.experiments.update_trial_component(
                trial_component_name(name),
                status=TrialComponentStatus(
                    primary_status=PrimaryStatus.FAILED, message=reason[:1024]
                ),
                end_time=dt.datetime.now(dt.UTC),
            )
        except SlipwayError:
            pass  # the job or its component is gone; nothing left to mark


class _LogScanner:
    """Stores a job's log lines and the metric points its regexes find in them.

    Each metric's points are numbered in the order they appear (their step), and the
    tuner's listeners hear of each one once it is stored.
    """

    def __init__(self, service: TrainingService, request: CreateTrainingJob) -> None:
        self.service = service
        self.name = request.training_job_name
        self.regexes = [(d.name, re.compile(d.regex)) for d in request.metric_definitions]
        self.steps: dict[str, int] = {}

    def store(self, lines: list[tuple[float, str]]) -> None:
        if not lines:
            return
        points = _points(self.regexes, lines, self.steps)
        service = self.service
        with service.jobs.db.write():  # a batch's lines and their points: one transaction
            service.jobs.append_logs(KIND, self.name, lines)
            if points:
                service.experiments.log_metrics(trial_component_name(self.name), points)
        if points:
            service.notify_points(self.name, points)


def _has_files(folder: Path) -> bool:
    return folder.exists() and any(folder.iterdir())


def _points(
    regexes: list[tuple[str, re.Pattern]],
    lines: list[tuple[float, str]],
    steps: dict[str, int],
) -> list[MetricPoint]:
    """The metric points in log lines; ``steps`` counts each metric's points so far."""
    points = []
    for timestamp, line in lines:
        for metric, regex in regexes:
            found = regex.search(line)
            if found is None:
                continue
            try:
                value = float(found.group(1))
            except (TypeError, ValueError):
                continue
            step = steps.get(metric, 0)
            steps[metric] = step + 1
            points.append(
                MetricPoint(
                    metric_name=metric, value=value, timestamp=timestamp, iteration_number=step
                )
            )
    return points
