"""AWS's JSON 1.1 protocol as the SageMaker control plane speaks it: answers and errors.

An answer is a JSON body with ``Content-Type: application/x-amz-json-1.1`` and an
``x-amzn-RequestId``; an error is ``{"__type": ..., "message": ...}`` with the status
code from which botocore raises the matching exception (``client.exceptions.
ResourceNotFound``...). slipway's errors map to AWS's types here, in one table.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.responses import Response

from slipway.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    SlipwayError,
    Unauthorized,
    ValidationError,
)
from slipway.sigv4 import SignatureError

CONTENT_TYPE = "application/x-amz-json-1.1"

# Checked in order: the first class an error is an instance of gives its AWS type.
_AWS_TYPES: list[tuple[type[SlipwayError], int, str]] = [
    (ValidationError, 400, "ValidationException"),
    (NotFound, 400, "ResourceNotFound"),
    (AlreadyExists, 400, "ResourceInUse"),
    (Conflict, 400, "ResourceInUse"),
    (Unauthorized, 403, "AccessDeniedException"),
    (Forbidden, 403, "AccessDeniedException"),
    (PayloadTooLarge, 413, "RequestEntityTooLargeException"),
]


class AwsError(SlipwayError):
    """An error of the protocol itself, with the AWS type a client expects for it."""

    def __init__(self, status_code: int, aws_type: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = aws_type


def aws_type_of(error: SlipwayError) -> tuple[int, str]:
    """The status code and AWS error type that stand for a slipway error."""
    if isinstance(error, AwsError | SignatureError):
        return error.status_code, error.code
    for cls, status, aws_type in _AWS_TYPES:
        if isinstance(error, cls):
            return status, aws_type
    return 400, "ValidationException"


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )


def error_response(error: SlipwayError) -> Response:
    status, aws_type = aws_type_of(error)
    return json_response(status, {"__type": aws_type, "message": error.message})
