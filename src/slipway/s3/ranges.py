"""HTTP Range headers as S3 reads them: one byte range, or the whole object."""

from __future__ import annotations

from slipway.s3.errors import S3Error


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte a Range header asks for, or None for the whole object.

    As S3 does, a header it cannot serve (another unit, several ranges, a malformed one)
    is ignored and the whole object sent; a range that starts past the end is refused.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    start, dash, end = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or "," in spec or not dash:
        return None
    if not start:  # "bytes=-N": the last N bytes
        if not end.isdigit() or (int(end) == 0 and size > 0):
            return None if not end.isdigit() else _unsatisfiable(header, size)
        return (max(size - int(end), 0), size - 1) if size else _unsatisfiable(header, size)
    if not start.isdigit() or (end and (not end.isdigit() or int(end) < int(start))):
        return None
    first = int(start)
    if first >= size:
        _unsatisfiable(header, size)
    return first, min(int(end), size - 1) if end else size - 1


def _unsatisfiable(header: str, size: int) -> tuple[int, int]:
    raise S3Error(
        416, "InvalidRange",
        f"the range {header!r} is not satisfiable: the object has {size} bytes",
    )  # fmt: skip
