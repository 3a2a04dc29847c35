"""Remote mode for jobs of every kind: the JobService's read and stop verbs over REST."""

from __future__ import annotations

import functools
from urllib.parse import quote

from slipway._http import HttpClient
from slipway.experiments.models import Page
from slipway.jobs.models import Job, JobKind, JobStatus, LogLine

_BASE = "/jobs"


class RemoteJobs:
    """Jobs of a slipway server, whatever their kind."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def list_jobs(
        self,
        *,
        kind: JobKind | None = None,
        status: JobStatus | str | None = None,
        parent: None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[Job]:
        params = {
            "kind": str(kind) if kind else None,
            "status": str(status) if status else None,
            "name_contains": name_contains,
            "max_results": max_results,
            "next_token": next_token,
        }
        body = self.http.request("GET", _BASE, params=params)
        return Page[Job](
            items=[Job.model_validate(item) for item in body["Items"]],
            next_token=body.get("NextToken"),
        )

    def find_job(self, name: str, kind: JobKind | None = None) -> Job:
        params = {"kind": str(kind) if kind else None}
        return Job.model_validate(
            self.http.request("GET", f"{_BASE}/{quote(name, safe='')}", params=params)
        )

    def read_logs(
        self, kind: JobKind, name: str, after_line: int = 0, limit: int = 1000
    ) -> list[LogLine]:
        params = {"kind": str(kind), "after_line": after_line, "limit": limit}
        body = self.http.request("GET", f"{_BASE}/{quote(name, safe='')}/logs", params=params)
        return [LogLine.model_validate(line) for line in body["Lines"]]

    def request_stop(self, kind: JobKind, name: str) -> Job:
        params = {"kind": str(kind)}
        body = self.http.request("POST", f"{_BASE}/{quote(name, safe='')}/stop", params=params)
        return Job.model_validate(body)


@functools.cache
def remote_jobs(server_url: str, token: str | None) -> RemoteJobs:
    return RemoteJobs(HttpClient(server_url, token))
