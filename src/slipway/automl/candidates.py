"""What an AutoML job says of its candidates: their objective, description and kind.

Shared by the service (describing a job) and the loop (ranking candidates), below both
so neither imports the other.
"""

from __future__ import annotations

import json
from typing import Any

from slipway.automl._recipes import MAXIMIZE
from slipway.automl.models import (
    AutoMLCandidate,
    CandidateStep,
    FinalObjectiveMetric,
    InferenceContainer,
    ObjectiveStatus,
)
from slipway.jobs.models import JobKind, JobStatus
from slipway.training.models import TrainingJob
from slipway.training.service import source_arn

KIND = JobKind.AUTOML


def objective_metric(metric: str) -> str:
    """The metric definition name a candidate's objective is logged under."""
    return f"validation:{metric}"


def candidate(child: TrainingJob, metric: str | None, result: dict[str, Any]) -> AutoMLCandidate:
    """AutoMLCandidate of one training job."""
    metrics = {
        m.metric_name.removeprefix("validation:"): m.value for m in child.final_metric_data_list
    }
    value = metrics.get(metric) if metric else None
    status = child.training_job_status
    if not status.is_final:
        objective_status = ObjectiveStatus.PENDING
    elif value is not None and status == JobStatus.COMPLETED:
        objective_status = ObjectiveStatus.SUCCEEDED
    else:
        objective_status = ObjectiveStatus.FAILED
    final = None
    if value is not None and status == JobStatus.COMPLETED and metric:
        direction = "Maximize" if MAXIMIZE[metric] else "Minimize"
        final = FinalObjectiveMetric(type=direction, metric_name=metric, value=value)
    containers = []
    if child.model_artifacts:
        containers.append(
            InferenceContainer(model_data_url=child.model_artifacts["S3ModelArtifacts"])
        )
    hps = {k: _plain(v) for k, v in child.hyper_parameters.items() if not k.startswith("_")}
    properties: dict[str, Any] = {
        "Algorithm": hps.get("algorithm"),
        "HyperParameters": hps,
        "Metrics": metrics,
    }
    if hps.get("algorithm") == "ensemble":
        properties["Members"] = result.get("EnsembleMembers", {}).get(child.training_job_name, [])
    return AutoMLCandidate(
        candidate_name=child.training_job_name,
        final_auto_ml_job_objective_metric=final,
        objective_status=objective_status,
        candidate_steps=[
            CandidateStep(
                candidate_step_arn=source_arn(child.training_job_name),
                candidate_step_name=child.training_job_name,
            )
        ],
        candidate_status=status,
        inference_containers=containers,
        creation_time=child.creation_time,
        end_time=child.training_end_time,
        last_modified_time=child.last_modified_time,
        failure_reason=child.failure_reason,
        candidate_properties=properties,
    )


def _plain(encoded: str) -> Any:
    try:
        return json.loads(encoded)
    except ValueError:
        return encoded
