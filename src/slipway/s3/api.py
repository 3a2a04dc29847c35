"""The S3 endpoint: S3's REST protocol, path-style, over the bucket service.

Clients point at ``http://HOST:PORT/s3`` (botocore keeps an endpoint URL's path) and send
``/s3/BUCKET/KEY``; the operation is chosen from the method, whether a bucket and key are
named, and the query's subresource (``?uploads``, ``?uploadId=``, ``?delete``...). Each
operation is one call of the bucket service as the signer may use it
(``slipway.auth.guard``); answers and errors are S3's XML.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from slipway.artifacts.buckets import StoredObject
from slipway.errors import SlipwayError, ValidationError
from slipway.s3 import documents
from slipway.s3.errors import S3Error, error_response, s3_code_of
from slipway.s3.multipart import (
    abort_multipart_upload,
    complete_multipart_upload,
    create_multipart_upload,
    list_parts,
    upload_part,
)
from slipway.s3.ranges import byte_range
from slipway.s3.requests import S3Request, empty_answer, object_headers, xml_answer

log = logging.getLogger("slipway.s3")

_MAX_KEYS = 1000
# Subresources of S3 that this endpoint does not serve: a clear refusal, not a wrong answer.
_UNSUPPORTED = (
    "acl", "attributes", "cors", "encryption", "legal-hold", "lifecycle", "notification",
    "object-lock", "policy", "replication", "restore", "retention", "select", "tagging",
    "torrent", "versioning", "versions", "website",
)  # fmt: skip

Handler = Callable[[S3Request], Awaitable[Response]]


class S3App:
    """The ASGI application of the endpoint, at ``/s3`` and below."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            s3_request = S3Request(Request(scope, receive))
            response = await _operation(s3_request)(s3_request)
        except SlipwayError as error:
            response = error_response(error, scope)
        except Exception:
            log.exception("S3 operation failed")
            failure = S3Error(500, "InternalError", "the server failed; its log says why")
            response = error_response(failure, scope)
        await response(scope, receive, send)


app = S3App()


def _operation(request: S3Request) -> Handler:
    unsupported = [name for name in _UNSUPPORTED if name in request.query]
    if unsupported:
        raise S3Error(
            501, "NotImplemented",
            f"the S3 subresource {unsupported[0]!r} is not served by this endpoint; the "
            "README lists the S3 operations it serves",
        )  # fmt: skip
    if not request.bucket:
        return _only(request, {"GET": list_buckets})
    if not request.key:
        if "location" in request.query:
            return _only(request, {"GET": get_bucket_location})
        if "delete" in request.query:
            return _only(request, {"POST": delete_objects})
        if "uploads" in request.query:
            raise S3Error(
                501, "NotImplemented",
                "listing a bucket's multipart uploads is not served by this endpoint",
            )  # fmt: skip
        return _only(
            request,
            {"PUT": create_bucket, "HEAD": head_bucket, "DELETE": delete_bucket,
             "GET": list_objects},
        )  # fmt: skip
    if "uploads" in request.query:
        return _only(request, {"POST": create_multipart_upload})
    if "uploadId" in request.query:
        return _only(
            request,
            {"PUT": upload_part, "POST": complete_multipart_upload,
             "DELETE": abort_multipart_upload, "GET": list_parts},
        )  # fmt: skip
    if request.method == "PUT" and "x-amz-copy-source" in request.headers:
        return copy_object
    return _only(
        request,
        {"PUT": put_object, "GET": get_object, "HEAD": head_object, "DELETE": delete_object},
    )


def _only(request: S3Request, handlers: dict[str, Handler]) -> Handler:
    handler = handlers.get(request.method)
    if handler is None:
        raise S3Error(
            405, "MethodNotAllowed",
            f"{request.method} is not allowed here; use {', '.join(handlers)}",
        )  # fmt: skip
    return handler


# -- buckets -----------------------------------------------------------------------------


async def list_buckets(request: S3Request) -> Response:
    buckets = await run_in_threadpool(request.buckets.list_buckets)
    owner = [("ID", "slipway"), ("DisplayName", "slipway")]
    listed = [("Bucket", [("Name", b.name), ("CreationDate", b.created)]) for b in buckets]
    return xml_answer("ListAllMyBucketsResult", [("Owner", owner), ("Buckets", listed)])


async def create_bucket(request: S3Request) -> Response:
    await request.small_body()  # a CreateBucketConfiguration names a region; there is one
    await run_in_threadpool(request.buckets.create_bucket, request.bucket)
    return empty_answer(headers={"Location": f"/{request.bucket}"})


async def head_bucket(request: S3Request) -> Response:
    await run_in_threadpool(request.buckets.get_bucket, request.bucket)
    return empty_answer()


async def get_bucket_location(request: S3Request) -> Response:
    await run_in_threadpool(request.buckets.get_bucket, request.bucket)
    return xml_answer("LocationConstraint", [])


async def delete_bucket(request: S3Request) -> Response:
    # A missing bucket is NoSuchBucket, before the question of who may delete it.
    await run_in_threadpool(request.buckets.get_bucket, request.bucket)
    await run_in_threadpool(request.buckets.delete_bucket, request.bucket)
    return empty_answer(204)


async def list_objects(request: S3Request) -> Response:
    """ListObjectsV2 (``list-type=2``, continuation tokens) and the older ListObjects."""
    query = request.query
    version2 = query.get("list-type") == "2"
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    max_keys = _max_keys(query.get("max-keys", str(_MAX_KEYS)))
    token = query.get("continuation-token")
    if version2:
        after = _decode_token(token) if token else query.get("start-after", "")
    else:
        after = query.get("marker", "")
    page = await run_in_threadpool(
        request.buckets.list_objects, request.bucket, prefix, delimiter, after, max_keys
    )
    contents = [
        ("Contents", [("Key", o.key), ("LastModified", o.modified), ("ETag", f'"{o.etag}"'),
                      ("Size", o.size), ("StorageClass", "STANDARD")])
        for o in page.objects
    ]  # fmt: skip
    common = [("CommonPrefixes", [("Prefix", p)]) for p in page.common_prefixes]
    head: documents.Children = [
        ("Name", request.bucket), ("Prefix", prefix), ("Delimiter", delimiter or None),
        ("MaxKeys", max_keys), ("IsTruncated", page.truncated),
    ]  # fmt: skip
    if version2:
        next_token = _encode_token(page.last) if page.truncated else None
        head = [*head, ("KeyCount", len(contents) + len(common)), ("ContinuationToken", token),
                ("NextContinuationToken", next_token),
                ("StartAfter", query.get("start-after"))]  # fmt: skip
    else:
        next_marker = page.last if page.truncated and delimiter else None
        head = [*head, ("Marker", after), ("NextMarker", next_marker)]
    return xml_answer("ListBucketResult", [*head, *contents, *common])


def _max_keys(text: str) -> int:
    if not text.isdigit():
        raise ValidationError(f"max-keys {text!r} is not a whole number from 0 to {_MAX_KEYS}")
    return min(int(text), _MAX_KEYS)


def _encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError(
            f"continuation token {token!r} is not one this server gave; pass "
            "NextContinuationToken from the previous page"
        ) from None


async def delete_objects(request: S3Request) -> Response:
    document = documents.parse(await request.small_body(), "Delete")
    keys = [fields.get("Key", "") for tag, _, fields in document if tag == "Object"]
    quiet = any(tag == "Quiet" and text == "true" for tag, text, _ in document)
    if not 1 <= len(keys) <= _MAX_KEYS:
        raise ValidationError(f"DeleteObjects takes 1 to {_MAX_KEYS} keys, not {len(keys)}")
    await run_in_threadpool(request.buckets.get_bucket, request.bucket)
    results: documents.Children = []
    for key in keys:
        try:
            await run_in_threadpool(request.buckets.delete_object, request.bucket, key)
        except SlipwayError as error:
            _, code = s3_code_of(error)
            results.append(("Error", [("Key", key), ("Code", code), ("Message", error.message)]))
            continue
        if not quiet:
            results.append(("Deleted", [("Key", key)]))
    return xml_answer("DeleteResult", results)


# -- objects -----------------------------------------------------------------------------


async def put_object(request: S3Request) -> Response:
    stored = await run_in_threadpool(
        lambda: request.buckets.put_object(request.bucket, request.key, request.body())
    )
    return empty_answer(headers={"ETag": f'"{stored.etag}"'})


async def copy_object(request: S3Request) -> Response:
    source = unquote(request.headers["x-amz-copy-source"]).partition("?")[0].lstrip("/")
    source_bucket, _, source_key = source.partition("/")
    if not source_bucket or not source_key:
        raise ValidationError(
            f"x-amz-copy-source {source!r} must name BUCKET/KEY of the object to copy"
        )
    stored = await run_in_threadpool(
        request.buckets.copy_object, source_bucket, source_key, request.bucket, request.key
    )
    return xml_answer(
        "CopyObjectResult", [("LastModified", stored.modified), ("ETag", f'"{stored.etag}"')]
    )


async def head_object(request: S3Request) -> Response:
    stored = await run_in_threadpool(request.buckets.get_object, request.bucket, request.key)
    _check_preconditions(request, stored)
    wanted = byte_range(request.headers.get("range"), stored.size)
    first, last = wanted or (0, stored.size - 1)
    headers = object_headers(stored) | {"Content-Length": str(last - first + 1)}
    return empty_answer(206 if wanted else 200, headers)


async def get_object(request: S3Request) -> Response:
    buckets = request.buckets
    stored = await run_in_threadpool(buckets.get_object, request.bucket, request.key)
    _check_preconditions(request, stored)
    wanted = byte_range(request.headers.get("range"), stored.size)
    first, last = wanted or (0, stored.size - 1)
    length = last - first + 1
    chunks = await run_in_threadpool(
        buckets.read_object, request.bucket, request.key, first, length
    )
    headers = object_headers(stored) | {"Content-Length": str(length)}
    status = 200
    if wanted:
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{stored.size}"
    return StreamingResponse(
        chunks, status_code=status, media_type="binary/octet-stream", headers=headers
    )


def _check_preconditions(request: S3Request, stored: StoredObject) -> None:
    # s3transfer fetches the parts of a large download with If-Match, so that an object
    # rewritten meanwhile is not stitched together from two versions.
    wanted = request.headers.get("if-match")
    if wanted and wanted.strip('"') != stored.etag:
        raise S3Error(412, "PreconditionFailed", f"the object's ETag is not {wanted}")


async def delete_object(request: S3Request) -> Response:
    await run_in_threadpool(request.buckets.delete_object, request.bucket, request.key)
    return empty_answer(204)
