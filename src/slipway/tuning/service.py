"""Tuning jobs: a search over training jobs, with Optuna choosing the hyperparameters.

A tuning job is a job of kind HyperParameterTuningJob; its training jobs are its child
jobs, each a trial (named after the training job) in an experiment named after the
tuning job. The search runs in a watcher thread of the process that created the job
(see `tuning.loop`); a tuning job whose watcher went away is adopted by the next slipway
process that looks, which rebuilds the search from the jobs that already ran.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from slipway.artifacts.service import ArtifactService
from slipway.errors import AlreadyExists, Conflict, NotFound
from slipway.experiments.models import Page
from slipway.experiments.service import ExperimentsService
from slipway.jobs.lifecycle import JobLifecycle
from slipway.jobs.models import Job, JobStatus
from slipway.jobs.service import JobService
from slipway.settings import Settings
from slipway.training.models import TrainingJob
from slipway.training.service import TrainingService
from slipway.tuning.models import (
    CreateTuningJob,
    ObjectiveStatus,
    ObjectiveStatusCounters,
    ObjectiveType,
    TrainingJobStatusCounters,
    TrainingJobSummary,
    TuningJob,
    _tuning_job_name,
)
from slipway.tuning.summaries import KIND, summary


def tuning_job_arn(name: str) -> str:
    return f"arn:slipway:hyper-parameter-tuning-job/{name}"


class TuningService:
    """Creates, watches, stops and describes tuning jobs."""

    def __init__(
        self,
        jobs: JobService,
        training: TrainingService,
        experiments: ExperimentsService,
        artifacts: ArtifactService,
        settings: Settings,
    ) -> None:
        self.jobs = jobs
        self.training = training
        self.experiments = experiments
        self.artifacts = artifacts
        self.settings = settings
        self.lifecycle = JobLifecycle(jobs, KIND)

    # --- the verbs ----------------------------------------------------------------------

    def upload_source(self, job_name: str, tarball: Iterable[bytes]) -> str:
        """Store the packed source folder the tuning job's training jobs run."""
        _tuning_job_name(job_name)
        self._check_new(job_name)
        return self.artifacts.put(f"tuning-jobs/{job_name}/source/sourcedir.tar.gz", tarball).uri

    def create_hyper_parameter_tuning_job(self, request: CreateTuningJob) -> TuningJob:
        name = request.hyper_parameter_tuning_job_name
        self._check_new(name)
        self._check_parents(request)
        # A tuning job of that name may have been deleted: its experiment gets the new jobs.
        with contextlib.suppress(AlreadyExists):
            self.experiments.create_experiment(
                name, description=f"The training jobs of tuning job {name}"
            )
        self.jobs.create_job(KIND, name, request.to_wire())
        self._watch_in_background(name, adopt=False)
        return self.describe_hyper_parameter_tuning_job(name)

    def describe_hyper_parameter_tuning_job(self, name: str) -> TuningJob:
        return self._describe(self.jobs.get_job(KIND, name))

    def list_hyper_parameter_tuning_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[TuningJob]:
        page = self.jobs.list_jobs(
            kind=KIND,
            status=status,
            name_contains=name_contains,
            max_results=max_results,
            next_token=next_token,
        )
        return Page[TuningJob](
            items=[self._describe(job) for job in page.items], next_token=page.next_token
        )

    def list_training_jobs_for_hyper_parameter_tuning_job(
        self, name: str, status: JobStatus | str | None = None
    ) -> list[TrainingJobSummary]:
        """Every training job of a tuning job, in the order they were started."""
        job = self.jobs.get_job(KIND, name)
        return self._summaries(job, status)

    def stop_hyper_parameter_tuning_job(self, name: str) -> TuningJob:
        """Ask the tuning job to stop: its watcher stops every running training job."""
        self.lifecycle.stop(name)
        return self.describe_hyper_parameter_tuning_job(name)

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.1) -> TuningJob:
        """Block until the tuning job ends (or the timeout passes); returns its description."""
        return self._describe(self.lifecycle.wait(name, timeout, poll))

    def adopt_orphans(self) -> list[str]:
        """Watch tuning jobs nobody watches (their watcher's process ended)."""
        return self.lifecycle.adopt_orphans(lambda name: self._watch_in_background(name, True))

    # --- checks -------------------------------------------------------------------------

    def _check_new(self, name: str) -> None:
        try:
            self.jobs.get_job(KIND, name)
        except NotFound:
            return
        raise AlreadyExists(
            f"tuning job {name!r} exists already; tuning job names are unique, pick another"
        )

    def _check_parents(self, request: CreateTuningJob) -> None:
        if request.warm_start_config is None:
            return
        for parent in request.warm_start_config.parent_hyper_parameter_tuning_jobs:
            name = parent.hyper_parameter_tuning_job_name
            try:
                job = self.jobs.get_job(KIND, name)
            except NotFound:
                raise NotFound(
                    f"warm start parent tuning job {name!r} not found; list tuning jobs with "
                    "`slipway tuning list`"
                ) from None
            if not job.status.is_final:
                raise Conflict(
                    f"warm start parent tuning job {name!r} is {job.status}; a parent must "
                    "have ended (wait for it or stop it)"
                )

    # --- watching -----------------------------------------------------------------------

    def _watch_in_background(self, name: str, adopt: bool) -> None:
        from slipway.tuning.loop import TuningLoop

        loop = TuningLoop(self, name, adopt)
        self.lifecycle.run(name, loop.run, loop.on_error)

    # --- describing ---------------------------------------------------------------------

    def _summaries(
        self, job: Job, status: JobStatus | str | None = None
    ) -> list[TrainingJobSummary]:
        request = CreateTuningJob.model_validate(job.spec)
        objective = request.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective
        tuned_names = request.hyper_parameter_tuning_job_config.parameter_ranges.names
        early_stopped = set(job.result.get("EarlyStopped", []))
        children: list[TrainingJob] = []
        token = None
        while True:
            page = self.training.list_training_jobs(
                status=status, tuning_job_name=job.job_name, max_results=1000, next_token=token
            )
            children += page.items
            token = page.next_token
            if not token:
                break
        children.sort(key=lambda child: (child.creation_time, child.training_job_name))
        return [
            summary(child, tuned_names, objective.metric_name, objective.type, early_stopped)
            for child in children
        ]

    def _describe(self, job: Job) -> TuningJob:
        request = CreateTuningJob.model_validate(job.spec)
        objective = request.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective
        summaries = self._summaries(job)
        best = best_of(summaries, objective.type)
        overall = best
        if request.warm_start_config is not None:
            candidates = [best] if best else []
            for parent in request.warm_start_config.parent_hyper_parameter_tuning_jobs:
                try:
                    described = self.describe_hyper_parameter_tuning_job(
                        parent.hyper_parameter_tuning_job_name
                    )
                except NotFound:
                    continue
                if described.overall_best_training_job is not None:
                    candidates.append(described.overall_best_training_job)
            overall = best_of(candidates, objective.type)
        return TuningJob(
            hyper_parameter_tuning_job_name=job.job_name,
            hyper_parameter_tuning_job_arn=tuning_job_arn(job.job_name),
            hyper_parameter_tuning_job_config=request.hyper_parameter_tuning_job_config,
            training_job_definition=request.training_job_definition,
            warm_start_config=request.warm_start_config,
            hyper_parameter_tuning_job_status=job.status,
            failure_reason=job.failure_reason,
            creation_time=job.creation_time,
            hyper_parameter_tuning_end_time=job.end_time,
            last_modified_time=job.last_modified_time,
            training_job_status_counters=_status_counters(summaries),
            objective_status_counters=_objective_counters(summaries),
            best_training_job=best,
            overall_best_training_job=overall,
        )


def best_of(
    summaries: list[TrainingJobSummary], objective_type: ObjectiveType
) -> TrainingJobSummary | None:
    """The completed job with the best objective value (early-stopped jobs do not count)."""
    candidates = [
        s
        for s in summaries
        if s.training_job_status == JobStatus.COMPLETED
        and s.final_hyper_parameter_tuning_job_objective_metric is not None
    ]
    if not candidates:
        return None

    def value(s: TrainingJobSummary) -> float:
        metric = s.final_hyper_parameter_tuning_job_objective_metric
        assert metric is not None
        return metric.value if objective_type == ObjectiveType.MAXIMIZE else -metric.value

    return max(candidates, key=value)


def _status_counters(summaries: list[TrainingJobSummary]) -> TrainingJobStatusCounters:
    counts = {status: 0 for status in JobStatus}
    for s in summaries:
        counts[s.training_job_status] += 1
    return TrainingJobStatusCounters(
        completed=counts[JobStatus.COMPLETED],
        in_progress=counts[JobStatus.IN_PROGRESS] + counts[JobStatus.STOPPING],
        non_retryable_error=counts[JobStatus.FAILED],
        stopped=counts[JobStatus.STOPPED],
    )


def _objective_counters(summaries: list[TrainingJobSummary]) -> ObjectiveStatusCounters:
    return ObjectiveStatusCounters(
        succeeded=sum(s.objective_status == ObjectiveStatus.SUCCEEDED for s in summaries),
        pending=sum(s.objective_status == ObjectiveStatus.PENDING for s in summaries),
        failed=sum(s.objective_status == ObjectiveStatus.FAILED for s in summaries),
    )
