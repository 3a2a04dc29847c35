"""REST routes of experiment tracking under ``/api/v1``: each route is one service call.

Bodies use the reference's PascalCase names (``ExperimentName``, ``SearchExpression``...);
snake_case is accepted too. Listing routes answer ``{"Items": [...], "NextToken": ...}``;
search answers the reference shape ``{"Results": [{"TrialComponent": {...}}], ...}``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field, WithJsonSchema
from starlette.concurrency import run_in_threadpool

from slipway.auth.guard import request_services
from slipway.experiments.expressions import (
    RESOURCE_ALIASES,
    Resource,
    SearchExpression,
    sort_key,
)
from slipway.experiments.models import (
    MAX_METRIC_POINTS,
    Artifact,
    ArtifactName,
    DisplayName,
    Experiment,
    ExperimentName,
    MetricPoint,
    Page,
    ParameterName,
    ParameterValue,
    SortOrder,
    Source,
    Tag,
    Trial,
    TrialComponent,
    TrialComponentName,
    TrialComponentStatus,
    TrialName,
    WireModel,
)
from slipway.experiments.service import ExperimentsService
from slipway.names import free_text, key_name
from slipway.server.openapi import BINARY_BODY
from slipway.store.artifacts import KEY_SCHEMA
from slipway.wire import PageToken, Time, one_of

router = APIRouter(prefix="/api/v1", tags=["experiments"])

_Description = free_text("description", 3072)
_BatchId = key_name("batch id", 64)
_Tags = Annotated[list[Tag], Field(max_length=50)]
_Names = Annotated[list[str], Field(max_length=100)]
ArtifactDirection = one_of(["input", "output"])
# An uploaded artifact's name becomes part of its key in the artifact store.
ArtifactPath = Annotated[str, WithJsonSchema({**KEY_SCHEMA, "maxLength": 256})]
SearchResource = one_of([*Resource, *RESOURCE_ALIASES])


def service(request: Request) -> ExperimentsService:
    return request_services(request).experiments


Service = Annotated[ExperimentsService, Depends(service)]
ExperimentSort = sort_key(Resource.EXPERIMENT)
TrialSort = sort_key(Resource.TRIAL)
TrialComponentSort = sort_key(Resource.TRIAL_COMPONENT)


class ListQuery(WireModel):
    """Query parameters shared by every listing route."""

    created_after: Time | None = None
    created_before: Time | None = None
    sort_order: SortOrder | None = None
    max_results: Annotated[int, Field(ge=1, le=1000)] = 100
    next_token: PageToken | None = None

    # FastAPI hands a query model every query parameter, the route's own filters
    # (experiment_name, trial_name...) included, so extra ones must not be refused here.
    model_config = WireModel.model_config | {"alias_generator": None, "extra": "ignore"}


class ExperimentListQuery(ListQuery):
    sort_by: ExperimentSort | None = None


class TrialListQuery(ListQuery):
    sort_by: TrialSort | None = None


class TrialComponentListQuery(ListQuery):
    sort_by: TrialComponentSort | None = None


def _page(page: Page[Any]) -> dict[str, Any]:
    return page.to_wire()


# --- experiments ------------------------------------------------------------------------


class CreateExperiment(WireModel):
    experiment_name: ExperimentName
    display_name: DisplayName | None = None
    description: _Description | None = None
    tags: _Tags = []


class UpdateExperiment(WireModel):
    display_name: DisplayName | None = None
    description: _Description | None = None
    tags: _Tags = []


@router.post("/experiments", status_code=201, response_model_exclude_none=True)
def create_experiment(body: CreateExperiment, svc: Service) -> Experiment:
    return svc.create_experiment(
        body.experiment_name, body.display_name, body.description, body.tags
    )


@router.get("/experiments")
def list_experiments(
    query: Annotated[ExperimentListQuery, Query()], svc: Service
) -> dict[str, Any]:
    return _page(
        svc.list_experiments(
            created_after=query.created_after,
            created_before=query.created_before,
            sort_by=query.sort_by,
            sort_order=query.sort_order,
            max_results=query.max_results,
            next_token=query.next_token,
        )
    )


@router.get("/experiments/{experiment_name}", response_model_exclude_none=True)
def get_experiment(experiment_name: ExperimentName, svc: Service) -> Experiment:
    return svc.get_experiment(experiment_name)


@router.patch("/experiments/{experiment_name}", response_model_exclude_none=True)
def update_experiment(
    experiment_name: ExperimentName, body: UpdateExperiment, svc: Service
) -> Experiment:
    return svc.update_experiment(experiment_name, body.display_name, body.description, body.tags)


@router.delete("/experiments/{experiment_name}", status_code=204)
def delete_experiment(
    experiment_name: ExperimentName, svc: Service, cascade: bool = False
) -> Response:
    svc.delete_experiment(experiment_name, cascade=cascade)
    return Response(status_code=204)


# --- trials -----------------------------------------------------------------------------


class CreateTrial(WireModel):
    trial_name: TrialName
    experiment_name: ExperimentName
    display_name: DisplayName | None = None
    tags: _Tags = []


class UpdateTrial(WireModel):
    display_name: DisplayName | None = None
    tags: _Tags = []


@router.post("/trials", status_code=201, response_model_exclude_none=True)
def create_trial(body: CreateTrial, svc: Service) -> Trial:
    return svc.create_trial(body.trial_name, body.experiment_name, body.display_name, body.tags)


@router.get("/trials")
def list_trials(
    query: Annotated[TrialListQuery, Query()],
    svc: Service,
    experiment_name: ExperimentName | None = None,
    trial_component_name: TrialComponentName | None = None,
) -> dict[str, Any]:
    return _page(
        svc.list_trials(
            experiment_name=experiment_name,
            trial_component_name=trial_component_name,
            created_after=query.created_after,
            created_before=query.created_before,
            sort_by=query.sort_by,
            sort_order=query.sort_order,
            max_results=query.max_results,
            next_token=query.next_token,
        )
    )


@router.get("/trials/{trial_name}", response_model_exclude_none=True)
def get_trial(trial_name: TrialName, svc: Service) -> Trial:
    return svc.get_trial(trial_name)


@router.patch("/trials/{trial_name}", response_model_exclude_none=True)
def update_trial(trial_name: TrialName, body: UpdateTrial, svc: Service) -> Trial:
    return svc.update_trial(trial_name, body.display_name, body.tags)


@router.delete("/trials/{trial_name}", status_code=204)
def delete_trial(trial_name: TrialName, svc: Service, cascade: bool = False) -> Response:
    svc.delete_trial(trial_name, cascade=cascade)
    return Response(status_code=204)


@router.put("/trials/{trial_name}/trial-components/{trial_component_name}", status_code=204)
def associate(
    trial_name: TrialName, trial_component_name: TrialComponentName, svc: Service
) -> Response:
    svc.associate_trial_component(trial_component_name, trial_name)
    return Response(status_code=204)


@router.delete("/trials/{trial_name}/trial-components/{trial_component_name}", status_code=204)
def disassociate(
    trial_name: TrialName, trial_component_name: TrialComponentName, svc: Service
) -> Response:
    svc.disassociate_trial_component(trial_component_name, trial_name)
    return Response(status_code=204)


# --- trial components -------------------------------------------------------------------

_Parameters = Annotated[dict[ParameterName, ParameterValue], Field(max_length=1000)]
_Artifacts = Annotated[dict[ArtifactName, Artifact], Field(max_length=1000)]


class CreateTrialComponent(WireModel):
    trial_component_name: TrialComponentName
    display_name: DisplayName | None = None
    status: TrialComponentStatus | None = None
    start_time: Time | None = None
    end_time: Time | None = None
    parameters: _Parameters = {}
    input_artifacts: _Artifacts = {}
    output_artifacts: _Artifacts = {}
    source: Source | None = None
    tags: _Tags = []


class UpdateTrialComponent(WireModel):
    display_name: DisplayName | None = None
    status: TrialComponentStatus | None = None
    start_time: Time | None = None
    end_time: Time | None = None
    parameters: _Parameters = {}
    parameters_to_remove: _Names = []
    input_artifacts: _Artifacts = {}
    input_artifacts_to_remove: _Names = []
    output_artifacts: _Artifacts = {}
    output_artifacts_to_remove: _Names = []


class MetricBatch(WireModel):
    metrics: Annotated[list[MetricPoint], Field(max_length=100_000)]
    batch_id: _BatchId | None = None


@router.post("/trial-components", status_code=201, response_model_exclude_none=True)
def create_trial_component(body: CreateTrialComponent, svc: Service) -> TrialComponent:
    return svc.create_trial_component(
        body.trial_component_name,
        display_name=body.display_name,
        status=body.status,
        start_time=body.start_time,
        end_time=body.end_time,
        parameters=body.parameters,
        input_artifacts=body.input_artifacts,
        output_artifacts=body.output_artifacts,
        source=body.source,
        tags=body.tags,
    )


@router.get("/trial-components")
def list_trial_components(
    query: Annotated[TrialComponentListQuery, Query()],
    svc: Service,
    experiment_name: ExperimentName | None = None,
    trial_name: TrialName | None = None,
    source_arn: str | None = None,
) -> dict[str, Any]:
    return _page(
        svc.list_trial_components(
            experiment_name=experiment_name,
            trial_name=trial_name,
            source_arn=source_arn,
            created_after=query.created_after,
            created_before=query.created_before,
            sort_by=query.sort_by,
            sort_order=query.sort_order,
            max_results=query.max_results,
            next_token=query.next_token,
        )
    )


@router.get("/trial-components/{trial_component_name}", response_model_exclude_none=True)
def get_trial_component(trial_component_name: TrialComponentName, svc: Service) -> TrialComponent:
    return svc.get_trial_component(trial_component_name)


@router.patch("/trial-components/{trial_component_name}")
def update_trial_component(
    trial_component_name: TrialComponentName, body: UpdateTrialComponent, svc: Service
) -> dict[str, str]:
    """Answers the component's name, as the reference's UpdateTrialComponent does."""
    svc.update_trial_component(
        trial_component_name,
        display_name=body.display_name,
        status=body.status,
        start_time=body.start_time,
        end_time=body.end_time,
        parameters=body.parameters,
        parameters_to_remove=body.parameters_to_remove,
        input_artifacts=body.input_artifacts,
        input_artifacts_to_remove=body.input_artifacts_to_remove,
        output_artifacts=body.output_artifacts,
        output_artifacts_to_remove=body.output_artifacts_to_remove,
    )
    return {"TrialComponentName": trial_component_name}


@router.delete("/trial-components/{trial_component_name}", status_code=204)
def delete_trial_component(
    trial_component_name: TrialComponentName, svc: Service, force_disassociate: bool = False
) -> Response:
    svc.delete_trial_component(trial_component_name, force_disassociate=force_disassociate)
    return Response(status_code=204)


@router.post("/trial-components/{trial_component_name}/metrics")
def log_metrics(
    trial_component_name: TrialComponentName, body: MetricBatch, svc: Service
) -> dict[str, int]:
    """Store a batch of points; answered only once the batch is committed."""
    return {"Stored": svc.log_metrics(trial_component_name, body.metrics, body.batch_id)}


# `:path`: metric names such as 'train/loss' hold slashes, which arrive decoded.
@router.get("/trial-components/{trial_component_name}/metrics/{metric_name:path}")
def list_metric_points(
    trial_component_name: str,
    metric_name: str,
    svc: Service,
    max_results: int = MAX_METRIC_POINTS,
    next_token: str | None = None,
) -> dict[str, Any]:
    """One page of a metric's points in step order, then time; unstepped points last.

    ``max_results`` is 1 to 25,000 points (the default, as MLflow's metrics/get-history);
    pass the answer's ``NextToken`` as ``next_token`` for the following page.
    """
    return _page(svc.list_metric_points(trial_component_name, metric_name, max_results, next_token))


# --- artifacts --------------------------------------------------------------------------


# `:path`: an artifact name may name a folder too (plots/roc.png).
@router.put(
    "/trial-components/{trial_component_name}/artifacts/{name:path}", openapi_extra=BINARY_BODY
)
async def upload_artifact(
    trial_component_name: TrialComponentName,
    name: ArtifactPath,
    request: Request,
    svc: Service,
    media_type: Annotated[str | None, Query(max_length=64)] = None,
    direction: ArtifactDirection = "output",
) -> Artifact:
    """Stream the body into the artifact store (spooled: large uploads go to disk)."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    async for chunk in request.stream():
        spool.write(chunk)
    spool.seek(0)

    def store() -> Artifact:
        with spool:
            chunks = iter(lambda: spool.read(1024 * 1024), b"")
            return svc.upload_artifact(trial_component_name, name, chunks, media_type, direction)

    return await run_in_threadpool(store)


@router.get("/artifacts/content")
def download_artifact(uri: str, svc: Service) -> StreamingResponse:
    record = svc.artifact_record(uri)
    chunks: Iterator[bytes] = svc.open_artifact(uri)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-Length": str(record.size), "X-Slipway-Sha256": record.sha256},
    )


# --- search -----------------------------------------------------------------------------


class SearchRequest(WireModel):
    resource: SearchResource
    search_expression: SearchExpression | None = None
    sort_by: str | None = None
    sort_order: SortOrder | None = None
    max_results: Annotated[int, Field(ge=1, le=1000)] = 100
    next_token: PageToken | None = None


@router.post("/search")
def search(body: SearchRequest, svc: Service) -> dict[str, Any]:
    page = svc.search(
        body.resource,
        search_expression=body.search_expression,
        sort_by=body.sort_by,
        sort_order=body.sort_order,
        max_results=body.max_results,
        next_token=body.next_token,
    )
    kind = type(page.items[0]).__name__ if page.items else None
    results = [{kind: item.to_wire()} for item in page.items]
    return {"Results": results, "NextToken": page.next_token}
