"""S3's error answers: an XML body with S3's code, from slipway's errors, in one table."""

from __future__ import annotations

import uuid

from starlette.responses import Response
from starlette.types import Scope

from slipway.artifacts.buckets import (
    BucketNotEmpty,
    BucketNotFound,
    InvalidPart,
    ObjectNotFound,
    UploadNotFound,
)
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
from slipway.s3 import PREFIX
from slipway.s3.documents import XML_CONTENT_TYPE, document
from slipway.sigv4 import SignatureError


class S3Error(SlipwayError):
    """An error of the S3 protocol itself, with the status and code S3 gives it."""

    def __init__(self, status_code: int, s3_code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = s3_code


# Checked in order: the first class an error is an instance of gives its S3 code.
_S3_CODES: list[tuple[type[SlipwayError], int, str]] = [
    (BucketNotFound, 404, "NoSuchBucket"),
    (ObjectNotFound, 404, "NoSuchKey"),
    (UploadNotFound, 404, "NoSuchUpload"),
    (NotFound, 404, "NoSuchKey"),
    (BucketNotEmpty, 409, "BucketNotEmpty"),
    (AlreadyExists, 409, "BucketAlreadyOwnedByYou"),
    (Conflict, 409, "OperationAborted"),
    (InvalidPart, 400, "InvalidPart"),
    (Unauthorized, 403, "AccessDenied"),
    (Forbidden, 403, "AccessDenied"),
    (PayloadTooLarge, 400, "EntityTooLarge"),
    (ValidationError, 400, "InvalidArgument"),
]


def s3_code_of(error: SlipwayError) -> tuple[int, str]:
    """The status and S3 error code that stand for a slipway error."""
    if isinstance(error, S3Error):
        return error.status_code, error.code
    if isinstance(error, SignatureError):
        return 403, error.s3_code
    for cls, status, code in _S3_CODES:
        if isinstance(error, cls):
            return status, code
    return 400, "InvalidRequest"


def error_response(error: SlipwayError, scope: Scope) -> Response:
    """S3's error answer; a HEAD's has no body, so clients go by the status alone."""
    status, code = s3_code_of(error)
    request_id = uuid.uuid4().hex
    headers = {"x-amz-request-id": request_id}
    if _may_hold_unread_body(scope):
        # A refusal may come before the body was read (a client that sent "Expect:
        # 100-continue" never sends it); the connection cannot carry another request.
        headers["Connection"] = "close"
    if scope["method"] == "HEAD":
        return Response(status_code=status, headers=headers)
    body = document(
        "Error",
        [("Code", code), ("Message", error.message), ("Resource", resource_of(scope)),
         ("RequestId", request_id)],
        namespace=None,
    )  # fmt: skip
    return Response(body, status_code=status, media_type=XML_CONTENT_TYPE, headers=headers)


def resource_of(scope: Scope) -> str:
    """The bucket and key a request names, as sent (percent-encoded: XML holds no NUL)."""
    raw = scope.get("raw_path") or scope["path"].encode()
    return raw.decode("latin-1").removeprefix(PREFIX) or "/"


def _may_hold_unread_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    return headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
