"""What every SageMaker operation gets: the caller's services, ARNs, AWS's page defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from slipway.auth.guard import GuardedServices
from slipway.errors import ValidationError
from slipway.settings import Settings

# What the API documents when a list or search call gives no MaxResults.
DEFAULT_MAX_RESULTS = 10


@dataclass(frozen=True)
class Context:
    """One call's view of the platform: the services as its caller may use them."""

    services: GuardedServices
    settings: Settings

    def arn(self, kind: str, name: str) -> str:
        """An ARN in AWS's form, e.g. ``arn:aws:sagemaker:us-east-1:000000000000:experiment/x``."""
        region, account = self.settings.aws_region, self.settings.aws_account_id
        return f"arn:aws:sagemaker:{region}:{account}:{kind}/{name}"


# An operation takes the checked request (wire names, datetimes) and answers a dict that
# the protocol shapes to the operation's output.
Operation = Callable[[Context, dict[str, Any]], dict[str, Any]]


def wire(entity: BaseModel) -> dict[str, Any]:
    """An entity by its wire names, datetimes kept as such for the response's shaping."""
    return entity.model_dump(by_alias=True, exclude_none=True)


def page_arguments(request: dict[str, Any]) -> dict[str, Any]:
    """The sorting and paging members of a list call, as the services name them."""
    return {
        "sort_by": request.get("SortBy"),
        "sort_order": request.get("SortOrder"),
        "max_results": request.get("MaxResults", DEFAULT_MAX_RESULTS),
        "next_token": request.get("NextToken"),
    }


def refuse_unsupported(request: dict[str, Any], *members: str) -> None:
    """Refuse members of the API that slipway does not act on yet, rather than ignore them."""
    for member in members:
        if member in request:
            raise ValidationError(
                f"the member {member!r} is not supported by this server yet; leave it out"
            )
