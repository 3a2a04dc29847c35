"""The life of one AutoML job, stage by stage, in a watcher thread.

Starting -> AnalyzingData (read, check, explore: the data exploration notebook) ->
FeatureEngineering (a preprocessing plan per column) -> ModelTuning (one candidate per
algorithm with defaults and a tuning job over all algorithms, whose trials take the
training slots the defaults free; then an ensemble of the best) -> MaxCandidatesReached
or MaxAutoMLJobRuntimeReached -> Completed; the best candidate is registered as a model
package. With GenerateCandidateDefinitionsOnly the job ends after FeatureEngineering in
CandidateDefinitionsGenerated.

The job's life cycle (`jobs.lifecycle`) runs this work and beats the job's heartbeat; a
job whose watcher's process died is adopted by another process, which finishes it from
the candidates already completed (`_take_over`).
The candidates' requests are built by `_requests`; waiting for and stopping them is
`_children`'s.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.automl import _children, _data, notebooks
from slipway.automl import _recipes as recipes
from slipway.automl._requests import CandidateSetup, source_tarball
from slipway.automl.candidates import KIND, candidate
from slipway.automl.models import CreateAutoMLJob
from slipway.errors import Conflict, SlipwayError
from slipway.jobs.models import JobStatus, SecondaryStatus
from slipway.registry.models import CreateModelPackageFromTrainingJob
from slipway.training.models import Channel

if TYPE_CHECKING:
    from slipway.automl.service import AutoMLService

log = logging.getLogger("slipway.automl")
ENSEMBLE_SIZE = 8


class _Stopped(Exception):
    """The user asked the job to stop."""


class AutoMLLoop:
    """Runs one AutoML job to its end in the calling thread."""

    def __init__(self, service: AutoMLService, name: str, adopt: bool = False) -> None:
        self.service = service
        self.name = name
        self.adopt = adopt
        self.jobs = service.jobs
        self.lifecycle = service.lifecycle
        self.runtime_reached = False

    # --- stages -------------------------------------------------------------------------

    def run(self) -> None:
        """The job's work, run by its life cycle: stage after stage, or a take-over."""
        try:
            job = self.jobs.get_job(KIND, self.name)
            self.request = CreateAutoMLJob.model_validate(job.spec)
            criteria = self.request.criteria
            self.deadline = time.time() + criteria.max_auto_ml_job_runtime_in_seconds
            self.root = Path(self.service.settings.home) / "automl" / self.name
            self.data_uri = self.request.channel.data_source.s3_data_source.s3_uri
            if self.adopt:
                self._take_over(job.secondary_status)
                return
            self._analyse()
            self._engineer()
            if self.request.generate_candidate_definitions_only:
                self._candidate_notebook([])
                self.lifecycle.finish(
                    self.name, JobStatus.COMPLETED,
                    secondary=SecondaryStatus.CANDIDATE_DEFINITIONS_GENERATED,
                )  # fmt: skip
                return
            self._tune()
            self._end()
        except _Stopped:
            self.lifecycle.finish(self.name, JobStatus.STOPPED)

    def on_error(self, error: Exception) -> None:
        """End the job Failed with the reason, its candidates stopped first."""
        reason = error.message if isinstance(error, SlipwayError) else repr(error)
        with contextlib.suppress(SlipwayError):
            _children.stop_children(self.service, self.name)
            self.lifecycle.finish(self.name, JobStatus.FAILED, reason)

    def _take_over(self, stage: SecondaryStatus) -> None:
        """Finish a job whose watcher's process died, from the candidates it completed.

        The search is not resumed: its state (the stage's progress, the tuning job's study,
        the time already spent) lived in the dead process, and starting the stages again
        would spend the budget twice. So the candidates still running are stopped, the
        completed ones ranked, the best registered, and the job ends Completed with a
        status message saying it was resumed; with no completed candidate it ends Failed
        with the reason. A stop asked for while nobody watched is honoured first.
        """
        self._check_stop()
        _children.stop_children(self.service, self.name)
        if not self.jobs.get_job(KIND, self.name).result.get("CandidateJobs"):
            raise SlipwayError(
                f"the process watching the job ended during {stage}, before any candidate was "
                f"trained; nothing to rank. Start a new AutoML job on {self.data_uri}"
            )
        self._settings()
        done = self._finished()
        if not done:
            raise SlipwayError(
                f"the process watching the job ended during {stage} and no candidate had "
                f"completed; the running ones were stopped. Start a new AutoML job on "
                f"{self.data_uri}"
            )
        self._end(
            f"resumed after the process watching the job ended during {stage}: ranked the "
            f"{len(done)} completed candidates, stopped the running ones; the search was not "
            "continued"
        )

    def _settings(self) -> None:
        """Analyse the data: the problem, the objective and the column plan (`self.settings`)."""
        channel = self.request.channel
        frame = _data.read_table(self.data_uri)
        objective = self.request.auto_ml_job_objective
        self.analysis = _data.analyse(
            frame, channel.target_attribute_name, self.request.problem_type,
            objective.metric_name if objective else None,
        )  # fmt: skip
        self.settings = {
            "Target": channel.target_attribute_name,
            "ProblemType": self.analysis.problem_type,
            "Objective": self.analysis.objective,
            "Classes": self.analysis.classes,
            "Plan": self.analysis.plan,
            "Columns": self.analysis.features,
        }

    def _analyse(self) -> None:
        self.jobs.transition(KIND, self.name, SecondaryStatus.ANALYZING_DATA, "reading the data")
        self._settings()
        described = self.analysis.to_dict()
        self.jobs.update_result(
            KIND, self.name,
            {
                "ProblemType": self.analysis.problem_type,
                "ProblemTypeReason": self.analysis.problem_reason,
                "Objective": self.analysis.objective,
                "ObjectiveReason": self.analysis.objective_reason,
                "Warnings": self.analysis.warnings,
                "Analysis": described,
            },
        )  # fmt: skip
        book = notebooks.exploration(self.name, self.data_uri, self.settings["Target"], described)
        folder = self.root / "notebooks"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            notebooks.execute(book, folder, timeout=300)
        except Exception as error:  # the notebook is still useful unexecuted
            log.warning("AutoML job %s: exploration notebook failed: %s", self.name, error)
        uri = self._store_notebook(book, notebooks.EXPLORATION)
        self.jobs.update_result(KIND, self.name, {"DataExplorationNotebook": uri})
        self._check_stop()

    def _engineer(self) -> None:
        plan = ", ".join(f"{kind}: {len(cols)}" for kind, cols in self.settings["Plan"].items())
        self.jobs.transition(
            KIND, self.name, SecondaryStatus.FEATURE_ENGINEERING, f"column plan ({plan})"
        )
        settings_file = self.root / "settings" / "settings.json"
        settings_file.parent.mkdir(parents=True, exist_ok=True)
        settings_file.write_text(json.dumps(self.settings))
        base = f"automl/{self.name}"
        artifacts = self.service.artifacts
        stored = artifacts.put_file_at(
            artifacts.uri_for(f"{base}/settings/settings.json"), settings_file
        )
        self.setup = CandidateSetup(
            job_name=self.name,
            problem_type=self.settings["ProblemType"],
            objective=self.settings["Objective"],
            data_uri=self.data_uri,
            settings_uri=stored.uri.rsplit("/", 1)[0] + "/",  # the channel is the folder
            source_uri=artifacts.put(f"{base}/source/sourcedir.tar.gz", [source_tarball()]).uri,
            output_path=artifacts.uri_for(f"{base}/candidates"),
        )
        with contextlib.suppress(SlipwayError):  # a deleted job's experiment is reused
            self.service.experiments.create_experiment(
                self.name, description=f"The candidates of AutoML job {self.name}"
            )

    def _tune(self) -> None:
        self.jobs.transition(KIND, self.name, SecondaryStatus.MODEL_TUNING, "training candidates")
        criteria = self.request.criteria
        budget = criteria.max_candidates
        # Time kept for the ensemble and the registration at the end.
        self.reserve = min(15.0, 0.12 * criteria.max_auto_ml_job_runtime_in_seconds)
        if self._left() < 5:
            raise SlipwayError(
                f"the time budget was used up by the data analysis ({self._left():.0f} s left); "
                "no candidate could be trained: raise total_job_runtime_in_seconds"
            )
        defaults = list(recipes.ALGORITHMS)[: max(1, min(len(recipes.ALGORITHMS), budget - 1))]
        names = [self._launch_default(a, i + 1) for i, a in enumerate(defaults)]
        self.jobs.update_result(KIND, self.name, {"CandidateJobs": names})
        left_for_tuning = budget - len(names) - (1 if budget > len(names) + 1 else 0)
        if left_for_tuning > 0:
            # The search starts once every default holds a training slot, not once they
            # have all ended: its trials take the slots as the defaults free them, so no
            # slot idles while the slowest default runs (the search never used their
            # scores). Starting it earlier would let trials take slots before defaults.
            self._wait_for(names, self.deadline - self.reserve, started_only=True)
            if self._left() > self.reserve + 5:
                self._run_tuning_job(left_for_tuning)
        self._wait_for(names, self.deadline - self.reserve)
        if not self.runtime_reached and budget > len(self._all()):  # MaxCandidates counts all
            self._ensemble()

    def _end(self, message: str | None = None) -> None:
        done = self._finished()
        if not done:
            failures = [c.failure_reason for c in self._all() if c.failure_reason]
            raise SlipwayError(
                "no candidate completed within the budget"
                + (f"; the first failure: {failures[0]}" if failures else "")
                + ". Raise total_job_runtime_in_seconds or max_runtime_per_training_job_in_seconds"
            )
        metric = self.settings["Objective"]
        maximize = recipes.MAXIMIZE[metric]
        best = max(done, key=lambda c: c[1] if maximize else -c[1])[0]
        self._candidate_notebook(self._all())
        package = self.service.registry.create_model_package_from_training_job(
            CreateModelPackageFromTrainingJob(
                training_job_name=best,
                model_package_group_name=self.name,
                model_package_description=(
                    f"best candidate of AutoML job {self.name}: {metric} {dict(done)[best]:.5g}; "
                    "the whole inference pipeline, preprocessing included, taking raw rows"
                ),
                supported_content_types=["text/csv", "application/json"],
                supported_response_mime_types=["application/json", "text/csv"],
            )
        )
        ending = (
            SecondaryStatus.MAX_AUTOML_JOB_RUNTIME_REACHED
            if self.runtime_reached
            else SecondaryStatus.MAX_CANDIDATES_REACHED
        )
        self.jobs.transition(KIND, self.name, ending, message)
        self.lifecycle.finish(
            self.name, JobStatus.COMPLETED,
            result={"BestCandidate": best, "ModelPackageArn": package.model_package_arn},
        )  # fmt: skip

    # --- candidates ---------------------------------------------------------------------

    def _per_job(self) -> int:
        limit = self.request.criteria.max_runtime_per_training_job_in_seconds
        return max(1, int(min(limit, self._left() - self.reserve / 2)))

    def _training_job(self, name: str, hps: dict[str, Any], channels: dict[str, Channel]) -> None:
        request = self.setup.training_job(name, hps, channels, self._per_job())
        self.service.training.create_training_job(request)

    def _launch_default(self, algorithm: str, sequence: int) -> str:
        name = f"{self.name}-dpp0-{algorithm[:4]}-{sequence:02d}"[:63]
        self._training_job(
            name, {"algorithm": algorithm, **recipes.DEFAULTS[algorithm]}, self.setup.channels()
        )
        return name

    def _run_tuning_job(self, max_jobs: int) -> None:
        parallel = self.service.settings.max_parallel_jobs
        request = self.setup.tuning_job(max_jobs, parallel, self._per_job())
        self.service.tuning.create_hyper_parameter_tuning_job(request)
        while True:
            self._check_stop()
            described = self.service.tuning.describe_hyper_parameter_tuning_job(self.name)
            if described.hyper_parameter_tuning_job_status.is_final:
                return
            if time.time() >= self.deadline - self.reserve:
                self.runtime_reached = True
                with contextlib.suppress(Conflict):
                    self.service.tuning.stop_hyper_parameter_tuning_job(self.name)
                self.service.tuning.wait(self.name)
                return
            time.sleep(_children.POLL)

    def _ensemble(self) -> None:
        done = self._finished()
        if len(done) < 2 or self._left() < 3:
            return
        maximize = recipes.MAXIMIZE[self.settings["Objective"]]
        best = sorted(done, key=lambda c: -c[1] if maximize else c[1])[:ENSEMBLE_SIZE]
        channels = self.setup.channels()
        members = []
        for i, (name, _value) in enumerate(best):
            model = self.service.training.describe_training_job(name).model_artifacts or {}
            channels[f"m{i}"] = Channel(uri=model["S3ModelArtifacts"].rsplit("/", 1)[0] + "/")
            members.append(name)
        name = f"{self.name}-ensemble-{secrets.token_hex(3)}"
        self.jobs.update_result(
            KIND, self.name, {"EnsembleJobs": [name], "EnsembleMembers": {name: members}}
        )
        self._training_job(name, {"algorithm": "ensemble"}, channels)
        self._wait_for([name], self.deadline)

    # --- helpers ------------------------------------------------------------------------

    def _all(self) -> list[Any]:
        job = self.jobs.get_job(KIND, self.name)
        return [
            candidate(child, self.settings["Objective"], job.result)
            for child in self.service.candidate_jobs(job)
        ]

    def _finished(self) -> list[tuple[str, float]]:
        return [
            (c.candidate_name, c.final_auto_ml_job_objective_metric.value)
            for c in self._all()
            if c.final_auto_ml_job_objective_metric is not None
        ]

    def _wait_for(self, names: list[str], until: float, started_only: bool = False) -> None:
        if _children.wait_for(self.service, names, until, self._check_stop, started_only):
            self.runtime_reached = True

    def _left(self) -> float:
        return self.deadline - time.time()

    def _check_stop(self) -> None:
        if self.lifecycle.stop_requested(self.name):
            _children.stop_children(self.service, self.name)
            raise _Stopped

    def _store_notebook(self, book: Any, file_name: str) -> str:
        path = self.root / "notebooks" / file_name
        notebooks.write(book, path)
        key = f"automl/{self.name}/sagemaker-automl-candidates/notebooks/{file_name}"
        return self.service.artifacts.put_file_at(self.service.artifacts.uri_for(key), path).uri

    def _candidate_notebook(self, found: list[Any]) -> None:
        members = self.jobs.get_job(KIND, self.name).result.get("EnsembleMembers", {})
        entries = notebooks.candidate_entries(found, members)
        tuning = {
            "Strategy": "Bayesian",
            "MaxJobs": self.request.criteria.max_candidates,
            "Parallel": self.service.settings.max_parallel_jobs,
        }
        book = notebooks.candidates(self.name, self.data_uri, self.settings, entries, tuning)
        uri = self._store_notebook(book, notebooks.CANDIDATES)
        self.jobs.update_result(KIND, self.name, {"CandidateDefinitionNotebook": uri})
