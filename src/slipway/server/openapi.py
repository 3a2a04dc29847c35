"""The REST API's OpenAPI document: what every route needs (a token) and can answer.

Errors are JSON bodies ``{"error": code, "message": ...}`` (see ``slipway.errors``).
Which status codes a route can answer follows from its shape (its method, whether it
takes parameters or a body), so the rules live here, once, rather than in each route; a
route declares (``responses=``) only an error its shape does not imply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from slipway.auth.sessions import SECURE_SESSION_COOKIE, SESSION_COOKIE

API_PREFIX = "/api/v1/"
_STATE_CHANGING = frozenset({"post", "put", "patch", "delete"})
_ERRORS = {
    400: "The request is malformed: its body is not a JSON object, or not JSON at all.",
    401: "No valid token was sent (`Authorization: Bearer <token>`).",
    403: "The token's role may not do this, or the request came from another site.",
    404: "Something the request names does not exist.",
    409: "The request clashes with what exists: a name that is taken, or a state that "
    "forbids the change.",
    413: "The request body is over the server's limit.",
    422: "A value does not have the expected form; the message names it.",
}
# FastAPI's own description of 422 answers, which this server never gives.
_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")
# Once a token exists, a caller shows a token or the session cookie of Studio's sign-in.
_SECURITY_SCHEMES = {
    "token": {"type": "http", "scheme": "bearer"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": f"Studio's sign-in session; {SECURE_SESSION_COOKIE} over HTTPS.",
    },
}
_SECURITY = [{"token": []}, {"session": []}]

# A body the route reads as a stream of bytes (an archive, an artifact), not as JSON; none
# at all is an empty file.
BINARY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class ErrorBody(BaseModel):
    """What every error answer of the REST API holds."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="The kind of error, such as NotFound or ValidationError.")
    message: str = Field(description="What was wrong, with the offending value, and what to do.")


def error_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation of the API can answer."""
    statuses = [401, 403]
    has_body = "requestBody" in operation
    if has_body:
        statuses += [400, 413]
    if has_body or operation.get("parameters"):
        statuses += [404, 422]
    if method in _STATE_CHANGING:
        statuses.append(409)
    return sorted(set(statuses))


def _describe_operation(method: str, operation: dict[str, Any]) -> None:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    responses = operation.setdefault("responses", {})
    for status in error_statuses(method, operation):
        responses[str(status)] = {"description": _ERRORS[status], "content": content}
    for status, response in responses.items():
        if status.startswith("4"):
            response["content"] = content
    operation["responses"] = dict(sorted(responses.items()))
    # A route open to anyone says so with `openapi_extra={"security": []}`.
    operation.setdefault("security", _SECURITY)


def _describe(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_ERRORS:
        schemas.pop(name, None)
    schemas[ErrorBody.__name__] = ErrorBody.model_json_schema()
    components["securitySchemes"] = _SECURITY_SCHEMES
    for path, operations in document["paths"].items():
        if path.startswith(API_PREFIX):
            for method, operation in operations.items():
                _describe_operation(method, operation)


def describe_api(app: FastAPI) -> None:
    """Make the app's OpenAPI document say, for every API route, the credentials it needs
    and the errors it can answer."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _describe(generate())  # generate() keeps the document in app.openapi_schema
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
