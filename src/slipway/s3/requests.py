"""One S3 request as the operations see it, and the shapes of their answers."""

from __future__ import annotations

import email.utils
import uuid
from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from slipway.artifacts.buckets import StoredObject
from slipway.auth.guard import request_services
from slipway.s3 import PREFIX, documents
from slipway.s3.errors import S3Error
from slipway.s3.payload import payload, received

_MAX_XML_BYTES = 1024 * 1024


class S3Request:
    """One S3 request: its bucket, key, query and the services its signer may use."""

    def __init__(self, request: Request) -> None:
        self.request = request
        path = request.scope["path"][len(PREFIX) :].lstrip("/")
        self.bucket, _, self.key = path.partition("/")
        self.query = request.query_params
        self.headers = request.headers
        self.method = request.method
        self.buckets = request_services(request).buckets

    def body(self) -> Iterator[bytes]:
        """The upload's bytes, checked; for a worker thread (it pulls from the event loop)."""
        signing = self.request.scope.get("state", {}).get("s3_chunk_signing")
        return payload(self.headers, received(self.request.receive), signing)

    async def small_body(self) -> bytes:
        """A request document (a list of keys or parts), at most 1 MiB."""

        def read() -> bytes:
            data = bytearray()
            for chunk in self.body():
                data += chunk
                if len(data) > _MAX_XML_BYTES:
                    raise S3Error(400, "MaxMessageLengthExceeded", "the request XML is over 1 MiB")
            return bytes(data)

        return await run_in_threadpool(read)


def xml_answer(root: str, children: documents.Children, status: int = 200) -> Response:
    return Response(
        documents.document(root, children),
        status_code=status,
        media_type=documents.XML_CONTENT_TYPE,
        headers={"x-amz-request-id": uuid.uuid4().hex},
    )


def empty_answer(status: int = 200, headers: dict[str, str] | None = None) -> Response:
    request_id = {"x-amz-request-id": uuid.uuid4().hex}
    return Response(status_code=status, headers=request_id | (headers or {}))


def object_headers(stored: StoredObject) -> dict[str, str]:
    return {
        "ETag": f'"{stored.etag}"',
        "Last-Modified": email.utils.format_datetime(stored.modified, usegmt=True),
        "Accept-Ranges": "bytes",
    }
