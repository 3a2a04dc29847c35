"""The artifact store: files under a key, in a local folder or an S3 bucket, via fsspec."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import fsspec
from fsspec.utils import get_protocol

from slipway.errors import Conflict, NotFound, ValidationError

# Local writes go to "<target>.<hex><suffix>" first. list() hides such names and keys may
# not use the suffix, so a half-written file can never be mistaken for an artifact.
_PARTIAL_SUFFIX = ".slipway-partial"
_CHUNK = 1024 * 1024
_EXPECTED = (
    "expected a relative POSIX path such as 'experiments/tc-1/model.pkl': segments joined "
    "by single '/', no leading or trailing '/', no '.' or '..' segment, no backslash or "
    "control character"
)


# What validate_key refuses, in JSON schema, for the API's names that become keys.
KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "allOf": [
        {"not": {"pattern": r"[\\\x00-\x1f\x7f-\x9f]"}},
        {"not": {"pattern": r"(^|/)\.{0,2}(/|$)"}},
        {"not": {"pattern": _PARTIAL_SUFFIX.replace(".", "\\.") + "(/|$)"}},
    ],
}


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe artifact key, else raise ValidationError saying why."""
    if not isinstance(key, str) or not key:
        problem = "it is empty" if key == "" else "it is not a string"
    elif key.startswith("/"):
        problem = "it is absolute"
    elif "\\" in key:
        problem = "it contains a backslash"
    elif any(unicodedata.category(char) == "Cc" for char in key):
        problem = "it contains a control character"
    elif any(segment in ("", ".", "..") for segment in key.split("/")):
        problem = "it has an empty, '.' or '..' segment"
    elif any(segment.endswith(_PARTIAL_SUFFIX) for segment in key.split("/")):
        problem = f"the suffix {_PARTIAL_SUFFIX!r} is reserved for unfinished writes"
    else:
        return key
    raise ValidationError(f"artifact key {key!r} is not valid: {problem}; {_EXPECTED}.")


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """What was stored: the key, where it lives, and how to check it is intact."""

    key: str
    uri: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file in the store as its listing shows it."""

    key: str
    size: int
    modified: dt.datetime


class ArtifactStore:
    """Files under relative keys below one root URI: a folder, ``file://`` or ``s3://``."""

    def __init__(self, root_uri: str, **storage_options: Any) -> None:
        if get_protocol(root_uri) in ("s3", "s3a"):
            # Artifacts are written by other processes (workers, the server); a listing
            # cache would make exists() and list() miss their writes.
            storage_options.setdefault("use_listings_cache", False)
        self.root_uri = root_uri
        self._fs, root = fsspec.core.url_to_fs(root_uri, **storage_options)
        self._root = root.rstrip("/")
        self._local = "file" in self._fs.protocol

    # -- writing -------------------------------------------------------------------------

    def put_file(self, key: str, local_path: str | os.PathLike[str]) -> ArtifactInfo:
        """Store a local file under ``key``."""
        if not Path(local_path).is_file():
            raise NotFound(f"local file '{local_path}' not found; pass an existing file.")
        with open(local_path, "rb") as source:
            return self.put_stream(key, iter(lambda: source.read(_CHUNK), b""))

    def put_bytes(self, key: str, data: bytes) -> ArtifactInfo:
        """Store ``data`` under ``key``."""
        return self.put_stream(key, [data])

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> ArtifactInfo:
        """Store the concatenated ``chunks`` under ``key``, holding one chunk at a time.

        The artifact appears whole or not at all: if ``chunks`` raises, nothing is stored
        under ``key`` and an older artifact there stays as it was.
        """
        path = self._path(key)
        if self._local:
            size, sha256 = _write_local_atomically(path, chunks)
        else:
            size, sha256 = self._write_object(path, chunks)
        return ArtifactInfo(key=key, uri=self.uri_for(key), size=size, sha256=sha256)

    def _write_object(self, path: str, chunks: Iterable[bytes]) -> tuple[int, str]:
        # An object store publishes an object only when its single PUT or multipart upload
        # completes, so we write in place. s3fs completes the upload in close(), which
        # fsspec also calls from __exit__ and __del__ even after an error; hence no `with`,
        # and on failure the upload is aborted and the file marked closed by hand.
        target = self._fs.open(path, "wb")
        try:
            size_and_sha256 = _copy(chunks, target)
            target.close()
        except BaseException:
            with contextlib.suppress(Exception):
                target.discard()
            target.closed = True
            raise
        return size_and_sha256

    # -- reading -------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        """Open the artifact for streaming reads; the caller closes the file."""
        self._file_info(key)  # else s3fs would open a "folder" as an empty file
        with self._not_found(key):
            return self._fs.open(self._path(key), "rb")

    def iter_bytes(self, key: str, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """Yield the artifact's content in chunks of at most ``chunk_size`` bytes."""
        if chunk_size < 1:
            raise ValidationError(f"chunk_size must be a positive byte count, not {chunk_size}.")
        # Opened here, not inside the generator, so a missing key fails at the call.
        return _read_chunks(self.open(key), chunk_size)

    def get_bytes(self, key: str) -> bytes:
        """Return the whole artifact; use iter_bytes() for large ones."""
        with self.open(key) as source:
            return source.read()

    def get_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        """Download the artifact to ``local_path``, which appears only once complete."""
        chunks = self.iter_bytes(key)  # fails before anything is created locally
        _write_local_atomically(os.path.abspath(local_path), chunks)

    # -- listing and deleting ------------------------------------------------------------

    def list(self, prefix: str = "") -> list[str]:
        """Return the sorted keys below the folder ``prefix`` (all keys if it is empty)."""
        return [stored.key for stored in self.list_files(prefix)]

    def list_files(self, prefix: str = "") -> list[StoredFile]:
        """The files below the folder ``prefix`` with their sizes and times, sorted by key."""
        folder = self._prefix(prefix)
        base = self._path(folder) if folder else self._root
        start = len(self._root) + 1
        found = self._fs.find(base, detail=True)
        files = (
            StoredFile(path[start:], int(info["size"]), _modified(info))
            for path, info in found.items()
        )
        return sorted(
            (
                stored
                for stored in files
                if not stored.key.endswith(_PARTIAL_SUFFIX)
                and stored.key.startswith(f"{folder}/" if folder else "")
            ),
            key=lambda stored: stored.key,
        )

    def stat(self, key: str) -> StoredFile:
        """The artifact's size and time of its last write."""
        info = self._file_info(key)
        return StoredFile(key, int(info["size"]), _modified(info))

    def exists(self, key: str) -> bool:
        """Whether an artifact is stored under ``key``."""
        return self._fs.isfile(self._path(key))

    def size(self, key: str) -> int:
        """The artifact's size in bytes."""
        return int(self._file_info(key)["size"])

    def delete(self, key: str) -> None:
        """Delete the artifact under ``key``."""
        self._file_info(key)  # S3 deletes of missing keys succeed silently
        with self._not_found(key):
            self._fs.rm_file(self._path(key))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every artifact below the folder ``prefix``; return how many there were."""
        folder = self._prefix(prefix)
        if not folder:
            # An empty variable must not wipe the whole store.
            raise ValidationError(
                "delete_prefix needs a non-empty prefix such as 'experiments/tc-1'."
            )
        keys = self.list(folder)
        if keys:
            self._fs.rm([self._path(key) for key in keys])
        if self._local and self._fs.isdir(self._path(folder)):
            self._fs.rm(self._path(folder), recursive=True)  # the emptied local folders
        return len(keys)

    def uri_for(self, key: str) -> str:
        """The full URI of the object stored (or to be stored) under ``key``."""
        return self._fs.unstrip_protocol(self._path(key))

    # -- helpers -------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        return f"{self._root}/{validate_key(key)}"

    @staticmethod
    def _prefix(prefix: str) -> str:
        # "a/b/" and "a/b" name the same folder; anything else must be a valid key.
        folder = prefix[:-1] if isinstance(prefix, str) and prefix.endswith("/") else prefix
        return validate_key(folder) if folder else ""

    def _file_info(self, key: str) -> dict[str, Any]:
        path = self._path(key)
        with self._not_found(key):
            info = self._fs.info(path)
        if info["type"] != "file":
            raise self._missing(key)
        return info

    def _missing(self, key: str) -> NotFound:
        return NotFound(
            f"artifact {key!r} not found under '{self.root_uri}'. "
            "Check the key; ArtifactStore.list(prefix) shows what is stored."
        )

    @contextlib.contextmanager
    def _not_found(self, key: str) -> Iterator[None]:
        try:
            yield
        except (FileNotFoundError, IsADirectoryError) as error:
            raise self._missing(key) from error


def _modified(info: dict[str, Any]) -> dt.datetime:
    # A local file system says "mtime" (seconds), s3fs "LastModified" (a datetime).
    if "mtime" in info:
        return dt.datetime.fromtimestamp(info["mtime"], tz=dt.UTC)
    modified = info.get("LastModified")
    return modified if isinstance(modified, dt.datetime) else dt.datetime.now(dt.UTC)


def _copy(chunks: Iterable[bytes], target: IO[bytes]) -> tuple[int, str]:
    """Write ``chunks`` to ``target``, hashing on the way so nothing is read twice."""
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        view = memoryview(chunk)
        digest.update(view)
        target.write(view)
        size += view.nbytes
    return size, digest.hexdigest()


def _write_local_atomically(path: str, chunks: Iterable[bytes]) -> tuple[int, str]:
    # Write next to the target and rename: os.replace is atomic within one file system,
    # and the fsync makes sure a crash cannot leave a renamed but empty file.
    partial = f"{path}.{uuid.uuid4().hex}{_PARTIAL_SUFFIX}"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(partial, "wb") as target:
            size_and_sha256 = _copy(chunks, target)
            target.flush()
            os.fsync(target.fileno())
        # Not shutil.move: it would move the file *into* a folder of the same name.
        os.replace(partial, path)
    except (IsADirectoryError, NotADirectoryError, FileExistsError) as error:
        raise Conflict(
            f"cannot write '{path}': a folder and a file would share that name. "
            "Pick a key or path that is not also the folder of other files."
        ) from error
    finally:
        # Gone after the rename, or never created because a parent is a file.
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.remove(partial)
    return size_and_sha256


def _read_chunks(source: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with source:
        yield from iter(lambda: source.read(chunk_size), b"")
