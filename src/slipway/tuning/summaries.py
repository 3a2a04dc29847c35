"""What a tuning job reports of its training jobs: their summaries and objective checks.

Shared by the service (describing a tuning job) and the loop (choosing and early
stopping trials), below both so neither imports the other.
"""

from __future__ import annotations

import json
from typing import Any

from slipway.jobs.models import JobKind, JobStatus
from slipway.training.models import TrainingJob
from slipway.training.service import source_arn
from slipway.tuning.models import (
    ObjectiveMetric,
    ObjectiveStatus,
    ObjectiveType,
    TrainingJobSummary,
)

KIND = JobKind.TUNING


def objective_reported(status: JobStatus, value: float | None) -> bool:
    """An ended training job counts for the objective if it reported it and was not failed."""
    return value is not None and status in (JobStatus.COMPLETED, JobStatus.STOPPED)


def summary(
    child: TrainingJob,
    tuned_names: list[str],
    metric_name: str,
    objective_type: ObjectiveType,
    early_stopped: set[str],
) -> TrainingJobSummary:
    """HyperParameterTrainingJobSummary of one training job of a tuning job."""
    tuned = {
        name: plain_value(child.hyper_parameters[name])
        for name in tuned_names
        if name in child.hyper_parameters
    }
    value = next(
        (m.value for m in child.final_metric_data_list if m.metric_name == metric_name), None
    )
    status = child.training_job_status
    if not status.is_final:
        objective_status = ObjectiveStatus.PENDING
    elif objective_reported(status, value):
        objective_status = ObjectiveStatus.SUCCEEDED
    else:
        objective_status = ObjectiveStatus.FAILED
    metric = None
    if value is not None and status.is_final:
        metric = ObjectiveMetric(type=objective_type, metric_name=metric_name, value=value)
    return TrainingJobSummary(
        training_job_name=child.training_job_name,
        training_job_arn=source_arn(child.training_job_name),
        tuning_job_name=child.tuning_job_name,
        tuned_hyper_parameters=tuned,
        final_hyper_parameter_tuning_job_objective_metric=metric,
        objective_status=objective_status,
        training_job_status=status,
        failure_reason=child.failure_reason,
        early_stopped=child.training_job_name in early_stopped,
        creation_time=child.creation_time,
        training_start_time=child.training_start_time,
        training_end_time=child.training_end_time,
    )


def plain_value(encoded: str) -> str:
    """hyperparameters.json holds JSON-encoded values; TunedHyperParameters plain strings."""
    try:
        value: Any = json.loads(encoded)
    except ValueError:
        return encoded
    return value if isinstance(value, str) else json.dumps(value)
