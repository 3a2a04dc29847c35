"""Where S3 buckets and their objects live in the artifact store.

An object ``KEY`` of bucket ``BUCKET`` is the artifact ``buckets/BUCKET/KEY``; a bucket
exists when its marker ``bucket-list/BUCKET`` does (an object store has no empty folders).
So ``s3://BUCKET/KEY`` names the same bytes whether a client fetches it through the S3
endpoint or a job reads it as an input.
"""

from __future__ import annotations

import re

from slipway.errors import ValidationError
from slipway.store.artifacts import validate_key

OBJECTS = "buckets"
MARKERS = "bucket-list"
UPLOADS = "multipart-uploads"
_MAX_KEY_BYTES = 1024
# AWS's rules for new general purpose buckets; dots are allowed, as there.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def validate_bucket_name(name: str) -> str:
    """Return ``name`` if it is a valid bucket name, else raise ValidationError saying why."""
    if not _BUCKET_NAME.fullmatch(name) or ".." in name or re.fullmatch(r"[\d.]+", name):
        raise ValidationError(
            f"bucket name {name!r} is not valid: expected 3 to 63 lower-case letters, digits, "
            "'.' or '-', starting and ending with a letter or digit, such as 'training-data'"
        )
    return name


def validate_object_key(key: str) -> str:
    """An object key that stays inside its bucket: a valid artifact key of at most 1024 bytes."""
    if len(key.encode()) > _MAX_KEY_BYTES:
        raise ValidationError(f"object key {key[:40]!r}... is over {_MAX_KEY_BYTES} bytes long")
    try:
        return validate_key(key)
    except ValidationError as error:
        raise ValidationError(error.message.replace("artifact key", "object key", 1)) from None


def bucket_folder(bucket: str) -> str:
    return f"{OBJECTS}/{validate_bucket_name(bucket)}"


def object_key(bucket: str, key: str) -> str:
    """The artifact key of an object."""
    return f"{bucket_folder(bucket)}/{validate_object_key(key)}"


def marker_key(bucket: str) -> str:
    return f"{MARKERS}/{validate_bucket_name(bucket)}"


def split_s3_uri(uri: str) -> tuple[str, str] | None:
    """``(bucket, key)`` of an ``s3://BUCKET/KEY`` URI; None for any other URI."""
    if not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key
