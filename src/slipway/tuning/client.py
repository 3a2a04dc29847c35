"""Remote mode for tuning jobs: the TuningService's verbs over the REST API."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from urllib.parse import quote

from slipway._http import HttpClient
from slipway.experiments.models import Page
from slipway.jobs.models import JobStatus
from slipway.tuning.models import CreateTuningJob, TrainingJobSummary, TuningJob

_BASE = "/tuning-jobs"


def _path(name: str, *rest: str) -> str:
    return "/".join([_BASE, quote(name, safe=""), *rest])


class RemoteTuning:
    """Tuning jobs run by a slipway server."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def upload_source(self, job_name: str, tarball: Iterable[bytes]) -> str:
        headers = {"Content-Type": "application/gzip"}
        body = self.http.request(
            "PUT", _path(job_name, "source"), content=iter(tarball), headers=headers
        )
        return body["Uri"]

    def create_hyper_parameter_tuning_job(self, request: CreateTuningJob) -> TuningJob:
        body = self.http.request("POST", _BASE, json=request.to_wire())
        return TuningJob.model_validate(body)

    def describe_hyper_parameter_tuning_job(self, name: str) -> TuningJob:
        return TuningJob.model_validate(self.http.request("GET", _path(name)))

    def list_hyper_parameter_tuning_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[TuningJob]:
        params = {
            "status": str(status) if status else None,
            "name_contains": name_contains,
            "max_results": max_results,
            "next_token": next_token,
        }
        body = self.http.request("GET", _BASE, params=params)
        return Page[TuningJob](
            items=[TuningJob.model_validate(item) for item in body["Items"]],
            next_token=body.get("NextToken"),
        )

    def list_training_jobs_for_hyper_parameter_tuning_job(
        self, name: str, status: JobStatus | str | None = None
    ) -> list[TrainingJobSummary]:
        params = {"status": str(status) if status else None}
        body = self.http.request("GET", _path(name, "training-jobs"), params=params)
        return [TrainingJobSummary.model_validate(item) for item in body["TrainingJobSummaries"]]

    def stop_hyper_parameter_tuning_job(self, name: str) -> TuningJob:
        return TuningJob.model_validate(self.http.request("POST", _path(name, "stop")))


@functools.cache
def remote_tuning(server_url: str, token: str | None) -> RemoteTuning:
    return RemoteTuning(HttpClient(server_url, token))
