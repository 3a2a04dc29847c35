"""Types of request values that the REST routes of every capability share: times, page
tokens and strings from a fixed set, each stated in the OpenAPI schema as it is checked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

_TIME_EXAMPLE = "2024-05-01T12:00:00Z"


def _iso_time(value: object) -> dt.datetime:
    """Read a time written in ISO 8601 (or given as a datetime, by Python callers).

    pydantic alone would also read a number as seconds since 1970, so that
    ``created_before=0.5`` meant a moment in 1970 instead of an error.
    """
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            time = dt.datetime.fromisoformat(value)
            # A time near the ends of the calendar may not exist in UTC, where it is stored.
            return time.astimezone(dt.UTC) if time.tzinfo else time
        except (ValueError, OverflowError):
            pass
    raise PydanticCustomError(
        "iso_time", "expected an ISO 8601 time such as {example}", {"example": _TIME_EXAMPLE}
    )


Time = Annotated[dt.datetime, BeforeValidator(_iso_time)]
# The server's page tokens are URL-safe base64; what they hold is the server's business.
PageToken = Annotated[
    str,
    Field(
        max_length=256,
        pattern=r"^[A-Za-z0-9_=-]*$",
        description="The NextToken of the previous page, unchanged.",
    ),
]


def one_of(values: Iterable[str]) -> Any:
    """A string the service checks against ``values``, which the schema lists as an enum.

    The service's check, not pydantic's, so that the remote SDK raises the error the
    embedded one does. Only an empty string is refused here: services read it as none.
    """
    schema = {"type": "string", "enum": [str(value) for value in values]}
    return Annotated[str, Field(min_length=1), WithJsonSchema(schema)]
