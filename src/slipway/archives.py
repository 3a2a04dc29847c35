"""Unpacking tar archives: the one way slipway turns an archive into a folder.

Model archives, training sources and AutoML candidates' outputs come from users, so every
archive is untrusted input. tarfile's own ``TarFile.extractall(filter="data")`` is not
enough: before the fixes of CVE-2025-4517 and its siblings (Python 3.11.13, 3.12.11,
3.13.4) a long chain of symbolic links makes its checks resolve one path while the kernel
writes to another, outside the folder. So tarfile only reads here: the members are
written by this module, which creates regular files and folders and nothing else.
"""

from __future__ import annotations

import lzma
import os
import shutil
import stat
import tarfile
import uuid
import zlib
from pathlib import Path
from typing import BinaryIO

from slipway.errors import ValidationError
from slipway.settings import Settings, get_settings

_ALLOWED = "an archive may hold only regular files and folders, under relative names"
_CHUNK = 1024 * 1024
# What a corrupt or truncated archive raises as tarfile reads it, or the system as it is written.
_FAILURES = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class ArchiveError(ValidationError):
    """An archive is unreadable, over the limits, or holds a member slipway does not unpack."""

    code = "BadArchive"


def unpack_archive(
    source: Path | BinaryIO,
    target: Path,
    *,
    name: str,
    settings: Settings | None = None,
) -> None:
    """Unpack the tar archive ``source`` (plain, gzip, bzip2 or xz) into the folder ``target``.

    ``target`` must not exist yet, or be an empty folder. It appears complete or not at
    all: the members go to a hidden sibling folder first, renamed to ``target`` once all
    are in. ``name`` names the archive (its URI) in errors.
    """
    settings = settings or get_settings()
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    partial.mkdir(mode=0o755)
    try:
        unpacker = _Unpacker(name, partial, settings)
        try:
            with _opened(source) as tar:
                for member in tar:
                    unpacker.add(tar, member)
        except _FAILURES as error:
            raise unpacker.failed(error) from None
        os.rename(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _opened(source: Path | BinaryIO) -> tarfile.TarFile:
    # Stream mode reads the archive once, front to back, and never seeks.
    if isinstance(source, Path):
        return tarfile.open(source, mode="r|*")
    return tarfile.open(fileobj=source, mode="r|*")


class _Unpacker:
    """Writes the members of one archive into its folder, refusing any it must not."""

    def __init__(self, name: str, root: Path, settings: Settings) -> None:
        self.name = name
        self.root = os.path.realpath(root)
        self.max_bytes = settings.max_archive_bytes
        self.max_members = settings.max_archive_members
        self.members = 0
        self.current: tarfile.TarInfo | None = None

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.current = member
        self._check_limits(member)
        parts = self._parts(member)
        if member.isdir():
            self._folder(member, parts, _safe_mode(member.mode, 0o700))
        elif member.isreg() and not member.issparse():
            self._file(tar, member, parts)
        else:
            raise self._refused(member, f"is {_kind(member)}; {_ALLOWED}")

    def _check_limits(self, member: tarfile.TarInfo) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise self._refused(
                member,
                f"is one more than the {self.max_members} members an archive may hold; "
                "raise the setting max_archive_members (SLIPWAY_MAX_ARCHIVE_MEMBERS) "
                "if the archive is genuine",
            )
        # offset_data counts every decoded byte before the member's data: headers included.
        if member.offset_data + member.size > self.max_bytes:
            raise self._refused(
                member,
                f"takes the archive past the {self.max_bytes} bytes it may unpack to; raise "
                "the setting max_archive_bytes (SLIPWAY_MAX_ARCHIVE_BYTES) if it is genuine",
            )

    def _parts(self, member: tarfile.TarInfo) -> list[str]:
        """The member's name as folder names below the root, refused if it leads elsewhere."""
        if "\0" in member.name:
            raise self._refused(member, f"has a NUL character in its name; {_ALLOWED}")
        if member.name.startswith("/"):
            raise self._refused(member, f"has an absolute name; {_ALLOWED}")
        parts = [part for part in member.name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise self._refused(member, f"has '..' in its name; {_ALLOWED}")
        if not parts and not member.isdir():
            raise self._refused(member, f"has no name; {_ALLOWED}")
        return parts

    def _folder(self, member: tarfile.TarInfo, parts: list[str], mode: int | None = None) -> str:
        """The folder ``parts`` below the root, made if missing; given ``mode``, set to it."""
        path = self.root
        for part in parts:
            path = os.path.join(path, part)
            try:
                os.mkdir(path, 0o755)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    where = os.path.relpath(path, self.root)
                    raise self._refused(
                        member,
                        f"needs {where!r} to be a folder, but the archive holds a file there",
                    ) from None
        # Only this module writes below the root, and never a link; checked all the same.
        if os.path.commonpath([self.root, os.path.realpath(path)]) != self.root:
            raise self._refused(member, f"leads outside the folder it is unpacked into; {_ALLOWED}")
        if mode is not None and parts:
            descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                os.fchmod(descriptor, mode)
            finally:
                os.close(descriptor)
        return path

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: list[str]) -> None:
        path = os.path.join(self._folder(member, parts[:-1]), parts[-1])
        try:
            descriptor = os.open(path, _NEW_FILE, 0o600)
        except FileExistsError:
            problem = "would overwrite a file or folder of that name unpacked before it"
            raise self._refused(member, f"{problem}; each member needs a name of its own") from None
        with os.fdopen(descriptor, "wb") as out:
            data = tar.extractfile(member)
            assert data is not None  # a regular file always has data
            shutil.copyfileobj(data, out, _CHUNK)
            os.fchmod(out.fileno(), _safe_mode(member.mode, 0o600))

    def _refused(self, member: tarfile.TarInfo, problem: str) -> ArchiveError:
        return ArchiveError(
            f"cannot unpack the archive {self.name!r}: member {_shown(member.name)} {problem}"
        )

    def failed(self, error: Exception) -> ArchiveError:
        """The error to raise when reading the archive or writing a member raised ``error``."""
        where = f" (the last member read: {_shown(self.current.name)})" if self.current else ""
        if isinstance(error, OSError) and error.strerror:  # the system refused a write
            return ArchiveError(f"cannot unpack the archive {self.name!r}{where}: {error.strerror}")
        return ArchiveError(
            f"cannot unpack the archive {self.name!r}{where}: {error or type(error).__name__}; "
            "it must be a tar archive, plain or compressed with gzip, bzip2 or xz"
        )


def _safe_mode(mode: int, owner: int) -> int:
    # No setuid, setgid or sticky bit, and only the owner may write; the owner keeps access.
    return (mode & 0o755) | owner


def _shown(name: str, limit: int = 200) -> str:
    # Names in a hostile archive can be thousands of characters long.
    quoted = repr(name)
    return quoted if len(quoted) <= limit else f"{quoted[: limit - 4]}...'"


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link (to {_shown(member.linkname)})"
    if member.islnk():
        return f"a hard link (to {_shown(member.linkname)})"
    if member.ischr() or member.isblk():
        return "a device node"
    if member.isfifo():
        return "a FIFO (named pipe)"
    if member.issparse():
        return "a sparse file"
    return f"a member of unsupported type {member.type!r}"
