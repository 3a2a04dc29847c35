"""The training and tuning job requests of an AutoML job's candidates.

Every candidate runs the same script (`_candidate.py`, shipped as a one-file source
tarball) on the same two channels: the training table and the job's settings (the
problem, the objective and the column plan). Only its hyperparameters differ, and an
ensemble gets its members' outputs as extra channels.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import tarfile
from typing import Any

from slipway.automl import _data
from slipway.automl import _recipes as recipes
from slipway.automl.candidates import objective_metric
from slipway.training.models import Channel, CreateTrainingJob, ExperimentConfig, MetricDefinition
from slipway.tuning.models import CreateTuningJob

ENTRY_POINT = "candidate.py"


def source_tarball() -> bytes:
    """sourcedir.tar.gz holding the candidate script's entry point."""
    script = b"from slipway.automl._candidate import main\n\nmain()\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(ENTRY_POINT)
        info.size = len(script)
        info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
        tar.addfile(info, io.BytesIO(script))
    return buffer.getvalue()


@dataclasses.dataclass(frozen=True)
class CandidateSetup:
    """Where the candidates of one AutoML job read from and write to, and what they log."""

    job_name: str
    problem_type: str
    objective: str
    data_uri: str
    settings_uri: str
    source_uri: str
    output_path: str

    def channels(self) -> dict[str, Channel]:
        return {"train": Channel(uri=self.data_uri), "automl": Channel(uri=self.settings_uri)}

    def definitions(self) -> list[MetricDefinition]:
        """Every metric of the problem type: the candidate script prints them all."""
        return [
            MetricDefinition(
                name=objective_metric(m), regex=rf"validation:{m}=([-+0-9.eE]+|nan|inf);"
            )
            for m in _data.METRICS[self.problem_type]
        ]

    def training_job(
        self, name: str, hps: dict[str, Any], channels: dict[str, Channel], max_run: int
    ) -> CreateTrainingJob:
        """One candidate, a trial of the experiment named after the AutoML job."""
        return CreateTrainingJob(
            training_job_name=name,
            entry_point=ENTRY_POINT,
            source_uri=self.source_uri,
            hyperparameters=hps,
            metric_definitions=self.definitions(),
            input_data_config=channels,
            output_path=self.output_path,
            max_run=max_run,
            experiment_config=ExperimentConfig(experiment_name=self.job_name, trial_name=name),
        )

    def tuning_job(self, max_jobs: int, parallel: int, max_run: int) -> CreateTuningJob:
        """A Bayesian search over the algorithm and every algorithm's ranges at once."""
        ranges: dict[str, list[dict[str, Any]]] = {"Integer": [], "Continuous": []}
        for algorithm_ranges in recipes.RANGES.values():
            for hp, (kind, low, high, log_scale) in algorithm_ranges.items():
                ranges["Integer" if kind == "int" else "Continuous"].append(
                    {"Name": hp, "MinValue": str(low), "MaxValue": str(high),
                     "ScalingType": "Logarithmic" if log_scale else "Linear"}
                )  # fmt: skip
        return CreateTuningJob.model_validate(
            {
                "HyperParameterTuningJobName": self.job_name,
                "HyperParameterTuningJobConfig": {
                    "Strategy": "Bayesian",
                    "HyperParameterTuningJobObjective": {
                        "Type": "Maximize" if recipes.MAXIMIZE[self.objective] else "Minimize",
                        "MetricName": objective_metric(self.objective),
                    },
                    "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs,
                                       "MaxParallelTrainingJobs": parallel},
                    "ParameterRanges": {
                        "IntegerParameterRanges": ranges["Integer"],
                        "ContinuousParameterRanges": ranges["Continuous"],
                        "CategoricalParameterRanges": [
                            {"Name": "algorithm", "Values": list(recipes.ALGORITHMS)}
                        ],
                    },
                    "RandomSeed": 0,
                },
                "TrainingJobDefinition": {
                    "EntryPoint": ENTRY_POINT,
                    "SourceUri": self.source_uri,
                    "MetricDefinitions": [d.to_wire() for d in self.definitions()],
                    "InputDataConfig": {k: v.to_wire() for k, v in self.channels().items()},
                    "OutputPath": self.output_path,
                    "MaxRun": max_run,
                },
            }
        )  # fmt: skip
