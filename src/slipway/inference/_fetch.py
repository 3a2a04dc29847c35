"""Bring a model's files to local disk: a folder, a single file, or a ``model.tar.gz``.

A model URI is a local path, a ``file://`` URI or any fsspec URI (``s3://...``). Local
folders and files are used where they are. Archives and remote objects are unpacked once
into the model cache folder, under a name made from the URI and the object's size and
modification stamp, so a replaced archive is fetched again and an unchanged one never is.
Several worker processes may ask for the same model at once: a lock file per entry lets
one of them download and unpack while the others wait, and the entry appears by an atomic
rename only once complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
from fsspec.utils import get_protocol

from slipway.archives import ArchiveError, unpack_archive
from slipway.inference.errors import ModelLoadError, ModelNotFound
from slipway.settings import Settings

_GZIP_MAGIC = b"\x1f\x8b"


def local_path(uri: str) -> Path | None:
    """The local path of a plain path or ``file://`` URI; None for remote URIs."""
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    if get_protocol(uri) in ("file", "local"):
        return Path(uri).expanduser()
    return None


def materialise(uri: str, settings: Settings) -> Path:
    """A local folder or file holding the model at ``uri``, fetching it if needed."""
    path = local_path(uri)
    if path is not None:
        return _local(uri, path.resolve(), settings)
    return _remote(uri, settings)


def _local(uri: str, path: Path, settings: Settings) -> Path:
    if path.is_dir():
        return path
    if not path.is_file():
        raise ModelNotFound(f"no model at {uri!r}: nothing is stored there")
    if not _is_archive(path):
        return path
    stat = path.stat()
    key = _key(str(path), stat.st_size, str(stat.st_mtime_ns))
    return _unpacked(
        settings.resolved_model_cache_dir, key, lambda target: _extract(path, target, uri, settings)
    )


def _remote(uri: str, settings: Settings) -> Path:
    try:
        fs, remote = fsspec.core.url_to_fs(uri)
        info = fs.info(remote)
    except FileNotFoundError:
        raise ModelNotFound(f"no model at {uri!r}: nothing is stored there") from None
    except Exception as error:  # fsspec back ends raise their own types
        raise ModelLoadError(f"cannot read the model at {uri!r}: {error}") from None
    stamp = str(info.get("ETag") or info.get("mtime") or info.get("LastModified") or "")
    key = _key(uri, int(info.get("size") or 0), stamp)

    def fetch(target: Path) -> None:
        if info["type"] == "directory":
            fs.get(remote.rstrip("/") + "/", str(target), recursive=True)
            return
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            name = Path(remote).name or "model"
            download = Path(scratch) / name
            fs.get_file(remote, str(download))
            if _is_archive(download):
                _extract(download, target, uri, settings)
            else:
                target.mkdir()
                os.replace(download, target / name)

    return _unpacked(settings.resolved_model_cache_dir, key, fetch)


def _key(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:32]


def _is_archive(path: Path) -> bool:
    if path.name.endswith((".tar.gz", ".tgz", ".tar")):
        return True
    with path.open("rb") as file:
        head = file.read(2)
    return head == _GZIP_MAGIC and tarfile.is_tarfile(path)


def _extract(archive: Path, target: Path, uri: str, settings: Settings) -> None:
    try:
        unpack_archive(archive, target, name=uri, settings=settings)
    except ArchiveError as error:
        raise ModelLoadError(
            f"{error.message}; make it with `tar czf model.tar.gz -C model_dir .`"
        ) from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _unpacked(cache_dir: Path, key: str, fill) -> Path:
    """The cache entry ``key``, made by ``fill(folder)`` once across threads and processes."""
    entry = cache_dir / key
    if entry.is_dir():
        return entry
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f"{key}.lock"):
        if entry.is_dir():
            return entry
        partial = cache_dir / f"{key}.{uuid.uuid4().hex}.partial"
        try:
            fill(partial)
            partial.mkdir(exist_ok=True)
            os.rename(partial, entry)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return entry


def disk_bytes(path: Path) -> int:
    """Total size of the files at ``path`` (a file or a folder)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
