"""The one exception hierarchy of slipway.

Every error names the offending value and what to do next. The REST API maps each class
to a status code and a JSON body ``{"error": code, "message": ...}``; the CLI prints the
message on one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class SlipwayError(Exception):
    """Base class of every error slipway raises on purpose."""

    status_code = 400
    code = "BadRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


class ValidationError(SlipwayError):
    """A value does not have the form slipway expects."""

    status_code = 422
    code = "ValidationError"


class NotFound(SlipwayError):
    """The named entity does not exist."""

    status_code = 404
    code = "NotFound"


class AlreadyExists(SlipwayError):
    """An entity with that name exists already."""

    status_code = 409
    code = "AlreadyExists"


class Conflict(SlipwayError):
    """The request is well formed but clashes with the current state."""

    status_code = 409
    code = "Conflict"


class Unauthorized(SlipwayError):
    """No valid token was presented."""

    status_code = 401
    code = "Unauthorized"


class Forbidden(SlipwayError):
    """The token is valid but may not do this."""

    status_code = 403
    code = "Forbidden"


class PayloadTooLarge(SlipwayError):
    """A request body or upload is over the configured limit."""

    status_code = 413
    code = "PayloadTooLarge"


class RemoteError(SlipwayError):
    """The slipway server could not be reached or answered something unexpected."""

    status_code = 502
    code = "RemoteError"


_BY_CODE = {cls.code: cls for cls in SlipwayError.__subclasses__()}


def from_response(status_code: int, body: dict[str, str]) -> SlipwayError:
    """Rebuild the error a server sent, so remote mode raises what embedded mode raises."""
    cls = _BY_CODE.get(body.get("error", ""), SlipwayError)
    error = cls(body.get("message", f"server answered {status_code}"))
    if cls is SlipwayError:
        error.status_code = status_code
    return error


def describe_problems(problems: Iterable[Mapping[str, Any]], limit: int = 5) -> str:
    """pydantic's complaints (``error.errors()``) as one line: each field and the value it got.

    A request body's own place ("body") is left out of the field's path.
    """
    parts = []
    for problem in list(problems)[:limit]:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
        value = problem.get("input")
        shown = f" (got {value!r:.60})" if isinstance(value, str | int | float) else ""
        parts.append(f"{where or 'value'}: {problem.get('msg', 'invalid')}{shown}")
    return "; ".join(parts)
