"""Training jobs: run a user's script under the container contract and track everything.

A job moves through Starting -> Downloading -> Training -> Uploading -> Completed (or
Failed / Stopped / MaxRuntimeExceeded). The process that creates a job watches it from a
thread (see jobs.lifecycle); the job's own process runs apart (see jobs.backend), so a
job outlives a server restart and is adopted by the next process that looks for orphans.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from slipway.artifacts.service import ArtifactService
from slipway.errors import AlreadyExists, NotFound, SlipwayError
from slipway.experiments.models import (
    Artifact,
    MetricPoint,
    Page,
    PrimaryStatus,
    Source,
)
from slipway.experiments.service import ExperimentsService
from slipway.jobs.backends import backend_for
from slipway.jobs.lifecycle import EndListener, JobLifecycle
from slipway.jobs.models import Job, JobKind, JobStatus, LogLine
from slipway.jobs.service import JobService
from slipway.names import check_name
from slipway.settings import Settings
from slipway.training.container import encoded_hyperparameters
from slipway.training.models import (
    JOB_NAME_LENGTH,
    SOURCE_TYPE,
    CreateTrainingJob,
    FinalMetric,
    StoppingCondition,
    TrainingJob,
    source_arn,
    trial_component_name,
)
from slipway.training.watcher import JobWatcher, PreparedFolder

log = logging.getLogger("slipway.training")
KIND = JobKind.TRAINING

MetricListener = Callable[[str, float, int], None]


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
        self.lifecycle = JobLifecycle(jobs, KIND, settings.max_parallel_jobs)
        self.backend = backend_for(settings)
        self.folders = Path(settings.home) / "jobs" / "training"  # one per job, by name
        self._listeners: dict[str, list[MetricListener]] = {}
        self._lock = threading.Lock()

    # --- the verbs ----------------------------------------------------------------------

    def create_training_job(
        self, request: CreateTrainingJob, tuning_job_name: str | None = None
    ) -> TrainingJob:
        return _describe(self.start_training_job(request, tuning_job_name), request)

    def start_training_job(
        self,
        request: CreateTrainingJob,
        tuning_job_name: str | None = None,
        prepared: PreparedFolder | None = None,
    ) -> Job:
        """Create a job and start watching it; its stored row, not yet a description.

        For callers that start many jobs and describe none (a tuning job's trials), which
        may have made its folder ready beforehand (``prepare_folder``).
        """
        name = request.training_job_name
        parent = (JobKind.TUNING, tuning_job_name) if tuning_job_name else None
        spec = request.to_wire()
        checked = False
        try:
            # One transaction for the check, the job row, its trial and trial component:
            # a job's fixed cost is mostly writes.
            with self.jobs.db.write():
                self._check_experiment_config(request)
                checked = True
                job = self.jobs.create_job(KIND, name, spec, parent=parent)
                self._create_trial_component(request)
        except AlreadyExists as error:
            if self._job_exists(name):
                self._drop_listeners(name)  # they listened for a job that was not started
                raise
            failure = error
        except SlipwayError as error:
            if not checked:  # a missing experiment or trial: refused, nothing recorded
                self._drop_listeners(name)
                raise
            failure = error
        else:
            self._watch_in_background(name, adopt=False, request=request, prepared=prepared)
            return job
        # The tracking was refused: the job is recorded, Failed with the reason.
        self._drop_listeners(name)
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
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        tuning_job_name: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[TrainingJob]:
        parent = (JobKind.TUNING, tuning_job_name) if tuning_job_name else None
        page = self.jobs.list_jobs(
            kind=KIND,
            status=status,
            parent=parent,
            name_contains=name_contains,
            max_results=max_results,
            next_token=next_token,
        )
        return Page[TrainingJob](
            items=[_describe(job) for job in page.items], next_token=page.next_token
        )

    def stop_training_job(self, name: str) -> TrainingJob:
        self.lifecycle.stop(name)
        return self.describe_training_job(name)

    def read_logs(self, name: str, after_line: int = 0, limit: int = 1000) -> list[LogLine]:
        return self.jobs.read_logs(KIND, name, after_line, limit)

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.05) -> TrainingJob:
        """Block until the job ends (or the timeout passes); returns its description."""
        return _describe(self.lifecycle.wait(name, timeout, poll))

    def add_metric_listener(self, name: str, listener: MetricListener) -> None:
        """Be told of every metric value a running job's logs yield (the tuner prunes so)."""
        with self._lock:
            self._listeners.setdefault(name, []).append(listener)

    def add_end_listener(self, name: str, listener: EndListener) -> None:
        """Be told when this process's watcher of a job has ended it, and how."""
        self.lifecycle.add_end_listener(name, listener)

    def notify_points(self, name: str, points: list[MetricPoint]) -> None:
        """Tell the metric listeners of a job about points its watcher stored."""
        for listener in self._listeners.get(name, []):
            for point in points:
                listener(point.metric_name, point.value, point.iteration_number or 0)

    def _drop_listeners(self, name: str) -> None:
        """Forget a job's listeners: its watcher is done, or was never started."""
        with self._lock:
            self._listeners.pop(name, None)
        self.lifecycle.drop_end_listeners(name)

    def adopt_orphans(self) -> list[str]:
        """Watch running jobs nobody watches (their watcher's process ended)."""
        return self.lifecycle.adopt_orphans(lambda name: self._watch_in_background(name, True))

    # --- checks and tracking ------------------------------------------------------------

    def _job_exists(self, name: str) -> bool:
        try:
            self.jobs.get_job(KIND, name)
        except NotFound:
            return False
        return True

    def _check_experiment_config(self, request: CreateTrainingJob) -> None:
        config = request.experiment_config
        if config is None:
            return
        if config.experiment_name is not None:
            self.experiments.require(experiment_name=config.experiment_name)
        elif config.trial_name is not None:  # without an experiment, the trial must exist
            self.experiments.require(trial_name=config.trial_name)

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

    def prepare_folder(self, request: CreateTrainingJob) -> PreparedFolder | None:
        """Make a job's folder ready before the job exists, so that it starts at once.

        None if that failed (the job's own start then meets the error and fails with it),
        or if the folder exists: it may be another job's, and the job's creation decides.
        """
        watcher = JobWatcher(self)
        if watcher.folder(request.training_job_name).root.exists():
            return None
        try:
            return watcher.prepare(request)
        except Exception:
            log.debug("preparing %s ahead failed", request.training_job_name, exc_info=True)
            return None

    def discard_folder(self, prepared: PreparedFolder) -> None:
        """Remove a folder made ready for a job that will not be created after all."""
        shutil.rmtree(JobWatcher(self).folder(prepared.name).root, ignore_errors=True)

    def _watch_in_background(
        self,
        name: str,
        adopt: bool,
        request: CreateTrainingJob | None = None,
        prepared: PreparedFolder | None = None,
    ) -> None:
        watcher = JobWatcher(self)

        def work() -> None:
            try:
                watcher.run(name, adopt, request, prepared)
            finally:
                with self._lock:
                    self._listeners.pop(name, None)

        on_error = functools.partial(watcher.on_error, name)
        self.lifecycle.run(name, work, on_error, queue=not adopt)


def _describe(job: Job, request: CreateTrainingJob | None = None) -> TrainingJob:
    """A job as DescribeTrainingJob answers; ``request``: its spec, validated already."""
    spec = request or CreateTrainingJob.model_validate(job.spec)
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
        stopping_condition=StoppingCondition(max_runtime_in_seconds=spec.max_run),
        experiment_config=spec.experiment_config,
        trial_component_name=trial_component_name(job.job_name),
        tuning_job_name=job.parent_job_name,
    )
