"""Serving an Approved model package version on a new endpoint.

The endpoint is made as ``slipway endpoints create NAME --model-data URI`` makes one: a
model, an endpoint config and an endpoint all named after the endpoint, each tagged with
the version's ARN so that whoever looks at the endpoint can find the version it serves.
Every SDK, CLI, REST and Studio deployment of a version comes through here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slipway.errors import AlreadyExists, Conflict, NotFound, SlipwayError
from slipway.names import check_name
from slipway.registry.models import ModelApprovalStatus, ModelPackage, build
from slipway.serving.models import (
    MAX_ENDPOINT_NAME,
    ContainerDefinition,
    Endpoint,
    ProductionVariant,
    Tag,
)

if TYPE_CHECKING:
    from slipway.serving.service import ServingService

# The tag a deployment puts on its model, config and endpoint: the package they serve.
PACKAGE_TAG = "slipway:ModelPackageArn"


def production_variant(endpoint_name: str, settings: dict[str, Any]) -> ProductionVariant:
    """The variant a deployment to ``endpoint_name`` gets from ``settings`` (its fields:
    ``initial_instance_count``...); a bad name or setting is refused before any lookup."""
    check_name("endpoint name", endpoint_name, MAX_ENDPOINT_NAME)
    return build(ProductionVariant, model_name=endpoint_name, **settings)


def deploy(serving: ServingService, package: ModelPackage, variant: ProductionVariant) -> Endpoint:
    """Create the endpoint ``variant.model_name`` serving ``package`` with that variant.

    If a step fails, the ones before it are undone, so a refused deployment leaves
    nothing behind.
    """
    endpoint_name = variant.model_name
    where = f"{package.model_package_group_name} version {package.model_package_version}"
    if package.model_approval_status != ModelApprovalStatus.APPROVED:
        raise Conflict(
            f"model package {where} is {package.model_approval_status.value}, not Approved; "
            "approve it before deploying it"
        )
    containers = package.inference_specification.containers
    if len(containers) != 1:
        raise Conflict(
            f"model package {where} has {len(containers)} containers; an endpoint's model "
            "has one, so register each container as a version of its own to deploy it"
        )
    try:
        serving.get_endpoint(endpoint_name)
    except NotFound:
        pass
    else:  # said before anything is made: the model's name would clash first, less clearly
        raise AlreadyExists(
            f"endpoint {endpoint_name!r} exists already; pick another name for the new one"
        )
    container = build(
        ContainerDefinition,
        model_data_url=containers[0].model_data_url,
        environment=containers[0].environment,
    )
    tags = [Tag(key=PACKAGE_TAG, value=package.model_package_arn)]
    serving.create_model(endpoint_name, container, tags)
    try:
        serving.create_endpoint_config(endpoint_name, [variant], tags=tags)
        try:
            return serving.create_endpoint(endpoint_name, endpoint_name, tags)
        except SlipwayError:
            serving.delete_endpoint_config(endpoint_name)
            raise
    except SlipwayError:
        serving.delete_model(endpoint_name)
        raise
