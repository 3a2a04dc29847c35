"""The life of one tuning job: ask Optuna, start training jobs, tell it how they did.

The loop keeps up to MaxParallelTrainingJobs training jobs running until
MaxNumberOfTrainingJobs have run. With early stopping, each job's objective values (read
from its log by the metric regex) reach the Optuna pruner as they are printed, through
the training service's metric listeners; a job the pruner gives up on is stopped.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from slipway.errors import Conflict, NotFound, SlipwayError
from slipway.jobs.models import ChildState, JobKind, JobStatus
from slipway.training.models import CreateTrainingJob, ExperimentConfig, trial_component_name
from slipway.training.watcher import PreparedFolder
from slipway.tuning.models import CreateTuningJob, EarlyStoppingType, Strategy
from slipway.tuning.search import SearchSpace, create_study, finished_trial
from slipway.tuning.summaries import KIND, objective_reported, summary

if TYPE_CHECKING:
    from slipway.training.models import TrainingJob
    from slipway.tuning.service import TuningService

log = logging.getLogger("slipway.tuning")
OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"
_POLL_SECONDS = 0.05
# Training jobs this process watches wake the loop as they end; the timeout covers jobs
# watched by another process (after this tuning job was adopted).
_WAKE_SECONDS = 0.25
_PLAN_DELAY_SECONDS = 0.003
# Training jobs started by an earlier watcher of this tuning job may have lost their own
# watcher too; they are looked for this often until they end.
_ADOPT_SECONDS = 5.0


def child_name(tuning_job_name: str, sequence: int) -> str:
    """``<tuning-job>-<3-digit seq>-<8 hex>``, as the reference names them."""
    return f"{tuning_job_name}-{sequence:03d}-{secrets.token_hex(4)}"


@dataclass
class _Planned:
    """A training job asked for but not started: its trial, request and ready folder."""

    trial: optuna.trial.Trial
    request: CreateTrainingJob
    folder: PreparedFolder | None = None


class TuningLoop:
    """Runs one tuning job to its end in the calling thread."""

    def __init__(self, service: TuningService, name: str, adopt: bool) -> None:
        self.service = service
        self.name = name
        self.adopt = adopt
        self.running: dict[str, optuna.trial.Trial | None] = {}
        self.early_stopped: set[str] = set()
        self.launched = 0
        self.planned: _Planned | None = None  # the next job, asked for ahead
        # How many of this job's training jobs reported the objective: none, and it failed.
        self.reported = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        # How jobs watched by this process ended, as their watchers tell: no query needed.
        self._told: dict[str, ChildState | None] = {}

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        """The tuning job's work, run by its life cycle (``jobs.lifecycle``)."""
        lifecycle = self.service.lifecycle
        self._prepare()
        last_adopt = last_stop_check = 0.0
        while True:
            now = time.monotonic()
            if now - last_adopt >= _ADOPT_SECONDS and None in self.running.values():
                self.service.training.adopt_orphans()
                last_adopt = now
            # Trials end many times a second: ask about a stop at most every wake period.
            stop_due = now - last_stop_check >= _WAKE_SECONDS
            if stop_due:
                last_stop_check = now
            if stop_due and lifecycle.stop_requested(self.name):
                self._stop_children()
                lifecycle.finish(self.name, JobStatus.STOPPED)
                return
            self._collect()
            if self.launched >= self.max_jobs and not self.running:
                break
            while len(self.running) < self.max_parallel and self.launched < self.max_jobs:
                self._launch()
            # The next job is planned a moment later: the one just started gets the
            # interpreter first, and a job that ends meanwhile is seen to first.
            plan = self._plan_due()
            woken = self._wake.wait(_PLAN_DELAY_SECONDS if plan else _WAKE_SECONDS)
            self._wake.clear()
            if plan and not woken:
                self._plan_ahead()
        self._end()

    def on_error(self, error: Exception) -> None:
        """End the tuning job Failed, its running training jobs stopped first."""
        reason = error.message if isinstance(error, SlipwayError) else repr(error)
        self._stop_children()
        with contextlib.suppress(SlipwayError):  # unless the job is gone
            self.service.lifecycle.finish(self.name, JobStatus.FAILED, f"InternalError: {reason}")

    def _prepare(self) -> None:
        job = self.service.jobs.get_job(KIND, self.name)
        self.request = CreateTuningJob.model_validate(job.spec)
        config = self.request.hyper_parameter_tuning_job_config
        self.space = SearchSpace(config)
        self.study = create_study(config, self.space)
        self.objective = config.hyper_parameter_tuning_job_objective
        self.max_jobs = config.max_jobs
        self.max_parallel = config.resource_limits.max_parallel_training_jobs
        self.plans_ahead = config.strategy in (Strategy.RANDOM, Strategy.GRID)
        self.prunes = (
            config.strategy == Strategy.HYPERBAND
            or config.training_job_early_stopping_type == EarlyStoppingType.AUTO
        )
        self._warm_start()
        if self.adopt:
            self._resume(job.result.get("EarlyStopped", []))

    def _end(self) -> None:
        if self.reported == 0:
            reason = (
                f"no training job reported the objective metric {self.objective.metric_name!r}"
                "; check the metric definition's regex against the jobs' logs"
            )
            self.service.lifecycle.finish(self.name, JobStatus.FAILED, reason)
        else:
            self.service.lifecycle.finish(self.name, JobStatus.COMPLETED)

    # --- training jobs ------------------------------------------------------------------

    def _plan(self) -> _Planned:
        """Ask Optuna for the next training job's hyperparameters."""
        name = child_name(self.name, self.launched + 1)
        trial = self.study.ask(self.space.distributions)
        definition = self.request.training_job_definition
        hyperparameters = {
            **definition.static_hyper_parameters,
            **self.space.hyperparameters(trial.params),
            OBJECTIVE_HYPERPARAMETER: self.objective.metric_name,
        }
        request = CreateTrainingJob(
            training_job_name=name,
            entry_point=definition.entry_point,
            source_uri=definition.source_uri,
            hyperparameters=hyperparameters,
            metric_definitions=definition.metric_definitions,
            input_data_config=definition.input_data_config,
            output_path=definition.output_path,
            environment=definition.environment,
            max_run=definition.max_run,
            experiment_config=ExperimentConfig(experiment_name=self.name, trial_name=name),
        )
        return _Planned(trial, request)

    def _plan_ahead(self) -> None:
        """Plan the next job and make its folder while the running ones run.

        A freed slot then starts it at once. Only for searches that do not learn from
        results (Random, Grid): a Bayesian search asks once the last results are in.
        """
        planned = self._plan()
        planned.folder = self.service.training.prepare_folder(planned.request)
        self.planned = planned

    def _plan_due(self) -> bool:
        return self.plans_ahead and self.planned is None and self.launched < self.max_jobs

    def _drop_plan(self) -> None:
        if self.planned is not None:
            self._abandon(self.planned)
            self.planned = None

    def _abandon(self, planned: _Planned) -> None:
        """A planned job that will not run: its trial failed, its folder is not needed."""
        self.study.tell(planned.trial, state=TrialState.FAIL)
        if planned.folder is not None:
            self.service.training.discard_folder(planned.folder)

    def _launch(self) -> None:
        planned, self.planned = self.planned or self._plan(), None
        self.launched += 1
        trial, request = planned.trial, planned.request
        name = request.training_job_name
        if self.prunes:
            self.service.training.add_metric_listener(name, self._listener(name, trial))
        self.service.training.add_end_listener(name, self._on_end)
        try:
            self.service.training.start_training_job(request, self.name, planned.folder)
        except SlipwayError:
            self._abandon(planned)
            return
        self.running[name] = trial

    def _on_end(self, name: str, state: ChildState | None) -> None:
        with self._lock:
            self._told[name] = state
        self._wake.set()

    def _listener(self, name: str, trial: optuna.trial.Trial):
        """Feed a job's objective values to the pruner; stop the job when it falls behind."""
        metric = self.objective.metric_name

        def on_metric(metric_name: str, value: float, step: int) -> None:
            if metric_name != metric or name in self.early_stopped:
                return
            try:
                trial.report(value, step)
                prune = trial.should_prune()
            except Exception:  # early stopping is advice: it must never fail the job
                log.warning("tuning job %s: pruning %s failed", self.name, name, exc_info=True)
                return
            if not prune:
                return
            with self._lock:
                self.early_stopped.add(name)
                stopped = sorted(self.early_stopped)
            self.service.jobs.update_result(KIND, self.name, {"EarlyStopped": stopped})
            with contextlib.suppress(Conflict):  # it may have ended on its own meanwhile
                self.service.training.stop_training_job(name)

        return on_metric

    def _collect(self) -> None:
        """Tell Optuna about every running job that has ended."""
        if not self.running:
            return
        for name, state in self._ended():
            trial = self._pop(name)
            if trial is None:  # started by an earlier watcher of this tuning job
                self._add_finished(self.service.training.describe_training_job(name), own=True)
                continue
            value = _final_value(state.result, self.objective.metric_name) if state else None
            if state is not None:
                self._count_reported(state.status, value)
            if name in self.early_stopped:
                self.study.tell(trial, state=TrialState.PRUNED)
            elif state and state.status == JobStatus.COMPLETED and value is not None:
                self.study.tell(trial, value)
            else:
                self.study.tell(trial, state=TrialState.FAIL)

    def _ended(self) -> list[tuple[str, ChildState | None]]:
        """The running jobs that have ended, with their state (None: gone).

        Jobs this process launched say how they ended; the others (started by an earlier
        watcher of this tuning job), and any whose watcher could not say, are read.
        """
        with self._lock:
            # A job whose watcher could not say stays told None: it is read until it ends.
            ended = [(n, state) for n, state in self._told.items() if state is not None]
            for name, _state in ended:
                del self._told[name]
            untold = set(self._told)
        unknown = [name for name, trial in self.running.items() if trial is None or name in untold]
        if unknown:
            children = self.service.jobs.statuses(JobKind.TRAINING, (KIND, self.name), unknown)
            ended += [
                (name, children.get(name))
                for name in unknown
                if name not in children or children[name].status.is_final
            ]
        return ended

    def _pop(self, name: str) -> optuna.trial.Trial | None:
        """Stop tracking an ended job; returns its trial."""
        with self._lock:
            self._told.pop(name, None)
        return self.running.pop(name)

    def _stop_children(self) -> None:
        self._drop_plan()
        for name in list(self.running):
            with contextlib.suppress(Conflict, NotFound):
                self.service.training.stop_training_job(name)
        while self.running:
            for name, _state in self._ended():
                trial = self._pop(name)
                if trial is not None:
                    self.study.tell(trial, state=TrialState.FAIL)
            time.sleep(_POLL_SECONDS)

    # --- earlier jobs: warm start and a watcher that takes over -------------------------

    def _warm_start(self) -> None:
        config = self.request.warm_start_config
        if config is None:
            return
        before = len(self.study.trials)
        for parent in config.parent_hyper_parameter_tuning_jobs:
            parent_name = parent.hyper_parameter_tuning_job_name
            try:
                job = self.service.jobs.get_job(KIND, parent_name)
            except NotFound:
                continue
            early = set(job.result.get("EarlyStopped", []))
            for child in self._children(parent_name):
                if child.training_job_status.is_final:
                    self._add_finished(child, child.training_job_name in early)
        added = len(self.study.trials) - before
        self.service.jobs.update_result(KIND, self.name, {"WarmStartTrainingJobs": added})

    def _resume(self, early_stopped: list[str]) -> None:
        self.early_stopped = set(early_stopped)
        children = self._children(self.name)
        self.launched = len(children)
        for child in children:
            if child.training_job_status.is_final:
                self._add_finished(child, own=True)
            else:
                self.running[child.training_job_name] = None

    def _children(self, tuning_job_name: str) -> list[TrainingJob]:
        children: list[TrainingJob] = []
        token = None
        while True:
            page = self.service.training.list_training_jobs(
                tuning_job_name=tuning_job_name, max_results=1000, next_token=token
            )
            children += page.items
            token = page.next_token
            if not token:
                return children

    def _add_finished(
        self, child: TrainingJob, early_stopped: bool | None = None, own: bool = False
    ) -> None:
        """Add an ended job to the study as a finished trial, if it fits the search space.

        ``own``: a training job of this tuning job (not of a warm start parent).
        """
        if early_stopped is None:
            early_stopped = child.training_job_name in self.early_stopped
        value = self._objective_value(child)
        if own:
            self._count_reported(child.training_job_status, value)
        if early_stopped:
            state = TrialState.PRUNED
        elif child.training_job_status == JobStatus.COMPLETED:
            state = TrialState.COMPLETE
        else:
            state = TrialState.FAIL
        names = self.request.hyper_parameter_tuning_job_config.parameter_ranges.names
        tuned = summary(
            child, names, self.objective.metric_name, self.objective.type, set()
        ).tuned_hyper_parameters
        trial = finished_trial(self.space, tuned, value, self._intermediate(child), state)
        if trial is not None:
            self.study.add_trial(trial)

    def _count_reported(self, status: JobStatus, value: float | None) -> None:
        if objective_reported(status, value):
            self.reported += 1

    def _intermediate(self, child: TrainingJob) -> dict[int, float]:
        try:
            points = self.service.experiments.get_metric_series(
                trial_component_name(child.training_job_name), self.objective.metric_name
            )
        except NotFound:
            return {}
        return {
            point.iteration_number if point.iteration_number is not None else i: point.value
            for i, point in enumerate(points)
        }

    def _objective_value(self, child: TrainingJob) -> float | None:
        metric: Any = self.objective.metric_name
        return next(
            (m.value for m in child.final_metric_data_list if m.metric_name == metric), None
        )


def _final_value(result: dict[str, Any], metric: str) -> float | None:
    """A metric's final value in an ended training job's stored result."""
    final = result.get("FinalMetricDataList", [])
    return next((m["Value"] for m in final if m["MetricName"] == metric), None)
