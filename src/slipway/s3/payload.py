"""An upload's bytes as the client sent them: plain or aws-chunked, checked on the way.

botocore signs an upload's SHA-256 in ``x-amz-content-sha256`` over plain HTTP and adds a
CRC32 in ``x-amz-checksum-crc32``; over HTTPS it sends ``STREAMING-UNSIGNED-PAYLOAD-
TRAILER``, an aws-chunked body whose checksum trails the last chunk. Other SDKs sign each
chunk (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``). Every stated hash or checksum is checked
as the bytes stream past; a mismatch raises before the last byte, and since the store
writes an object whole or not at all, nothing is kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import anyio.from_thread
from starlette.datastructures import Headers
from starlette.types import Receive

from slipway.s3.auth import ChunkSigning
from slipway.s3.errors import S3Error

STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_MAX_LINE = 4096


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


# The checksums S3 clients state, base64 of the digest; others pass unchecked.
_CHECKSUMS: dict[str, Callable[[], _Hasher]] = {
    "content-md5": lambda: hashlib.md5(usedforsecurity=False),
    "x-amz-checksum-crc32": _Crc32,
    "x-amz-checksum-sha1": hashlib.sha1,
    "x-amz-checksum-sha256": hashlib.sha256,
}


def received(receive: Receive) -> Iterator[bytes]:
    """The request body's blocks, pulled from the event loop by the worker thread."""
    while True:
        message = anyio.from_thread.run(receive)
        if message["type"] == "http.disconnect":
            raise S3Error(400, "IncompleteBody", "the client closed the connection mid-body")
        if block := message.get("body", b""):
            yield block
        if not message.get("more_body", False):
            return


def payload(
    headers: Headers, blocks: Iterable[bytes], signing: ChunkSigning | None
) -> Iterator[bytes]:
    """The object's bytes in a request body, checked against every hash the client stated."""
    stated = headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    trailers: dict[str, str] = {}
    if stated in (STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER):
        signed = signing if stated == STREAMING_SIGNED else None
        chunks: Iterable[bytes] = _decoded(_Reader(blocks), signed, trailers)
    elif stated.startswith("STREAMING-"):
        raise S3Error(
            400, "InvalidArgument",
            f"x-amz-content-sha256 {stated!r} is not a payload form this server reads; send "
            f"a SHA-256, UNSIGNED-PAYLOAD, {STREAMING_SIGNED} or {STREAMING_UNSIGNED_TRAILER}",
        )  # fmt: skip
    else:
        chunks = blocks
    # Only what the client states is computed: each hash costs a pass over the bytes.
    announced = {headers.get("x-amz-trailer", "").strip().lower()} | set(headers.keys())
    checks = {name: make() for name, make in _CHECKSUMS.items() if name in announced}
    if _SHA256_HEX.fullmatch(stated):
        checks["x-amz-content-sha256"] = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        for hasher in checks.values():
            hasher.update(chunk)
        yield chunk
    sha256 = checks.pop("x-amz-content-sha256", None)
    if sha256 is not None and sha256.digest().hex() != stated:
        raise S3Error(
            400, "XAmzContentSHA256Mismatch",
            f"the body's SHA-256 {sha256.digest().hex()} is not the x-amz-content-sha256 "
            f"{stated}",
        )  # fmt: skip
    _check_length(headers, size)
    stated_sums = {**{name: headers.get(name) for name in _CHECKSUMS}, **trailers}
    for name, hasher in checks.items():
        expected = stated_sums.get(name)
        if expected and base64.b64encode(hasher.digest()).decode() != expected:
            raise S3Error(
                400, "BadDigest",
                f"the {name} you specified ({expected}) does not match the body's",
            )  # fmt: skip


def _check_length(headers: Headers, size: int) -> None:
    decoded = headers.get("x-amz-decoded-content-length")
    if decoded is not None and decoded != str(size):
        raise S3Error(
            400, "IncompleteBody",
            f"x-amz-decoded-content-length says {decoded} bytes; the chunks held {size}",
        )  # fmt: skip


def _decoded(
    reader: _Reader, signing: ChunkSigning | None, trailers: dict[str, str]
) -> Iterator[bytes]:
    """The data of an aws-chunked body: ``HEX[;chunk-signature=SIG]``, data, CRLF, ... 0."""
    previous = signing.seed_signature if signing else ""
    while True:
        size_text, _, extension = reader.line().partition(b";")
        size = _chunk_size(size_text)
        digest = hashlib.sha256()
        for piece in reader.pieces(size):
            digest.update(piece)
            yield piece
        if signing is not None:
            previous = _check_chunk(signing, previous, digest.hexdigest(), extension)
        if size == 0:
            break
        if reader.line() != b"":
            raise _malformed("a chunk's data is longer than its size says")
    while line := reader.line():  # trailing headers, then an empty line
        name, _, value = line.decode("latin-1").partition(":")
        trailers[name.strip().lower()] = value.strip()


def _chunk_size(text: bytes) -> int:
    try:
        size = int(text, 16)
    except ValueError:
        size = -1
    if size < 0 or len(text) > 16:
        raise _malformed(f"chunk size {text[:20]!r} is not a hexadecimal byte count")
    return size


def _check_chunk(signing: ChunkSigning, previous: str, sha256: str, extension: bytes) -> str:
    stated = extension.decode("latin-1").removeprefix("chunk-signature=")
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256-PAYLOAD", signing.amz_date, signing.scope, previous,
         _EMPTY_SHA256, sha256]
    )  # fmt: skip
    expected = hmac.new(signing.key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, stated):
        raise S3Error(
            403, "SignatureDoesNotMatch",
            "a chunk's signature does not match its data; check the client's signing",
        )  # fmt: skip
    return expected


def _malformed(problem: str) -> S3Error:
    return S3Error(400, "IncompleteBody", f"the aws-chunked body is malformed: {problem}")


class _Reader:
    """Lines and counted bytes from a stream of blocks, holding at most a block or a line."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks = iter(blocks)
        self._buffer = bytearray()

    def _more(self) -> bool:
        block: Any = next(self._blocks, None)
        if block is None:
            return False
        self._buffer += block
        return True

    def line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if len(self._buffer) > _MAX_LINE:
                raise _malformed("a chunk header or trailer line is too long")
            if not self._more():
                raise _malformed("the body ended inside a chunk header")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def pieces(self, size: int) -> Iterator[bytes]:
        while size > 0:
            if not self._buffer and not self._more():
                raise _malformed("the body ended inside a chunk")
            piece = bytes(self._buffer[:size])
            del self._buffer[: len(piece)]
            size -= len(piece)
            yield piece
