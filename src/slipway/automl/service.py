"""AutoML jobs: infer the problem, explore the data, tune candidate pipelines, rank them.

An AutoML job is a job of kind AutoMLJob. Its candidates are training jobs, each a trial
in an experiment named after the AutoML job: one job per algorithm with default
hyperparameters and a tuning job (named after the AutoML job) over all algorithms, then
an ensemble of the best. The work runs in a watcher thread of the process that
created the job (see `automl.loop`); a job whose watcher went away is adopted by the next
slipway process that looks for orphans, which finishes it from its completed candidates.
"""

from __future__ import annotations

from typing import Any

from slipway.artifacts.service import ArtifactService
from slipway.automl import _data
from slipway.automl._recipes import MAXIMIZE
from slipway.automl.candidates import KIND, candidate
from slipway.automl.models import (
    AutoMLCandidate,
    AutoMLJob,
    AutoMLJobArtifacts,
    AutoMLJobObjective,
    CreateAutoMLJob,
    ResolvedAttributes,
)
from slipway.errors import AlreadyExists, NotFound, ValidationError
from slipway.experiments.models import Page
from slipway.experiments.service import ExperimentsService
from slipway.jobs.lifecycle import JobLifecycle
from slipway.jobs.models import Job, JobStatus
from slipway.jobs.service import JobService
from slipway.registry.service import RegistryService
from slipway.settings import Settings
from slipway.training.models import TrainingJob
from slipway.training.service import TrainingService
from slipway.tuning.service import TuningService

# Below this, not even one candidate per algorithm can be trained and validated.
MIN_TOTAL_RUNTIME_SECONDS = 20
SORT_BY = ("CreationTime", "Status", "FinalObjectiveMetricValue")


def automl_job_arn(name: str) -> str:
    return f"arn:slipway:automl-job/{name}"


class AutoMLService:
    """Creates, watches, stops and describes AutoML jobs and their candidates."""

    def __init__(
        self,
        jobs: JobService,
        training: TrainingService,
        tuning: TuningService,
        experiments: ExperimentsService,
        artifacts: ArtifactService,
        registry: RegistryService,
        settings: Settings,
    ) -> None:
        self.jobs = jobs
        self.training = training
        self.tuning = tuning
        self.experiments = experiments
        self.artifacts = artifacts
        self.registry = registry
        self.settings = settings
        self.lifecycle = JobLifecycle(jobs, KIND)

    # --- the verbs ----------------------------------------------------------------------

    def create_auto_ml_job(self, request: CreateAutoMLJob) -> AutoMLJob:
        """Check the request and the data (bad input is refused here), then start the job."""
        name = request.auto_ml_job_name
        self._check_new(name)
        total = request.criteria.max_auto_ml_job_runtime_in_seconds
        if total < MIN_TOTAL_RUNTIME_SECONDS:
            raise ValidationError(
                f"total_job_runtime_in_seconds={total} is too small to train anything: analysing "
                "the data and training one candidate per algorithm takes at least "
                f"{MIN_TOTAL_RUNTIME_SECONDS} s; raise it"
            )
        channel = request.channel
        frame = _data.read_table(channel.data_source.s3_data_source.s3_uri)
        objective = request.auto_ml_job_objective
        _data.analyse(
            frame,
            channel.target_attribute_name,
            request.problem_type,
            objective.metric_name if objective else None,
        )
        self.jobs.create_job(KIND, name, request.to_wire())
        self._watch_in_background(name)
        return self.describe_auto_ml_job(name)

    def describe_auto_ml_job(self, name: str) -> AutoMLJob:
        return self._describe(self.jobs.get_job(KIND, name))

    def list_auto_ml_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[AutoMLJob]:
        page = self.jobs.list_jobs(
            kind=KIND,
            status=status,
            name_contains=name_contains,
            max_results=max_results,
            next_token=next_token,
        )
        return Page[AutoMLJob](
            items=[self._describe(job) for job in page.items], next_token=page.next_token
        )

    def list_candidates_for_auto_ml_job(
        self,
        name: str,
        *,
        status_equals: JobStatus | str | None = None,
        candidate_name_equals: str | None = None,
        sort_by: str = "FinalObjectiveMetricValue",
        sort_order: str = "Descending",
        max_results: int = 100,
    ) -> list[AutoMLCandidate]:
        """The candidates, best first by default (best means the objective's direction)."""
        if sort_by not in SORT_BY:
            raise ValidationError(
                f"sort_by {sort_by!r} is not valid; use one of {', '.join(SORT_BY)}"
            )
        if sort_order not in ("Ascending", "Descending"):
            raise ValidationError(
                f"sort_order {sort_order!r} is not valid; use Ascending or Descending"
            )
        if not 1 <= max_results <= 100:
            raise ValidationError(f"max_results {max_results} is out of range; use 1 to 100")
        job = self.jobs.get_job(KIND, name)
        found = self._candidates(job)
        if status_equals is not None:
            found = [c for c in found if c.candidate_status == JobStatus(status_equals)]
        if candidate_name_equals is not None:
            found = [c for c in found if c.candidate_name == candidate_name_equals]
        maximize = MAXIMIZE.get(job.result.get("Objective", "Accuracy"), True)

        def key(c: AutoMLCandidate) -> Any:
            if sort_by == "CreationTime":
                return c.creation_time.timestamp()
            if sort_by == "Status":
                return str(c.candidate_status)
            metric = c.final_auto_ml_job_objective_metric
            if metric is None:  # candidates without a score come last either way
                return float("-inf") if sort_order == "Descending" else float("inf")
            return metric.value if maximize else -metric.value

        found.sort(key=key, reverse=sort_order == "Descending")
        return found[:max_results]

    def best_candidate(self, name: str) -> AutoMLCandidate | None:
        return self.describe_auto_ml_job(name).best_candidate

    def stop_auto_ml_job(self, name: str) -> AutoMLJob:
        """Ask the job to stop: its watcher stops the running candidates."""
        self.lifecycle.stop(name)
        return self.describe_auto_ml_job(name)

    def adopt_orphans(self) -> list[str]:
        """Watch AutoML jobs nobody watches (their watcher's process ended) to their end."""
        return self.lifecycle.adopt_orphans(lambda name: self._watch_in_background(name, True))

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.2) -> AutoMLJob:
        return self._describe(self.lifecycle.wait(name, timeout, poll))

    # --- internals ----------------------------------------------------------------------

    def _check_new(self, name: str) -> None:
        try:
            self.jobs.get_job(KIND, name)
        except NotFound:
            return
        raise AlreadyExists(f"AutoML job {name!r} exists already; AutoML job names are unique")

    def _watch_in_background(self, name: str, adopt: bool = False) -> None:
        from slipway.automl.loop import AutoMLLoop

        loop = AutoMLLoop(self, name, adopt)
        self.lifecycle.run(name, loop.run, loop.on_error)

    def candidate_jobs(self, job: Job) -> list[TrainingJob]:
        """Every training job of the AutoML job: defaults, tuning children, ensemble."""
        names = job.result.get("CandidateJobs", [])
        found = [self.training.describe_training_job(n) for n in names]
        try:
            self.tuning.describe_hyper_parameter_tuning_job(job.job_name)
        except NotFound:
            pass
        else:
            token = None
            while True:
                page = self.training.list_training_jobs(
                    tuning_job_name=job.job_name, max_results=1000, next_token=token
                )
                found += page.items
                token = page.next_token
                if not token:
                    break
        found += [
            self.training.describe_training_job(n) for n in job.result.get("EnsembleJobs", [])
        ]
        return found

    def _candidates(self, job: Job) -> list[AutoMLCandidate]:
        metric = job.result.get("Objective")
        return [candidate(child, metric, job.result) for child in self.candidate_jobs(job)]

    def _describe(self, job: Job) -> AutoMLJob:
        request = CreateAutoMLJob.model_validate(job.spec)
        result = job.result
        best = None
        if result.get("BestCandidate"):
            for c in self._candidates(job):
                if c.candidate_name == result["BestCandidate"]:
                    best = c
        resolved = None
        if result.get("ProblemType"):
            resolved = ResolvedAttributes(
                auto_ml_job_objective=AutoMLJobObjective(metric_name=result["Objective"]),
                problem_type=result["ProblemType"],
                completion_criteria=request.criteria,
                explanation={
                    "ProblemType": result.get("ProblemTypeReason", ""),
                    "AutoMLJobObjective": result.get("ObjectiveReason", ""),
                },
            )
        return AutoMLJob(
            auto_ml_job_name=job.job_name,
            auto_ml_job_arn=automl_job_arn(job.job_name),
            input_data_config=request.input_data_config,
            output_data_config=request.output_data_config,
            role_arn=request.role_arn,
            auto_ml_job_objective=request.auto_ml_job_objective,
            problem_type=request.problem_type,
            auto_ml_job_config=request.auto_ml_job_config,
            creation_time=job.creation_time,
            end_time=job.end_time,
            last_modified_time=job.last_modified_time,
            failure_reason=job.failure_reason,
            best_candidate=best,
            auto_ml_job_status=job.status,
            auto_ml_job_secondary_status=job.secondary_status,
            secondary_status_transitions=[t.to_wire() for t in job.secondary_status_transitions],
            generate_candidate_definitions_only=request.generate_candidate_definitions_only,
            auto_ml_job_artifacts=AutoMLJobArtifacts(
                candidate_definition_notebook_location=result.get("CandidateDefinitionNotebook"),
                data_exploration_notebook_location=result.get("DataExplorationNotebook"),
            ),
            resolved_attributes=resolved,
            warnings=result.get("Warnings", []),
            model_package_arn=result.get("ModelPackageArn"),
        )
