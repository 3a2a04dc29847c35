"""Store files and remember what was stored: URI, size and sha256 of every artifact."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import fsspec
import sqlalchemy as sa

from slipway.errors import NotFound, ValidationError
from slipway.store.artifacts import ArtifactInfo, ArtifactStore, validate_key
from slipway.store.buckets import bucket_folder, marker_key, object_key, split_s3_uri
from slipway.store.db import Database, upsert
from slipway.store.tables import artifact_records

_CHUNK = 1024 * 1024


class ArtifactService:
    """The artifact store plus the records that make each stored file verifiable."""

    def __init__(self, database: Database, store: ArtifactStore) -> None:
        self.db = database
        self.store = store

    def put(self, key: str, chunks: Iterable[bytes]) -> ArtifactInfo:
        """Stream bytes into the store under a key and record them."""
        info = self.store.put_stream(key, chunks)
        self.remember(info)
        return info

    def put_file_at(self, uri: str, local_path: Path) -> ArtifactInfo:
        """Upload a local file to any URI (inside the store or not) and record it."""
        with local_path.open("rb") as source, self.writing(uri) as target:
            while chunk := source.read(_CHUNK):
                target.write(chunk)
        return target.info

    @contextmanager
    def writing(self, uri: str, record: bool = True) -> Iterator[HashingWriter]:
        """A stream to write an artifact to any URI; recorded when the block ends.

        What is packed on the fly (a job's model tarball) goes straight to its place,
        hashed on the way, instead of through a temporary file read twice. Without
        ``record``, the caller records ``writer.info`` with ``remember``, in a write of
        its own (a training job's end).
        """
        with fsspec.open(self.resolve(uri), "wb", auto_mkdir=True) as target:
            writer = HashingWriter(target, uri, self._key_or_uri(uri))
            yield writer
        if record:
            self.remember(writer.info)

    def uri_for(self, key: str) -> str:
        return self.store.uri_for(validate_key(key))

    def resolve(self, uri: str) -> str:
        """Where the bytes a URI names live, for reading or writing them with fsspec.

        ``s3://BUCKET/KEY`` of a bucket this store serves (one made through the S3
        endpoint) is a file of the store, and ``s3://BUCKET/PREFIX/`` its folder; any other
        URI (AWS's S3 among them) is itself.
        """
        parts = split_s3_uri(uri)
        if parts is None:
            return uri
        bucket, key = parts
        try:
            served = self.store.exists(marker_key(bucket))
        except ValidationError:
            return uri  # not a name this store would give a bucket
        if not served:
            return uri
        folder = key.endswith("/") or not key
        stored = object_key(bucket, key.rstrip("/")) if key.rstrip("/") else bucket_folder(bucket)
        return self.store.uri_for(stored) + ("/" if folder else "")

    def record(self, uri: str) -> ArtifactInfo:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(artifact_records).where(artifact_records.c.uri == uri)
            ).first()
        if row is None:
            raise NotFound(f"no artifact is recorded at {uri!r}")
        return ArtifactInfo(
            key=self._key_or_uri(uri), uri=row.uri, size=row.size, sha256=row.sha256
        )

    def open(self, uri: str) -> Iterator[bytes]:
        """Stream a recorded artifact's bytes."""
        self.record(uri)
        root = self.store.uri_for("x")[:-1]
        if uri.startswith(root):
            return self.store.iter_bytes(uri[len(root) :])
        return _iter_uri(self.resolve(uri))

    def remember(self, info: ArtifactInfo) -> None:
        """Record what was stored at a URI: its size and sha256."""
        row = {
            "uri": info.uri,
            "size": info.size,
            "sha256": info.sha256,
            "created_at": dt.datetime.now(dt.UTC),
        }
        with self.db.write() as conn:
            upsert(conn, artifact_records, ("uri",), [row])

    def _key_or_uri(self, uri: str) -> str:
        root = self.store.uri_for("x")[:-1]
        return uri[len(root) :] if uri.startswith(root) else uri


class HashingWriter(io.RawIOBase):
    """Writes to a stream and keeps the size and sha256 of what went through."""

    def __init__(self, target: BinaryIO, uri: str, key: str) -> None:
        self._target = target
        self._digest = hashlib.sha256()
        self._size = 0
        self._uri, self._key = uri, key

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._digest.update(data)
        self._size += len(data)
        self._target.write(data)
        return len(data)

    @property
    def info(self) -> ArtifactInfo:
        return ArtifactInfo(
            key=self._key, uri=self._uri, size=self._size, sha256=self._digest.hexdigest()
        )


def _iter_uri(uri: str) -> Iterator[bytes]:
    with fsspec.open(uri, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            yield chunk
