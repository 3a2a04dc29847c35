"""Remote mode for transform jobs: the TransformService's verbs over the REST API."""

from __future__ import annotations

import functools
from urllib.parse import quote

from slipway._http import HttpClient
from slipway.experiments.models import Page
from slipway.jobs.models import JobStatus
from slipway.jobs.waiting import wait_until
from slipway.transform.models import CreateTransformJob, TransformJob

_BASE = "/transform-jobs"


class RemoteTransform:
    """Transform jobs run by a slipway server."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def create_transform_job(self, request: CreateTransformJob) -> TransformJob:
        body = self.http.request("POST", _BASE, json=request.to_wire())
        return TransformJob.model_validate(body)

    def describe_transform_job(self, name: str) -> TransformJob:
        body = self.http.request("GET", f"{_BASE}/{quote(name, safe='')}")
        return TransformJob.model_validate(body)

    def list_transform_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[TransformJob]:
        params = {
            "status": str(status) if status else None,
            "name_contains": name_contains,
            "max_results": max_results,
            "next_token": next_token,
        }
        body = self.http.request("GET", _BASE, params=params)
        return Page[TransformJob](
            items=[TransformJob.model_validate(item) for item in body["Items"]],
            next_token=body.get("NextToken"),
        )

    def stop_transform_job(self, name: str) -> TransformJob:
        body = self.http.request("POST", f"{_BASE}/{quote(name, safe='')}/stop")
        return TransformJob.model_validate(body)

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.25) -> TransformJob:
        return wait_until(
            lambda: self.describe_transform_job(name),
            lambda job: job.transform_job_status.is_final,
            timeout,
            poll,
        )


@functools.cache
def remote_transform(server_url: str, token: str | None) -> RemoteTransform:
    return RemoteTransform(HttpClient(server_url, token))
