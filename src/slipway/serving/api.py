"""REST routes of hosting under ``/api/v1``: each route is one service call.

``/models``, ``/endpoint-configs`` and ``/endpoints`` with the reference's PascalCase
bodies (CreateModel, CreateEndpointConfig, CreateEndpoint, DescribeEndpoint...).
Listings answer ``{"Items": [...], "NextToken": ...}``. Invocations are not here: they
are served by the data plane (``slipway.serving.gateway``) at ``/endpoints/{name}/...``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from slipway.auth.guard import request_services
from slipway.serving.models import (
    ContainerDefinition,
    DataCaptureConfig,
    Endpoint,
    EndpointConfig,
    EndpointConfigName,
    EndpointName,
    EndpointStatus,
    Model,
    ModelName,
    ProductionVariant,
    SortOrder,
    Tag,
    WireModel,
)
from slipway.serving.service import SORT_BY, ServingService
from slipway.wire import PageToken, Time, one_of

router = APIRouter(prefix="/api/v1", tags=["serving"])

_Tags = Annotated[list[Tag], Field(max_length=50)]


def service(request: Request) -> ServingService:
    return request_services(request).serving


Service = Annotated[ServingService, Depends(service)]
SortBy = one_of(SORT_BY)


class ListQuery(WireModel):
    """Query parameters shared by the listing routes."""

    name_contains: Annotated[str | None, Field(max_length=63)] = None
    created_after: Time | None = None
    created_before: Time | None = None
    sort_by: SortBy | None = None
    sort_order: SortOrder | None = None
    max_results: Annotated[int, Field(ge=1, le=1000)] = 100
    next_token: PageToken | None = None

    model_config = WireModel.model_config | {"alias_generator": None, "extra": "ignore"}


class EndpointListQuery(ListQuery):
    status_equals: EndpointStatus | None = None


Listing = Annotated[ListQuery, Query()]
EndpointListing = Annotated[EndpointListQuery, Query()]


def _listing(query: ListQuery) -> dict[str, Any]:
    return {
        "name_contains": query.name_contains,
        "created_after": query.created_after,
        "created_before": query.created_before,
        "sort_by": query.sort_by,
        "sort_order": query.sort_order,
        "max_results": query.max_results,
        "next_token": query.next_token,
    }


# --- models -----------------------------------------------------------------------------


class CreateModel(WireModel):
    model_name: ModelName
    primary_container: ContainerDefinition
    tags: _Tags = []


@router.post("/models", status_code=201, response_model_exclude_none=True)
def create_model(body: CreateModel, svc: Service) -> Model:
    return svc.create_model(body.model_name, body.primary_container, body.tags)


@router.get("/models")
def list_models(query: Listing, svc: Service) -> dict[str, Any]:
    return svc.list_models(**_listing(query)).to_wire()


@router.get("/models/{model_name}", response_model_exclude_none=True)
def get_model(model_name: ModelName, svc: Service) -> Model:
    return svc.get_model(model_name)


@router.delete("/models/{model_name}", status_code=204)
def delete_model(model_name: ModelName, svc: Service) -> Response:
    svc.delete_model(model_name)
    return Response(status_code=204)


# --- endpoint configs -------------------------------------------------------------------


class CreateEndpointConfig(WireModel):
    endpoint_config_name: EndpointConfigName
    production_variants: Annotated[list[ProductionVariant], Field(min_length=1, max_length=10)]
    data_capture_config: DataCaptureConfig | None = None
    tags: _Tags = []


@router.post("/endpoint-configs", status_code=201, response_model_exclude_none=True)
def create_endpoint_config(body: CreateEndpointConfig, svc: Service) -> EndpointConfig:
    return svc.create_endpoint_config(
        body.endpoint_config_name, body.production_variants, body.data_capture_config, body.tags
    )


@router.get("/endpoint-configs")
def list_endpoint_configs(query: Listing, svc: Service) -> dict[str, Any]:
    return svc.list_endpoint_configs(**_listing(query)).to_wire()


@router.get("/endpoint-configs/{endpoint_config_name}", response_model_exclude_none=True)
def get_endpoint_config(endpoint_config_name: EndpointConfigName, svc: Service) -> EndpointConfig:
    return svc.get_endpoint_config(endpoint_config_name)


@router.delete("/endpoint-configs/{endpoint_config_name}", status_code=204)
def delete_endpoint_config(endpoint_config_name: EndpointConfigName, svc: Service) -> Response:
    svc.delete_endpoint_config(endpoint_config_name)
    return Response(status_code=204)


# --- endpoints --------------------------------------------------------------------------


class CreateEndpoint(WireModel):
    endpoint_name: EndpointName
    endpoint_config_name: EndpointConfigName
    tags: _Tags = []


class UpdateEndpoint(WireModel):
    endpoint_config_name: EndpointConfigName


@router.post("/endpoints", status_code=201, response_model_exclude_none=True)
def create_endpoint(body: CreateEndpoint, svc: Service) -> Endpoint:
    return svc.create_endpoint(body.endpoint_name, body.endpoint_config_name, body.tags)


@router.get("/endpoints")
def list_endpoints(query: EndpointListing, svc: Service) -> dict[str, Any]:
    return svc.list_endpoints(**_listing(query), status_equals=query.status_equals).to_wire()


@router.get("/endpoints/{endpoint_name}", response_model_exclude_none=True)
def get_endpoint(endpoint_name: EndpointName, svc: Service) -> Endpoint:
    return svc.get_endpoint(endpoint_name)


@router.get("/endpoints/{endpoint_name}/deployment")
def get_endpoint_deployment(endpoint_name: EndpointName, svc: Service) -> dict[str, Any]:
    return svc.get_endpoint_deployment(endpoint_name)


@router.patch("/endpoints/{endpoint_name}", response_model_exclude_none=True)
def update_endpoint(endpoint_name: EndpointName, body: UpdateEndpoint, svc: Service) -> Endpoint:
    return svc.update_endpoint(endpoint_name, body.endpoint_config_name)


@router.delete("/endpoints/{endpoint_name}", status_code=204)
def delete_endpoint(endpoint_name: EndpointName, svc: Service) -> Response:
    svc.delete_endpoint(endpoint_name)
    return Response(status_code=204)
