"""HyperparameterTuningJobAnalytics: a tuning job's training jobs as a pandas table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from slipway.platform import tuning_backend
from slipway.tuning.models import TrainingJobSummary, TuningJob


class HyperparameterTuningJobAnalytics:
    """One row per training job: tuned hyperparameters, objective value, status, times."""

    def __init__(self, hyperparameter_tuning_job_name: str) -> None:
        self.name = hyperparameter_tuning_job_name
        self._dataframe: pd.DataFrame | None = None

    def description(self, force_refresh: bool = False) -> TuningJob:
        return tuning_backend().describe_hyper_parameter_tuning_job(self.name)

    def training_job_summaries(self, force_refresh: bool = False) -> list[TrainingJobSummary]:
        return tuning_backend().list_training_jobs_for_hyper_parameter_tuning_job(self.name)

    def dataframe(self, force_refresh: bool = False) -> pd.DataFrame:
        if self._dataframe is None or force_refresh:
            rows = [_row(s) for s in self.training_job_summaries()]
            self._dataframe = pd.DataFrame(rows)
        return self._dataframe

    def clear_cache(self) -> None:
        self._dataframe = None


def _row(summary: TrainingJobSummary) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in summary.tuned_hyper_parameters.items():
        try:
            row[name] = float(value)
        except ValueError:
            row[name] = value
    metric = summary.final_hyper_parameter_tuning_job_objective_metric
    start, end = summary.training_start_time, summary.training_end_time
    row.update(
        {
            "TrainingJobName": summary.training_job_name,
            "TrainingJobStatus": summary.training_job_status.value,
            "FinalObjectiveValue": metric.value if metric else None,
            "TrainingStartTime": start,
            "TrainingEndTime": end,
            "TrainingElapsedTimeSeconds": (end - start).total_seconds() if start and end else None,
        }
    )
    return row
