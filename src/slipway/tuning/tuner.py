"""The tuning SDK, shaped like the SageMaker Python SDK's HyperparameterTuner.

``HyperparameterTuner(estimator, "validation:auc", {"eta": ContinuousParameter(0.01, 0.3)},
max_jobs=12, max_parallel_jobs=2).fit(inputs)`` creates a tuning job that runs the
estimator's script with the hyperparameters Optuna picks, embedded or on a server.
"""

from __future__ import annotations

import abc
import datetime as dt
import secrets
import sys
import time
from collections.abc import Iterable
from typing import Any

from slipway.errors import SlipwayError, ValidationError
from slipway.jobs.models import JobStatus
from slipway.platform import tuning_backend
from slipway.training.estimator import Estimator, JobFailed, _pack
from slipway.tuning.models import (
    CategoricalParameterRange,
    ContinuousParameterRange,
    CreateTuningJob,
    IntegerParameterRange,
    ParameterRanges,
    TrainingJobDefinition,
    TuningJob,
    TuningJobConfig,
)
from slipway.tuning.models import WarmStartConfig as WarmStartConfigModel

_WAIT_POLL = 0.25


class _Parameter(abc.ABC):
    """A hyperparameter's range, as the tuner's request names it."""

    @abc.abstractmethod
    def as_range(self, name: str) -> Any: ...


class IntegerParameter(_Parameter):
    """Integers from min_value to max_value (both included)."""

    def __init__(self, min_value: int, max_value: int, scaling_type: str = "Auto") -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.scaling_type = scaling_type

    def as_range(self, name: str) -> IntegerParameterRange:
        return IntegerParameterRange.model_validate(
            {
                "Name": name,
                "MinValue": str(self.min_value),
                "MaxValue": str(self.max_value),
                "ScalingType": self.scaling_type,
            }
        )


class ContinuousParameter(_Parameter):
    """Real numbers from min_value to max_value."""

    def __init__(self, min_value: float, max_value: float, scaling_type: str = "Auto") -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.scaling_type = scaling_type

    def as_range(self, name: str) -> ContinuousParameterRange:
        return ContinuousParameterRange.model_validate(
            {
                "Name": name,
                "MinValue": str(self.min_value),
                "MaxValue": str(self.max_value),
                "ScalingType": self.scaling_type,
            }
        )


class CategoricalParameter(_Parameter):
    """One of a list of values (sent to the script as strings)."""

    def __init__(self, values: Iterable[Any] | Any) -> None:
        if isinstance(values, str) or not isinstance(values, Iterable):
            values = [values]
        self.values = list(values)

    def as_range(self, name: str) -> CategoricalParameterRange:
        return CategoricalParameterRange.model_validate({"Name": name, "Values": self.values})


class WarmStartTypes:
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class WarmStartConfig:
    """Start a tuning job from what earlier (parent) tuning jobs found."""

    def __init__(
        self,
        warm_start_type: str = WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM,
        parents: Iterable[str] | str = (),
    ) -> None:
        self.type = warm_start_type
        self.parents = {parents} if isinstance(parents, str) else set(parents)

    def to_model(self) -> WarmStartConfigModel:
        return WarmStartConfigModel.model_validate(
            {
                "WarmStartType": self.type,
                "ParentHyperParameterTuningJobs": [
                    {"HyperParameterTuningJobName": p} for p in sorted(self.parents)
                ],
            }
        )


def _ranges(hyperparameter_ranges: dict[str, _Parameter]) -> ParameterRanges:
    if not isinstance(hyperparameter_ranges, dict) or not hyperparameter_ranges:
        raise ValidationError(
            "hyperparameter_ranges must be a non-empty dict of name to IntegerParameter, "
            f"ContinuousParameter or CategoricalParameter, got {hyperparameter_ranges!r}"
        )
    grouped: dict[str, list[Any]] = {"integer": [], "continuous": [], "categorical": []}
    for name, parameter in hyperparameter_ranges.items():
        if isinstance(parameter, IntegerParameter):
            grouped["integer"].append(parameter.as_range(name))
        elif isinstance(parameter, ContinuousParameter):
            grouped["continuous"].append(parameter.as_range(name))
        elif isinstance(parameter, CategoricalParameter):
            grouped["categorical"].append(parameter.as_range(name))
        else:
            raise ValidationError(
                f"hyperparameter range {name!r} is {parameter!r}; use IntegerParameter, "
                "ContinuousParameter or CategoricalParameter"
            )
    return ParameterRanges(
        integer_parameter_ranges=grouped["integer"],
        continuous_parameter_ranges=grouped["continuous"],
        categorical_parameter_ranges=grouped["categorical"],
    )


def _generated_name(base: str) -> str:
    """``<base>-<yymmdd-HHMMSS>-<4 hex>``, within the 32 characters a tuning job may have."""
    stamp = dt.datetime.now(dt.UTC).strftime("%y%m%d-%H%M%S")
    return f"{base[:13].rstrip('-')}-{stamp}-{secrets.token_hex(2)}"


class HyperparameterTuner:
    """Searches an estimator's hyperparameters with a tuning job of many training jobs."""

    def __init__(
        self,
        estimator: Estimator,
        objective_metric_name: str,
        hyperparameter_ranges: dict[str, _Parameter],
        metric_definitions: list[dict[str, str]] | None = None,
        strategy: str = "Bayesian",
        objective_type: str = "Maximize",
        max_jobs: int | None = None,
        max_parallel_jobs: int = 1,
        tags: list[dict[str, str]] | None = None,
        base_tuning_job_name: str | None = None,
        warm_start_config: WarmStartConfig | None = None,
        early_stopping_type: str = "Off",
        random_seed: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.objective_metric_name = objective_metric_name
        self._hyperparameter_ranges = hyperparameter_ranges
        self.metric_definitions = metric_definitions
        self.strategy = strategy
        self.objective_type = objective_type
        self.max_jobs = max_jobs
        self.max_parallel_jobs = max_parallel_jobs
        self.tags = list(tags or [])
        self.base_tuning_job_name = base_tuning_job_name
        self.warm_start_config = warm_start_config
        self.early_stopping_type = early_stopping_type
        self.random_seed = random_seed
        self.latest_tuning_job: TuningJobHandle | None = None

    def hyperparameter_ranges(self) -> dict[str, Any]:
        """The ranges in the reference's request shape."""
        return _ranges(self._hyperparameter_ranges).to_wire()

    def request(self, inputs: Any, job_name: str, source_uri: str | None) -> CreateTuningJob:
        """The tuning job this tuner would create."""
        estimator = self.estimator
        training = estimator.request(inputs, "template", None, source_uri)
        tuned = set(self._hyperparameter_ranges)
        config = TuningJobConfig.model_validate(
            {
                "Strategy": self.strategy,
                "HyperParameterTuningJobObjective": {
                    "Type": self.objective_type,
                    "MetricName": self.objective_metric_name,
                },
                "ResourceLimits": {
                    "MaxNumberOfTrainingJobs": self.max_jobs,
                    "MaxParallelTrainingJobs": self.max_parallel_jobs,
                },
                "ParameterRanges": _ranges(self._hyperparameter_ranges),
                "TrainingJobEarlyStoppingType": self.early_stopping_type,
                "RandomSeed": self.random_seed,
            }
        )
        definition = TrainingJobDefinition(
            entry_point=training.entry_point,
            source_uri=source_uri,
            static_hyper_parameters={
                k: v for k, v in training.hyperparameters.items() if k not in tuned
            },
            metric_definitions=self.metric_definitions or training.metric_definitions,
            input_data_config=training.input_data_config,
            output_path=training.output_path,
            environment=training.environment,
            max_run=training.max_run,
        )
        return CreateTuningJob(
            hyper_parameter_tuning_job_name=job_name,
            hyper_parameter_tuning_job_config=config,
            training_job_definition=definition,
            warm_start_config=self.warm_start_config.to_model() if self.warm_start_config else None,
            tags=self.tags,
        )

    def fit(
        self,
        inputs: str | dict[str, Any] | None = None,
        job_name: str | None = None,
        wait: bool = True,
        logs: bool = False,
    ) -> None:
        """Create the tuning job; with wait, block until it ends (logs: print progress)."""
        name = job_name or _generated_name(
            self.base_tuning_job_name or self.estimator.base_job_name or "tuning"
        )
        # Validate everything before storing the source, so bad input leaves nothing behind.
        request = self.request(inputs, name, None)
        backend = tuning_backend()
        tarball = _pack(self.estimator._source_folder())
        source_uri = backend.upload_source(name, [tarball])
        definition = request.training_job_definition.model_copy(update={"source_uri": source_uri})
        request = request.model_copy(update={"training_job_definition": definition})
        backend.create_hyper_parameter_tuning_job(request)
        self.latest_tuning_job = TuningJobHandle(name)
        if wait:
            self.latest_tuning_job.wait(logs=logs)

    @classmethod
    def attach(cls, tuning_job_name: str) -> TuningJobHandle:
        """A handle on an existing tuning job (describe, wait, stop, analytics)."""
        tuning_backend().describe_hyper_parameter_tuning_job(tuning_job_name)
        return TuningJobHandle(tuning_job_name)

    def _job(self) -> TuningJobHandle:
        if self.latest_tuning_job is None:
            raise ValidationError("this tuner has not run a tuning job yet; call fit() first")
        return self.latest_tuning_job

    def wait(self, logs: bool = False) -> TuningJob:
        return self._job().wait(logs=logs)

    def describe(self) -> TuningJob:
        return self._job().describe()

    def stop_tuning_job(self) -> TuningJob:
        return self._job().stop()

    def best_training_job(self) -> str:
        return self._job().best_training_job()

    def analytics(self) -> Any:
        from slipway.tuning.analytics import HyperparameterTuningJobAnalytics

        return HyperparameterTuningJobAnalytics(self._job().name)


class TuningJobHandle:
    """One tuning job: describe it, wait for it, stop it, find its best training job."""

    def __init__(self, name: str) -> None:
        self.name = name

    def describe(self) -> TuningJob:
        return tuning_backend().describe_hyper_parameter_tuning_job(self.name)

    def stop(self) -> TuningJob:
        return tuning_backend().stop_hyper_parameter_tuning_job(self.name)

    def best_training_job(self) -> str:
        best = self.describe().best_training_job
        if best is None:
            raise SlipwayError(
                f"tuning job {self.name!r} has no completed training job with an objective "
                "value yet"
            )
        return best.training_job_name

    def wait(self, logs: bool = False) -> TuningJob:
        """Block until the tuning job ends; raise JobFailed unless it Completed."""
        backend = tuning_backend()
        waiter = getattr(backend, "wait", None)
        if waiter is not None and not logs:
            described = waiter(self.name)
        else:
            described = self._poll(backend, logs)
        status = described.hyper_parameter_tuning_job_status
        if status != JobStatus.COMPLETED:
            raise JobFailed(
                f"tuning job {self.name!r} ended {status}: {described.failure_reason or 'stopped'}"
            )
        return described

    def _poll(self, backend: Any, logs: bool) -> TuningJob:
        shown = ""
        while True:
            described = backend.describe_hyper_parameter_tuning_job(self.name)
            line = progress_line(described)
            if logs and line != shown:
                print(line, file=sys.stdout, flush=True)
                shown = line
            if described.hyper_parameter_tuning_job_status.is_final:
                return described
            time.sleep(_WAIT_POLL)


def progress_line(described: TuningJob) -> str:
    """One line of progress: jobs done and running, and the best objective so far."""
    counters = described.training_job_status_counters
    done = counters.completed + counters.stopped + counters.non_retryable_error
    total = described.hyper_parameter_tuning_job_config.max_jobs
    best = described.best_training_job
    metric = best.final_hyper_parameter_tuning_job_objective_metric if best else None
    best_text = (
        f"best {metric.metric_name}={metric.value:.6g} ({best.training_job_name})"
        if metric and best
        else "no objective value yet"
    )
    return (
        f"{described.hyper_parameter_tuning_job_name}: "
        f"{described.hyper_parameter_tuning_job_status}, {done}/{total} jobs done, "
        f"{counters.in_progress} running, {counters.stopped} stopped, "
        f"{counters.non_retryable_error} failed; {best_text}"
    )


__all__ = [
    "CategoricalParameter",
    "ContinuousParameter",
    "HyperparameterTuner",
    "IntegerParameter",
    "TuningJobHandle",
    "WarmStartConfig",
    "WarmStartTypes",
]
