"""The one exception hierarchy of slipway.

Every error names the offending value and what to do next. The REST API maps each class
to a status code and a JSON body ``{"error": code, "message": ...}``; the CLI prints the
message on one line.
"""

from __future__ import annotations


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
