"""Remote mode for training jobs: the TrainingService's verbs over the REST API."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from urllib.parse import quote

from slipway._http import HttpClient
from slipway.experiments.models import Page
from slipway.jobs.models import JobStatus, LogLine
from slipway.training.models import CreateTrainingJob, TrainingJob

_BASE = "/training-jobs"


class RemoteTraining:
    """Training jobs run by a slipway server."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def upload_source(self, job_name: str, tarball: Iterable[bytes]) -> str:
        path = f"{_BASE}/{quote(job_name, safe='')}/source"
        headers = {"Content-Type": "application/gzip"}
        return self.http.request("PUT", path, content=iter(tarball), headers=headers)["Uri"]

    def create_training_job(self, request: CreateTrainingJob) -> TrainingJob:
        body = self.http.request("POST", _BASE, json=request.to_wire())
        return TrainingJob.model_validate(body)

    def describe_training_job(self, name: str) -> TrainingJob:
        body = self.http.request("GET", f"{_BASE}/{quote(name, safe='')}")
        return TrainingJob.model_validate(body)

    def list_training_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        tuning_job_name: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[TrainingJob]:
        params = {
            "status": str(status) if status else None,
            "name_contains": name_contains,
            "tuning_job_name": tuning_job_name,
            "max_results": max_results,
            "next_token": next_token,
        }
        body = self.http.request("GET", _BASE, params=params)
        return Page[TrainingJob](
            items=[TrainingJob.model_validate(item) for item in body["Items"]],
            next_token=body.get("NextToken"),
        )

    def stop_training_job(self, name: str) -> TrainingJob:
        body = self.http.request("POST", f"{_BASE}/{quote(name, safe='')}/stop")
        return TrainingJob.model_validate(body)

    def read_logs(self, name: str, after_line: int = 0, limit: int = 1000) -> list[LogLine]:
        params = {"after_line": after_line, "limit": limit}
        body = self.http.request("GET", f"{_BASE}/{quote(name, safe='')}/logs", params=params)
        return [LogLine.model_validate(line) for line in body["Lines"]]


@functools.cache
def remote_training(server_url: str, token: str | None) -> RemoteTraining:
    return RemoteTraining(HttpClient(server_url, token))
