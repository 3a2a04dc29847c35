"""S3's buckets and objects over the artifact store: what the S3 endpoint calls.

The layout (``slipway.store.buckets``) puts object ``KEY`` of bucket ``BUCKET`` at the
artifact ``buckets/BUCKET/KEY``, so what a client uploads is what a job reads as
``s3://BUCKET/KEY``. Objects are recorded with size and sha256 under that URI like any
artifact. Multipart uploads keep their parts under ``multipart-uploads/ID/`` until they
are completed into one object, written whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from slipway.artifacts.service import ArtifactService
from slipway.errors import AlreadyExists, Conflict, NotFound, ValidationError
from slipway.store.artifacts import ArtifactInfo, StoredFile
from slipway.store.buckets import (
    MARKERS,
    UPLOADS,
    bucket_folder,
    marker_key,
    object_key,
    validate_bucket_name,
    validate_object_key,
)

MAX_PART_NUMBER = 10_000
_CHUNK = 1024 * 1024
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class BucketNotFound(NotFound):
    code = "NoSuchBucket"


class ObjectNotFound(NotFound):
    code = "NoSuchKey"


class UploadNotFound(NotFound):
    code = "NoSuchUpload"


class BucketNotEmpty(Conflict):
    code = "BucketNotEmpty"


class InvalidPart(ValidationError):
    code = "InvalidPart"


@dataclass(frozen=True)
class Bucket:
    name: str
    created: dt.datetime


@dataclass(frozen=True)
class StoredObject:
    """An object or a part: its key, size, time of writing and entity tag."""

    key: str
    size: int
    modified: dt.datetime

    @property
    def etag(self) -> str:
        # Opaque, as S3's is for multipart objects: it changes whenever the object is
        # rewritten, which is what clients' If-Match and caches need.
        version = f"{self.size}:{self.modified.timestamp()!r}"
        return hashlib.md5(version.encode(), usedforsecurity=False).hexdigest()


@dataclass
class ObjectPage:
    """One page of a bucket's listing: objects, and the folders that a delimiter rolled up."""

    objects: list[StoredObject] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str = ""  # the key or prefix the next page starts after


class BucketService:
    """Buckets, objects and multipart uploads in the artifact store."""

    def __init__(self, artifacts: ArtifactService) -> None:
        self.artifacts = artifacts
        self.store = artifacts.store

    # -- buckets -------------------------------------------------------------------------

    def create_bucket(self, name: str) -> Bucket:
        marker = marker_key(name)
        if self.store.exists(marker):
            raise AlreadyExists(f"bucket {name!r} exists already; pick another name")
        self.store.put_bytes(marker, b"")
        return self.get_bucket(name)

    def get_bucket(self, name: str) -> Bucket:
        validate_bucket_name(name)
        try:
            return Bucket(name, self.store.stat(marker_key(name)).modified)
        except NotFound:
            raise BucketNotFound(
                f"bucket {name!r} does not exist; create it with CreateBucket"
            ) from None

    def list_buckets(self) -> list[Bucket]:
        start = len(MARKERS) + 1
        return [Bucket(f.key[start:], f.modified) for f in self.store.list_files(MARKERS)]

    def delete_bucket(self, name: str) -> None:
        self.get_bucket(name)
        if self.store.list(bucket_folder(name)):
            raise BucketNotEmpty(f"bucket {name!r} is not empty; delete its objects first")
        self.store.delete(marker_key(name))
        self.store.delete_prefix(bucket_folder(name))

    # -- objects -------------------------------------------------------------------------

    def put_object(self, bucket: str, key: str, chunks: Iterable[bytes]) -> StoredObject:
        """Store an object whole or not at all, and record it as ``s3://BUCKET/KEY``."""
        self.get_bucket(bucket)
        info = self.store.put_stream(object_key(bucket, key), chunks)
        self.artifacts.remember(
            ArtifactInfo(key=info.key, uri=f"s3://{bucket}/{key}", size=info.size,
                         sha256=info.sha256)
        )  # fmt: skip
        return self.get_object(bucket, key)

    def get_object(self, bucket: str, key: str) -> StoredObject:
        """An object's size, time and entity tag."""
        self.get_bucket(bucket)
        return self._stat(object_key(bucket, key), key, bucket)

    def read_object(
        self, bucket: str, key: str, offset: int = 0, length: int | None = None
    ) -> Iterator[bytes]:
        """Stream an object's bytes from ``offset``, ``length`` of them (all if None)."""
        self.get_bucket(bucket)
        try:
            source = self.store.open(object_key(bucket, key))
        except NotFound:
            raise self._no_such_key(bucket, key) from None
        return _read_range(source, offset, length)

    def copy_object(
        self, source_bucket: str, source_key: str, bucket: str, key: str
    ) -> StoredObject:
        return self.put_object(bucket, key, self.read_object(source_bucket, source_key))

    def delete_object(self, bucket: str, key: str) -> None:
        """Delete an object; as in S3, deleting one that is not there succeeds."""
        self.get_bucket(bucket)
        stored = object_key(bucket, key)
        if self.store.exists(stored):
            self.store.delete(stored)

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        max_keys: int = 1000,
    ) -> ObjectPage:
        """The objects whose keys start with ``prefix``, after ``start_after``, in key order.

        With a ``delimiter``, keys that hold it after the prefix are rolled up into one
        common prefix each, as S3 does (folders, with '/').
        """
        self.get_bucket(bucket)
        page = ObjectPage()
        entries = _entries(self._files_under(bucket, prefix), prefix, delimiter, start_after)
        for name, stored in itertools.islice(entries, max(max_keys, 0) + 1):
            if len(page.objects) + len(page.common_prefixes) == max_keys:
                page.truncated = True
                break
            if stored is None:
                page.common_prefixes.append(name)
            else:
                page.objects.append(stored)
            page.last = name
        return page

    # -- multipart uploads ---------------------------------------------------------------

    def create_multipart_upload(self, bucket: str, key: str) -> str:
        """Start an upload in parts; returns its id."""
        self.get_bucket(bucket)
        validate_object_key(key)
        upload_id = uuid.uuid4().hex
        about = json.dumps({"bucket": bucket, "key": key}).encode()
        self.store.put_bytes(f"{UPLOADS}/{upload_id}/upload.json", about)
        return upload_id

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, chunks: Iterable[bytes]
    ) -> StoredObject:
        self._upload(bucket, key, upload_id)
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise ValidationError(
                f"part number {part_number} is out of range; expected 1 to {MAX_PART_NUMBER}"
            )
        part = _part_key(upload_id, part_number)
        self.store.put_stream(part, chunks)
        return self._stat(part, str(part_number), bucket)

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[tuple[int, StoredObject]]:
        self._upload(bucket, key, upload_id)
        return [
            (int(f.key.rsplit("/", 1)[1]), StoredObject(f.key, f.size, f.modified))
            for f in self.store.list_files(f"{UPLOADS}/{upload_id}/parts")
        ]

    def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> StoredObject:
        """Join the named parts, in order, into the object; ``parts`` are (number, ETag)."""
        stored = dict(self.list_parts(bucket, key, upload_id))
        if not parts:
            raise InvalidPart("CompleteMultipartUpload names no parts; list at least one")
        numbers = [number for number, _ in parts]
        if numbers != sorted(set(numbers)):
            raise ValidationError(
                f"the parts {numbers} are not in ascending order without repeats"
                " (InvalidPartOrder); list each part once, by number"
            )
        for number, etag in parts:
            part = stored.get(number)
            if part is None or part.etag != etag.strip('"'):
                raise InvalidPart(
                    f"part {number} of upload {upload_id!r} was not uploaded or its ETag "
                    f"{etag!r} is not the one UploadPart returned"
                )
        chunks = itertools.chain.from_iterable(
            self.store.iter_bytes(stored[number].key) for number in numbers
        )
        result = self.put_object(bucket, key, chunks)
        self.store.delete_prefix(f"{UPLOADS}/{upload_id}")
        return result

    def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self._upload(bucket, key, upload_id)
        self.store.delete_prefix(f"{UPLOADS}/{upload_id}")

    # -- helpers -------------------------------------------------------------------------

    def _upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.get_bucket(bucket)
        missing = UploadNotFound(
            f"upload {upload_id!r} of {key!r} in bucket {bucket!r} does not exist: it was "
            "never started, or was completed or aborted"
        )
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise missing
        try:
            about = json.loads(self.store.get_bytes(f"{UPLOADS}/{upload_id}/upload.json"))
        except NotFound:
            raise missing from None
        if about != {"bucket": bucket, "key": key}:
            raise missing

    def _files_under(self, bucket: str, prefix: str) -> list[StoredFile]:
        # Only the folder part of the prefix narrows the search; the rest is matched below.
        folder = prefix.rpartition("/")[0]
        try:
            base = f"{bucket_folder(bucket)}/{validate_object_key(folder)}" if folder else ""
        except ValidationError:
            return []  # no object can have such a key
        return self.store.list_files(base or bucket_folder(bucket))

    def _stat(self, stored_key: str, key: str, bucket: str) -> StoredObject:
        try:
            stat = self.store.stat(stored_key)
        except NotFound:
            raise self._no_such_key(bucket, key) from None
        return StoredObject(key, stat.size, stat.modified)

    @staticmethod
    def _no_such_key(bucket: str, key: str) -> ObjectNotFound:
        return ObjectNotFound(
            f"object {key!r} does not exist in bucket {bucket!r}; ListObjectsV2 shows its keys"
        )


def _part_key(upload_id: str, part_number: int) -> str:
    return f"{UPLOADS}/{upload_id}/parts/{part_number:05d}"


def _entries(
    files: list[StoredFile], prefix: str, delimiter: str, start_after: str
) -> Iterator[tuple[str, StoredObject | None]]:
    """Keys (with their objects) and rolled-up common prefixes (with None), in key order."""
    last_prefix = ""
    for stored in files:
        key = stored.key.split("/", 2)[2]  # buckets/BUCKET/KEY
        if not key.startswith(prefix) or key <= start_after:
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut < 0:
            yield key, StoredObject(key, stored.size, stored.modified)
            continue
        common = key[: cut + len(delimiter)]
        if common != last_prefix and not start_after.startswith(common):
            yield common, None
        last_prefix = common


def _read_range(source: BinaryIO, offset: int, length: int | None) -> Iterator[bytes]:
    with source:
        source.seek(offset)
        left = length
        while left is None or left > 0:
            chunk = source.read(_CHUNK if left is None else min(_CHUNK, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk
