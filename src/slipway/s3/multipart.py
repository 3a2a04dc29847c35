"""S3's multipart uploads: parts stored apart, then joined into one object or dropped."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from slipway.errors import ValidationError
from slipway.s3 import PREFIX, documents
from slipway.s3.requests import S3Request, empty_answer, xml_answer


async def create_multipart_upload(request: S3Request) -> Response:
    upload_id = await run_in_threadpool(
        request.buckets.create_multipart_upload, request.bucket, request.key
    )
    return xml_answer(
        "InitiateMultipartUploadResult",
        [("Bucket", request.bucket), ("Key", request.key), ("UploadId", upload_id)],
    )


async def upload_part(request: S3Request) -> Response:
    number = _part_number(request.query.get("partNumber", ""))
    upload_id = request.query["uploadId"]
    part = await run_in_threadpool(
        lambda: request.buckets.upload_part(
            request.bucket, request.key, upload_id, number, request.body()
        )
    )
    return empty_answer(headers={"ETag": f'"{part.etag}"'})


def _part_number(text: str) -> int:
    if not text.isdigit():
        raise ValidationError(f"partNumber {text!r} is not a whole number from 1 to 10000")
    return int(text)


async def complete_multipart_upload(request: S3Request) -> Response:
    document = documents.parse(await request.small_body(), "CompleteMultipartUpload")
    parts = [
        (_part_number(fields.get("PartNumber", "")), fields.get("ETag", ""))
        for tag, _, fields in document
        if tag == "Part"
    ]
    stored = await run_in_threadpool(
        request.buckets.complete_multipart_upload,
        request.bucket, request.key, request.query["uploadId"], parts,
    )  # fmt: skip
    return xml_answer(
        "CompleteMultipartUploadResult",
        [("Location", f"{PREFIX}/{request.bucket}/{request.key}"), ("Bucket", request.bucket),
         ("Key", request.key), ("ETag", f'"{stored.etag}"')],
    )  # fmt: skip


async def abort_multipart_upload(request: S3Request) -> Response:
    await run_in_threadpool(
        request.buckets.abort_multipart_upload,
        request.bucket, request.key, request.query["uploadId"],
    )  # fmt: skip
    return empty_answer(204)


async def list_parts(request: S3Request) -> Response:
    upload_id = request.query["uploadId"]
    parts = await run_in_threadpool(
        request.buckets.list_parts, request.bucket, request.key, upload_id
    )
    listed = [
        ("Part", [("PartNumber", number), ("LastModified", part.modified),
                  ("ETag", f'"{part.etag}"'), ("Size", part.size)])
        for number, part in parts
    ]  # fmt: skip
    head = [("Bucket", request.bucket), ("Key", request.key), ("UploadId", upload_id),
            ("IsTruncated", False)]  # fmt: skip
    return xml_answer("ListPartsResult", [*head, *listed])
