"""Remote mode for AutoML jobs: the AutoMLService's verbs over the REST API."""

from __future__ import annotations

import functools
from urllib.parse import quote

from slipway._http import HttpClient
from slipway.automl.models import AutoMLCandidate, AutoMLJob, CreateAutoMLJob
from slipway.experiments.models import Page
from slipway.jobs.models import JobStatus

_BASE = "/automl-jobs"


def _path(name: str, *rest: str) -> str:
    return "/".join([_BASE, quote(name, safe=""), *rest])


class RemoteAutoML:
    """AutoML jobs run by a slipway server."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def create_auto_ml_job(self, request: CreateAutoMLJob) -> AutoMLJob:
        return AutoMLJob.model_validate(self.http.request("POST", _BASE, json=request.to_wire()))

    def describe_auto_ml_job(self, name: str) -> AutoMLJob:
        return AutoMLJob.model_validate(self.http.request("GET", _path(name)))

    def list_auto_ml_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[AutoMLJob]:
        params = {
            "status": str(status) if status else None,
            "name_contains": name_contains,
            "max_results": max_results,
            "next_token": next_token,
        }
        body = self.http.request("GET", _BASE, params=params)
        return Page[AutoMLJob](
            items=[AutoMLJob.model_validate(item) for item in body["Items"]],
            next_token=body.get("NextToken"),
        )

    def list_candidates_for_auto_ml_job(
        self,
        name: str,
        *,
        status_equals: JobStatus | str | None = None,
        candidate_name_equals: str | None = None,
        sort_by: str = "FinalObjectiveMetricValue",
        sort_order: str = "Descending",
        max_results: int = 100,
    ) -> list[AutoMLCandidate]:
        params = {
            "status_equals": str(status_equals) if status_equals else None,
            "candidate_name_equals": candidate_name_equals,
            "sort_by": sort_by,
            "sort_order": sort_order,
            "max_results": max_results,
        }
        body = self.http.request("GET", _path(name, "candidates"), params=params)
        return [AutoMLCandidate.model_validate(item) for item in body["Candidates"]]

    def stop_auto_ml_job(self, name: str) -> AutoMLJob:
        return AutoMLJob.model_validate(self.http.request("POST", _path(name, "stop")))


@functools.cache
def remote_automl(server_url: str, token: str | None) -> RemoteAutoML:
    return RemoteAutoML(HttpClient(server_url, token))
