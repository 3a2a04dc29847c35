"""Remote mode: the ExperimentsService's methods, carried out by a slipway server.

Each method has the signature of the service method of the same name and returns the
same entities, so the SDK cannot tell the two apart. The shared test suite runs against
both to keep it that way.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

from slipway._http import HttpClient
from slipway._sdk import pages
from slipway.experiments.expressions import Resource, SearchExpression
from slipway.experiments.models import (
    MAX_METRIC_POINTS,
    Artifact,
    Experiment,
    MetricPoint,
    Page,
    PrimaryStatus,
    SortOrder,
    Source,
    Tag,
    Trial,
    TrialComponent,
    TrialComponentStatus,
    artifacts_of,
    parameters_of,
    status_of,
    tags_of,
)

_ENTITIES: dict[str, type] = {
    "Experiment": Experiment,
    "Trial": Trial,
    "TrialComponent": TrialComponent,
}


def _q(name: str) -> str:
    return quote(name, safe="")


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _listing(
    created_after: dt.datetime | None,
    created_before: dt.datetime | None,
    sort_by: str | None,
    sort_order: SortOrder | str | None,
    max_results: int,
    next_token: str | None,
) -> dict[str, Any]:
    return {
        "created_after": _time(created_after),
        "created_before": _time(created_before),
        "sort_by": sort_by,
        "sort_order": str(sort_order) if sort_order is not None else None,
        "max_results": max_results,
        "next_token": next_token,
    }


def _page(body: dict[str, Any], entity: type) -> Page[Any]:
    return Page[Any](
        items=[entity.model_validate(item) for item in body["Items"]],
        next_token=body.get("NextToken"),
    )


def _wire(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value.to_wire() for name, value in values.items()}


class RemoteExperiments:
    """Experiment tracking through a slipway server's REST API."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    # --- experiments ------------------------------------------------------------------

    def create_experiment(
        self,
        experiment_name: str,
        display_name: str | None = None,
        description: str | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Experiment:
        body = {
            "ExperimentName": experiment_name,
            "DisplayName": display_name,
            "Description": description,
            "Tags": [tag.to_wire() for tag in tags_of(tags)],
        }
        return Experiment.model_validate(self.http.request("POST", "/experiments", json=body))

    def get_experiment(self, experiment_name: str) -> Experiment:
        body = self.http.request("GET", f"/experiments/{_q(experiment_name)}")
        return Experiment.model_validate(body)

    def list_experiments(
        self,
        *,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[Experiment]:
        params = _listing(
            created_after, created_before, sort_by, sort_order, max_results, next_token
        )
        return _page(self.http.request("GET", "/experiments", params=params), Experiment)

    def update_experiment(
        self,
        experiment_name: str,
        display_name: str | None = None,
        description: str | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Experiment:
        body = {
            "DisplayName": display_name,
            "Description": description,
            "Tags": [tag.to_wire() for tag in tags_of(tags)],
        }
        path = f"/experiments/{_q(experiment_name)}"
        return Experiment.model_validate(self.http.request("PATCH", path, json=body))

    def delete_experiment(self, experiment_name: str, *, cascade: bool = False) -> None:
        path = f"/experiments/{_q(experiment_name)}"
        self.http.request("DELETE", path, params={"cascade": str(cascade).lower()})

    # --- trials -----------------------------------------------------------------------

    def create_trial(
        self,
        trial_name: str,
        experiment_name: str,
        display_name: str | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Trial:
        body = {
            "TrialName": trial_name,
            "ExperimentName": experiment_name,
            "DisplayName": display_name,
            "Tags": [tag.to_wire() for tag in tags_of(tags)],
        }
        return Trial.model_validate(self.http.request("POST", "/trials", json=body))

    def get_trial(self, trial_name: str) -> Trial:
        return Trial.model_validate(self.http.request("GET", f"/trials/{_q(trial_name)}"))

    def list_trials(
        self,
        *,
        experiment_name: str | None = None,
        trial_component_name: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[Trial]:
        params = _listing(
            created_after, created_before, sort_by, sort_order, max_results, next_token
        )
        params |= {"experiment_name": experiment_name, "trial_component_name": trial_component_name}
        return _page(self.http.request("GET", "/trials", params=params), Trial)

    def update_trial(
        self,
        trial_name: str,
        display_name: str | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Trial:
        body = {"DisplayName": display_name, "Tags": [tag.to_wire() for tag in tags_of(tags)]}
        path = f"/trials/{_q(trial_name)}"
        return Trial.model_validate(self.http.request("PATCH", path, json=body))

    def delete_trial(self, trial_name: str, *, cascade: bool = False) -> None:
        path = f"/trials/{_q(trial_name)}"
        self.http.request("DELETE", path, params={"cascade": str(cascade).lower()})

    def associate_trial_component(self, trial_component_name: str, trial_name: str) -> None:
        path = f"/trials/{_q(trial_name)}/trial-components/{_q(trial_component_name)}"
        self.http.request("PUT", path)

    def disassociate_trial_component(self, trial_component_name: str, trial_name: str) -> None:
        path = f"/trials/{_q(trial_name)}/trial-components/{_q(trial_component_name)}"
        self.http.request("DELETE", path)

    # --- trial components -------------------------------------------------------------

    def create_trial_component(
        self,
        trial_component_name: str,
        display_name: str | None = None,
        status: TrialComponentStatus | PrimaryStatus | str | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        parameters: dict[str, Any] | None = None,
        input_artifacts: dict[str, Artifact | dict[str, Any]] | None = None,
        output_artifacts: dict[str, Artifact | dict[str, Any]] | None = None,
        source: Source | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> TrialComponent:
        body = {
            "TrialComponentName": trial_component_name,
            "DisplayName": display_name,
            "Status": status_of(status).to_wire() if status is not None else None,
            "StartTime": _time(start_time),
            "EndTime": _time(end_time),
            "Parameters": _wire(parameters_of(parameters)),
            "InputArtifacts": _wire(artifacts_of(input_artifacts)),
            "OutputArtifacts": _wire(artifacts_of(output_artifacts)),
            "Source": source.to_wire() if source is not None else None,
            "Tags": [tag.to_wire() for tag in tags_of(tags)],
        }
        body = {k: v for k, v in body.items() if v is not None}
        return TrialComponent.model_validate(
            self.http.request("POST", "/trial-components", json=body)
        )

    def get_trial_component(self, trial_component_name: str) -> TrialComponent:
        path = f"/trial-components/{_q(trial_component_name)}"
        return TrialComponent.model_validate(self.http.request("GET", path))

    def list_trial_components(
        self,
        *,
        experiment_name: str | None = None,
        trial_name: str | None = None,
        source_arn: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[TrialComponent]:
        params = _listing(
            created_after, created_before, sort_by, sort_order, max_results, next_token
        )
        params |= {
            "experiment_name": experiment_name,
            "trial_name": trial_name,
            "source_arn": source_arn,
        }
        return _page(self.http.request("GET", "/trial-components", params=params), TrialComponent)

    def update_trial_component(
        self,
        trial_component_name: str,
        display_name: str | None = None,
        status: TrialComponentStatus | PrimaryStatus | str | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        parameters: dict[str, Any] | None = None,
        parameters_to_remove: Sequence[str] = (),
        input_artifacts: dict[str, Artifact | dict[str, Any]] | None = None,
        input_artifacts_to_remove: Sequence[str] = (),
        output_artifacts: dict[str, Artifact | dict[str, Any]] | None = None,
        output_artifacts_to_remove: Sequence[str] = (),
        metrics: Sequence[MetricPoint] = (),
    ) -> None:
        body = {
            "DisplayName": display_name,
            "Status": status_of(status).to_wire() if status is not None else None,
            "StartTime": _time(start_time),
            "EndTime": _time(end_time),
            "Parameters": _wire(parameters_of(parameters)),
            "ParametersToRemove": list(parameters_to_remove),
            "InputArtifacts": _wire(artifacts_of(input_artifacts)),
            "InputArtifactsToRemove": list(input_artifacts_to_remove),
            "OutputArtifacts": _wire(artifacts_of(output_artifacts)),
            "OutputArtifactsToRemove": list(output_artifacts_to_remove),
        }
        body = {k: v for k, v in body.items() if v is not None}
        if metrics:
            self.log_metrics(trial_component_name, metrics)
        self.http.request("PATCH", f"/trial-components/{_q(trial_component_name)}", json=body)

    def delete_trial_component(
        self, trial_component_name: str, *, force_disassociate: bool = False
    ) -> None:
        path = f"/trial-components/{_q(trial_component_name)}"
        params = {"force_disassociate": str(force_disassociate).lower()}
        self.http.request("DELETE", path, params=params)

    # --- metrics ----------------------------------------------------------------------

    def log_metrics(
        self,
        trial_component_name: str,
        points: Sequence[MetricPoint],
        batch_id: str | None = None,
    ) -> int:
        body = {"Metrics": [p.to_wire() for p in points], "BatchId": batch_id}
        path = f"/trial-components/{_q(trial_component_name)}/metrics"
        return self.http.request("POST", path, json=body)["Stored"]

    def get_metric_series(self, trial_component_name: str, metric_name: str) -> list[MetricPoint]:
        def page(token: str | None) -> Page[MetricPoint]:
            return self.list_metric_points(trial_component_name, metric_name, next_token=token)

        return list(pages(page))

    def list_metric_points(
        self,
        trial_component_name: str,
        metric_name: str,
        max_results: int = MAX_METRIC_POINTS,
        next_token: str | None = None,
    ) -> Page[MetricPoint]:
        path = f"/trial-components/{_q(trial_component_name)}/metrics/{_q(metric_name)}"
        params = {"max_results": max_results, "next_token": next_token}
        return _page(self.http.request("GET", path, params=params), MetricPoint)

    # --- artifacts --------------------------------------------------------------------

    def upload_artifact(
        self,
        trial_component_name: str,
        name: str,
        chunks: Iterable[bytes],
        media_type: str | None = None,
        direction: str = "output",
    ) -> Artifact:
        path = f"/trial-components/{_q(trial_component_name)}/artifacts/{_q(name)}"
        params = {"media_type": media_type, "direction": direction}
        body = self.http.request(
            "PUT",
            path,
            params=params,
            content=iter(chunks),
            headers={"Content-Type": "application/octet-stream"},
        )
        return Artifact.model_validate(body)

    def open_artifact(self, uri: str) -> Iterator[bytes]:
        return self.http.stream("/artifacts/content", {"uri": uri})

    # --- search -----------------------------------------------------------------------

    def search(
        self,
        resource: Resource | str,
        *,
        search_expression: SearchExpression | dict[str, Any] | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[Any]:
        kind = resource if isinstance(resource, Resource) else Resource.parse(resource)
        if isinstance(search_expression, SearchExpression):
            search_expression = search_expression.to_wire()
        body = {
            "Resource": kind.value,
            "SearchExpression": search_expression,
            "SortBy": sort_by,
            "SortOrder": str(sort_order) if sort_order is not None else None,
            "MaxResults": max_results,
            "NextToken": next_token,
        }
        body = {k: v for k, v in body.items() if v is not None}
        answer = self.http.request("POST", "/search", json=body)
        entity = _ENTITIES[kind.value]
        items = [entity.model_validate(result[kind.value]) for result in answer["Results"]]
        return Page[Any](items=items, next_token=answer.get("NextToken"))


@functools.cache
def remote_experiments(server_url: str, token: str | None) -> RemoteExperiments:
    """One client (one connection pool) per server and token."""
    return RemoteExperiments(HttpClient(server_url, token))
