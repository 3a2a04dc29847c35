"""The AutoML SDK object, in the shape of the reference SDK's ``AutoML``."""

from __future__ import annotations

import time
from typing import Any

from slipway.automl.models import AutoMLCandidate, AutoMLJob, CreateAutoMLJob
from slipway.errors import SlipwayError
from slipway.names import generate_name


class AutoML:
    """Find the best pipeline for a table's target column, with notebooks that show how."""

    def __init__(
        self,
        role: str | None = None,
        target_attribute_name: str | None = None,
        output_path: str | None = None,
        problem_type: str | None = None,
        job_objective: dict[str, str] | str | None = None,
        max_candidates: int | None = None,
        max_runtime_per_training_job_in_seconds: int | None = None,
        total_job_runtime_in_seconds: int | None = None,
        generate_candidate_definitions_only: bool = False,
        base_job_name: str | None = None,
    ) -> None:
        self.role = role
        self.target_attribute_name = target_attribute_name
        self.output_path = output_path
        self.problem_type = problem_type
        self.job_objective = job_objective
        self.max_candidates = max_candidates
        self.max_runtime_per_training_job_in_seconds = max_runtime_per_training_job_in_seconds
        self.total_job_runtime_in_seconds = total_job_runtime_in_seconds
        self.generate_candidate_definitions_only = generate_candidate_definitions_only
        self.base_job_name = base_job_name
        self.current_job_name: str | None = None

    def _request(self, inputs: str, job_name: str) -> CreateAutoMLJob:
        if not self.target_attribute_name:
            raise SlipwayError("AutoML needs target_attribute_name: the column to predict")
        criteria: dict[str, Any] = {}
        if self.max_candidates is not None:
            criteria["MaxCandidates"] = self.max_candidates
        per_job = self.max_runtime_per_training_job_in_seconds
        total = self.total_job_runtime_in_seconds
        if per_job is not None:
            criteria["MaxRuntimePerTrainingJobInSeconds"] = per_job
        if total is not None:
            criteria["MaxAutoMLJobRuntimeInSeconds"] = total
            if per_job is None:
                criteria["MaxRuntimePerTrainingJobInSeconds"] = min(total, 3600)
        objective = self.job_objective
        if isinstance(objective, str):
            objective = {"MetricName": objective}
        body: dict[str, Any] = {
            "AutoMLJobName": job_name,
            "InputDataConfig": [
                {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": inputs}},
                    "TargetAttributeName": self.target_attribute_name,
                }
            ],
            "OutputDataConfig": {"S3OutputPath": self.output_path} if self.output_path else {},
            "ProblemType": self.problem_type,
            "AutoMLJobObjective": objective,
            "AutoMLJobConfig": {"CompletionCriteria": criteria},
            "RoleArn": self.role,
            "GenerateCandidateDefinitionsOnly": self.generate_candidate_definitions_only,
        }
        return CreateAutoMLJob.model_validate(body)

    def fit(self, inputs: str, job_name: str | None = None, wait: bool = True,
            logs: bool = True) -> AutoMLJob:  # fmt: skip
        """Start an AutoML job on a CSV or parquet file (path or URI); wait for it."""
        from slipway.platform import automl_backend

        job_name = job_name or generate_name(self.base_job_name or "automl")[:32]
        request = self._request(inputs, job_name)
        backend = automl_backend()
        described = backend.create_auto_ml_job(request)
        self.current_job_name = job_name
        if wait:
            described = self._wait(logs)
        return described

    def _wait(self, logs: bool) -> AutoMLJob:
        from slipway.platform import automl_backend

        backend = automl_backend()
        seen = None
        while True:
            described = backend.describe_auto_ml_job(self._name())
            status = described.auto_ml_job_secondary_status
            if logs and status != seen:
                print(f"{self._name()}: {described.auto_ml_job_status} / {status}", flush=True)
                seen = status
            if described.auto_ml_job_status.is_final:
                return described
            time.sleep(0.5)

    def _name(self) -> str:
        if self.current_job_name is None:
            raise SlipwayError("this AutoML object has started no job yet; call fit() first")
        return self.current_job_name

    @classmethod
    def attach(cls, auto_ml_job_name: str) -> AutoML:
        from slipway.platform import automl_backend

        described = automl_backend().describe_auto_ml_job(auto_ml_job_name)
        automl = cls(target_attribute_name=described.input_data_config[0].target_attribute_name)
        automl.current_job_name = auto_ml_job_name
        return automl

    def describe_auto_ml_job(self, job_name: str | None = None) -> AutoMLJob:
        from slipway.platform import automl_backend

        return automl_backend().describe_auto_ml_job(job_name or self._name())

    def list_candidates(self, job_name: str | None = None, status_equals: str | None = None,
                        candidate_name: str | None = None, sort_order: str = "Descending",
                        sort_by: str = "FinalObjectiveMetricValue",
                        max_results: int = 100) -> list[AutoMLCandidate]:  # fmt: skip
        from slipway.platform import automl_backend

        return automl_backend().list_candidates_for_auto_ml_job(
            job_name or self._name(),
            status_equals=status_equals,
            candidate_name_equals=candidate_name,
            sort_by=sort_by,
            sort_order=sort_order,
            max_results=max_results,
        )

    def best_candidate(self, job_name: str | None = None) -> AutoMLCandidate | None:
        return self.describe_auto_ml_job(job_name).best_candidate

    def deploy(self, endpoint_name: str | None = None, candidate: AutoMLCandidate | None = None,
               wait: bool = True, **kwargs: Any) -> Any:  # fmt: skip
        """Host a candidate (the best by default) on an endpoint that accepts raw rows."""
        from slipway.serving.sdk import Model

        candidate = candidate or self.best_candidate()
        if candidate is None or not candidate.inference_containers:
            raise SlipwayError(
                f"AutoML job {self._name()!r} has no completed candidate to deploy; check "
                f"`slipway automl show {self._name()}`"
            )
        container = candidate.inference_containers[0]
        model = Model(container.model_data_url, env=dict(container.environment))
        name = endpoint_name or f"{candidate.candidate_name}"[:63]
        return model.deploy(endpoint_name=name, wait=wait, **kwargs)
