"""Training jobs: run a user's script under the container contract and track everything.

A job moves through Starting -> Downloading -> Training -> Uploading -> Completed (or
Failed / Stopped / MaxRuntimeExceeded). The process that creates a job watches it from a
thread; the job's own process is detached (see jobs.runner), so a job outlives a server
restart and is adopted by the next process that looks for orphans.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from slipway.artifacts.service import ArtifactService
from slipway.errors import AlreadyExists, NotFound, SlipwayError
from slipway.experiments.models import (
    Artifact,
    MetricPoint,
    Page,
    PrimaryStatus,
    Source,
    TrialComponentStatus,
)
from slipway.experiments.service import ExperimentsService
from slipway.jobs import runner
from slipway.jobs.models import Job, JobKind, JobStatus, LogLine, SecondaryStatus
from slipway.jobs.service import JobService, Stage
from slipway.names import check_name
from slipway.settings import Settings
from slipway.training.container import ContainerRoot, encoded_hyperparameters
from slipway.training.models import (
    JOB_NAME_LENGTH,
    CreateTrainingJob,
    FinalMetric,
    TrainingJob,
)

KIND = JobKind.TRAINING
SOURCE_TYPE = "SageMakerTrainingJob"
_ORPHAN_AFTER = dt.timedelta(seconds=15)
_LOG_TAIL = 10
_DOWNLOADING = "preparing the job folder"
_UPLOADING = "packing the model"

MetricListener = Callable[[str, float, int], None]
EndListener = Callable[[str], None]


def trial_component_name(job_name: str) -> str:
    """The reference's name of a training job's trial component."""
    return f"{job_name}-aws-training-job"


def source_arn(job_name: str) -> str:
    return f"arn:slipway:training-job/{job_name}"


class TrainingService:
    """Creates, watches, stops and describes training jobs."""

    def __init__(
        self,
        jobs: JobService,
        experiments: ExperimentsService,
        artifacts: ArtifactService,
        settings: Settings,
    ) -> None:
        self.jobs = jobs
        self.experiments = experiments
        self.artifacts = artifacts
        self.settings = settings
        self._slots = threading.BoundedSemaphore(settings.max_parallel_jobs)
        self._listeners: dict[str, list[MetricListener]] = {}
        self._end_listeners: dict[str, list[EndListener]] = {}
        self._watchers: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    # --- the verbs ----------------------------------------------------------------------

    def create_training_job(
        self, request: CreateTrainingJob, tuning_job_name: str | None = None
    ) -> TrainingJob:
        name = request.training_job_name
        self._check_experiment_config(request)
        parent = (JobKind.TUNING, tuning_job_name) if tuning_job_name else None
        spec = request.to_wire()
        try:
            # One transaction for the job row, its trial and trial component: a job's
            # fixed cost is mostly writes.
            with self.jobs.db.write():
                job = self.jobs.create_job(KIND, name, spec, parent=parent)
                self._create_trial_component(request)
        except AlreadyExists as error:
            if self._job_exists(name):
                raise
            failure = error
        except SlipwayError as error:
            failure = error
        else:
            self._watch_in_background(name, adopt=False, request=request)
            return _describe(job)
        # The tracking was refused: the job is recorded, Failed with the reason.
        self.jobs.create_job(KIND, name, spec, parent=parent)
        self.jobs.finish(KIND, name, JobStatus.FAILED, f"ClientError: {failure.message}")
        raise failure

    def upload_source(self, job_name: str, tarball: Iterable[bytes]) -> str:
        """Store a job's packed source folder; returns the URI to create the job with."""
        check_name("training job name", job_name, JOB_NAME_LENGTH)
        try:
            self.jobs.get_job(KIND, job_name)
        except NotFound:
            pass
        else:  # storing it would replace the source an existing job runs
            raise AlreadyExists(
                f"training job {job_name!r} exists already; job names are unique, pick another"
            )
        return self.artifacts.put(f"training-jobs/{job_name}/source/sourcedir.tar.gz", tarball).uri

    def describe_training_job(self, name: str) -> TrainingJob:
        return _describe(self.jobs.get_job(KIND, name))

    def list_training_jobs(
        self,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        tuning_job_name: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[TrainingJob]:
        parent = (JobKind.TUNING, tuning_job_name) if tuning_job_name else None
        page = self.jobs.list_jobs(KIND, status, parent, name_contains, max_results, next_token)
        return Page[TrainingJob](
            items=[_describe(job) for job in page.items], next_token=page.next_token
        )

    def stop_training_job(self, name: str) -> TrainingJob:
        self.jobs.request_stop(KIND, name)
        return self.describe_training_job(name)

    def read_logs(self, name: str, after_line: int = 0, limit: int = 1000) -> list[LogLine]:
        return self.jobs.read_logs(KIND, name, after_line, limit)

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.05) -> TrainingJob:
        """Block until the job ends (or the timeout passes); returns its description."""
        deadline = None if timeout is None else time.monotonic() + timeout
        watcher = self._watchers.get(name)
        if watcher is not None:
            watcher.join(timeout)
        while True:
            job = self.describe_training_job(name)
            if job.training_job_status.is_final:
                return job
            if deadline is not None and time.monotonic() > deadline:
                return job
            time.sleep(poll)

    def add_metric_listener(self, name: str, listener: MetricListener) -> None:
        """Be told of every metric value a running job's logs yield (the tuner prunes so)."""
        with self._lock:
            self._listeners.setdefault(name, []).append(listener)

    def add_end_listener(self, name: str, listener: EndListener) -> None:
        """Be told (with the job's name) when this process's watcher of a job has ended it."""
        with self._lock:
            self._end_listeners.setdefault(name, []).append(listener)

    def adopt_orphans(self) -> list[str]:
        """Watch running jobs nobody watches (their watcher's process ended)."""
        adopted = []
        for job in self.jobs.orphans(KIND, _ORPHAN_AFTER):
            if self.jobs.claim(KIND, job.job_name, _ORPHAN_AFTER):
                self._watch_in_background(job.job_name, adopt=True)
                adopted.append(job.job_name)
        return adopted

    # --- checks and tracking ------------------------------------------------------------

    def _job_exists(self, name: str) -> bool:
        try:
            self.jobs.get_job(KIND, name)
        except NotFound:
            return False
        return True

    def _check_experiment_config(self, request: CreateTrainingJob) -> None:
        config = request.experiment_config
        if config is None or config.experiment_name is None:
            if config is not None and config.trial_name is not None:
                self.experiments.get_trial(config.trial_name)
            return
        self.experiments.get_experiment(config.experiment_name)

    def _create_trial_component(self, request: CreateTrainingJob) -> None:
        name = request.training_job_name
        config = request.experiment_config
        display = config.trial_component_display_name if config else None
        self.experiments.create_trial_component(
            trial_component_name(name),
            display_name=display,
            status=PrimaryStatus.IN_PROGRESS,
            start_time=dt.datetime.now(dt.UTC),
            parameters=dict(request.hyperparameters),
            input_artifacts={
                channel: Artifact(value=spec.uri, media_type=spec.content_type)
                for channel, spec in request.input_data_config.items()
            },
            source=Source(source_arn=source_arn(name), source_type=SOURCE_TYPE),
        )
        if config and config.trial_name:
            if config.experiment_name is not None:
                # The trial of a tuning job's training job is new; any other may exist.
                with contextlib.suppress(AlreadyExists):
                    self.experiments.create_trial(config.trial_name, config.experiment_name)
            self.experiments.associate_trial_component(
                trial_component_name(name), config.trial_name
            )

    # --- watching -----------------------------------------------------------------------

    def _watch_in_background(
        self, name: str, adopt: bool, request: CreateTrainingJob | None = None
    ) -> None:
        thread = threading.Thread(
            target=self._run,
            args=(name, adopt, request),
            name=f"slipway-training-{name}",
            daemon=True,
        )
        self._watchers[name] = thread
        thread.start()

    def _root(self, name: str) -> ContainerRoot:
        return ContainerRoot(Path(self.settings.home) / "jobs" / "training" / name)

    def _run(self, name: str, adopt: bool, request: CreateTrainingJob | None) -> None:
        """The whole life of one job; any error ends it Failed with the reason."""
        try:
            if request is None:
                request = CreateTrainingJob.model_validate(self.jobs.get_job(KIND, name).spec)
            root = self._root(name)
            files = runner.JobFiles(root.root / "logs")
            if not adopt:
                with self._slots:
                    pid, started = self._start(request, root, files)
                    self._finish(request, root, self._follow(request, pid, files, started, 0))
                return
            pid = self.jobs.pid(KIND, name)
            if pid is None:
                self._fail(name, "the job's process was never started (its watcher stopped)")
                return
            # Lines the previous watcher stored are not stored (or scanned for metrics) twice.
            done = self._last_stored_line(name)
            job = self.jobs.get_job(KIND, name)
            started = (job.start_time or dt.datetime.now(dt.UTC)).timestamp()
            self._finish(request, root, self._follow(request, pid, files, started, done))
        except Exception as error:  # the job must end in a final status whatever happened
            reason = error.message if isinstance(error, SlipwayError) else repr(error)
            self._fail(
                name,
                f"ClientError: {reason}"
                if isinstance(error, SlipwayError)
                else f"InternalError: {reason}",
            )
        finally:
            with self._lock:
                self._listeners.pop(name, None)
                ended = self._end_listeners.pop(name, [])
            for listener in ended:
                listener(name)

    def _start(self, request: CreateTrainingJob, root: ContainerRoot, files: runner.JobFiles):
        name = request.training_job_name
        downloading = Stage(SecondaryStatus.DOWNLOADING, _DOWNLOADING, dt.datetime.now(dt.UTC))
        if request.input_data_config:  # data can take a while to fetch: say so now
            self.jobs.enter_stages(KIND, name, [downloading])
        if root.root.exists():
            shutil.rmtree(root.root)
        root.create()
        root.write_config(request)
        if request.source_uri:
            root.fetch_code(request.source_uri)
        for channel, spec in request.input_data_config.items():
            root.fetch_channel(channel, spec.uri)
        argv = root.command(request)
        env = self._environment(request, root)
        launched_at = dt.datetime.now(dt.UTC)
        pid = runner.launch(argv, env, root.code, files)
        started = time.time()
        # Without data the folder is ready in milliseconds: its stage is recorded now, with
        # its true times, in the write that records the start of training.
        training = Stage(SecondaryStatus.TRAINING, "running the entry point", launched_at)
        stages = [training] if request.input_data_config else [downloading, training]
        self.jobs.enter_stages(KIND, name, stages, pid)
        return pid, started

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
        pid: int,
        files: runner.JobFiles,
        started: float,
        skip_lines: int,
    ) -> runner.Outcome:
        name = request.training_job_name
        regexes = [(d.name, re.compile(d.regex)) for d in request.metric_definitions]
        steps = self._resume_metrics(name, regexes) if skip_lines else {}

        def on_lines(lines: list[tuple[float, str]]) -> None:
            points = _points(regexes, lines, steps)
            with self.jobs.db.write():  # a batch's lines and their points: one transaction
                self.jobs.append_logs(KIND, name, lines)
                if points:
                    self.experiments.log_metrics(trial_component_name(name), points)
            if points:
                for listener in self._listeners.get(name, []):
                    for point in points:
                        listener(point.metric_name, point.value, point.iteration_number or 0)

        return runner.watch(
            pid,
            files,
            runner.LogTail(files.log, skip_lines=skip_lines),
            on_lines,
            should_stop=lambda: self.jobs.stop_requested(KIND, name),
            heartbeat=lambda: self.jobs.heartbeat(KIND, name, pid),
            max_run_seconds=request.max_run,
            started_at=started,
            grace_seconds=self.settings.job_stop_grace_seconds,
        )

    def _finish(
        self, request: CreateTrainingJob, root: ContainerRoot, outcome: runner.Outcome
    ) -> None:
        name = request.training_job_name
        result: dict[str, Any] = {}
        succeeded = outcome.exit_code == 0 and not (outcome.stopped or outcome.timed_out)
        model_dir_used = _has_files(root.model)
        uploading_at = None  # when the Uploading stage began, if not recorded yet
        if succeeded or model_dir_used:
            uploading_at = dt.datetime.now(dt.UTC)
            if model_dir_used or _has_files(root.output_data):
                # Packing takes a while: say so now. Empty folders pack at once, and the
                # stage is recorded with the job's end, in one transaction.
                self.jobs.transition(KIND, name, SecondaryStatus.UPLOADING, _UPLOADING)
                uploading_at = None
            result.update(self._upload(request, root))
        outputs = {}
        if "ModelArtifacts" in result:
            model_uri = result["ModelArtifacts"]["S3ModelArtifacts"]
            outputs["SageMaker.ModelArtifact"] = Artifact(
                value=model_uri, media_type="application/x-tar"
            )
        status, secondary, reason = self._ending(request, root, outcome, succeeded)
        tc_status = {
            JobStatus.COMPLETED: PrimaryStatus.COMPLETED,
            JobStatus.STOPPED: PrimaryStatus.STOPPED,
        }.get(status, PrimaryStatus.FAILED)
        earlier = (
            [Stage(SecondaryStatus.UPLOADING, _UPLOADING, uploading_at)] if uploading_at else []
        )
        with self.jobs.db.write():  # the job and its trial component end together
            result["FinalMetricDataList"] = self._final_metrics(name)
            self.jobs.finish(KIND, name, status, reason, secondary, result, earlier)
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
        outcome: runner.Outcome,
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

    def _upload(self, request: CreateTrainingJob, root: ContainerRoot) -> dict[str, Any]:
        name = request.training_job_name
        base = (request.output_path or self.artifacts.uri_for("training-jobs")).rstrip("/")
        model_uri = f"{base}/{name}/output/model.tar.gz"
        with self.artifacts.writing(model_uri) as stream:
            root.pack_model(stream)
        result: dict[str, Any] = {"ModelArtifacts": {"S3ModelArtifacts": model_uri}}
        if root.has_output_data():
            output_uri = f"{base}/{name}/output/output.tar.gz"
            with self.artifacts.writing(output_uri) as stream:
                root.pack_output_data(stream)
            result["OutputDataUri"] = output_uri
        return result

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

    def _failure_reason(self, name: str, root: ContainerRoot, outcome: runner.Outcome) -> str:
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

    def _fail(self, name: str, reason: str) -> None:
        try:
            self.jobs.finish(KIND, name, JobStatus.FAILED, reason)
            self.experiments.update_trial_component(
                trial_component_name(name),
                status=TrialComponentStatus(
                    primary_status=PrimaryStatus.FAILED, message=reason[:1024]
                ),
                end_time=dt.datetime.now(dt.UTC),
            )
        except SlipwayError:
            pass  # the job or its component is gone; nothing left to mark


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


def _describe(job: Job) -> TrainingJob:
    spec = CreateTrainingJob.model_validate(job.spec)
    result = job.result
    training_time = None
    if job.end_time and job.start_time:
        training_time = int((job.end_time - job.start_time).total_seconds())
    return TrainingJob(
        training_job_name=job.job_name,
        training_job_status=job.status,
        secondary_status=job.secondary_status,
        secondary_status_transitions=job.secondary_status_transitions,
        failure_reason=job.failure_reason,
        hyper_parameters=encoded_hyperparameters(spec.hyperparameters),
        entry_point=spec.entry_point,
        input_data_config=spec.input_data_config,
        metric_definitions=spec.metric_definitions,
        model_artifacts=result.get("ModelArtifacts"),
        output_data_uri=result.get("OutputDataUri"),
        final_metric_data_list=[
            FinalMetric.model_validate(m) for m in result.get("FinalMetricDataList", [])
        ],
        creation_time=job.creation_time,
        training_start_time=job.start_time,
        training_end_time=job.end_time,
        last_modified_time=job.last_modified_time,
        training_time_in_seconds=training_time,
        experiment_config=spec.experiment_config,
        trial_component_name=trial_component_name(job.job_name),
        tuning_job_name=job.parent_job_name,
    )
