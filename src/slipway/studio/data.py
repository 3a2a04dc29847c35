"""Studio's preview of a dataset artifact: first rows, column statistics, histograms.

A table artifact (CSV, TSV or parquet) is read from the artifact store through the
experiments service, never by opening its URI directly, so only recorded artifacts are
shown. At most ``MAX_ROWS`` rows and ``MAX_DECODED_BYTES`` are read: a CSV streams and
stops there; a parquet file needs its footer, so it is read whole, up to
``MAX_PARQUET_BYTES``, and then decoded only as far as the budget allows (see
``slipway.studio._parquet``). Nothing else is decompressed: a ``.gz`` file is not a table
here.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from slipway.errors import PayloadTooLarge, SlipwayError, ValidationError
from slipway.experiments.models import Artifact
from slipway.studio import charts
from slipway.studio._parquet import MAX_DECODED_BYTES, read_first_rows
from slipway.studio.common import render, services

MAX_ROWS = 100_000
MAX_PARQUET_BYTES = 256 * 1024 * 1024
PREVIEW_ROWS = 20
# Each histogram is a chart on the page; past this many the page gets slow to draw.
MAX_HISTOGRAMS = 24
_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_PARQUET_MAGIC = b"PAR1"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg")

router = APIRouter(include_in_schema=False)


def _suffix(uri: str) -> str:
    return PurePosixPath(uri.split("?", 1)[0]).suffix.lower()


def artifact_kind(artifact: Artifact) -> str | None:
    """ "table" or "image" when Studio can preview the artifact, else None."""
    suffix = _suffix(artifact.value)
    if suffix in _SEPARATORS or suffix in _PARQUET_SUFFIXES:
        return "table"
    if suffix in _IMAGE_SUFFIXES or artifact.media_type in _IMAGE_MEDIA_TYPES:
        return "image"
    return None


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks, so pandas can stream a CSV."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        # The store's chunk generator holds the file open until it is closed.
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()


class _Capped(io.RawIOBase):
    """The first ``limit`` bytes of a stream; ``cut`` says whether the stream had more."""

    def __init__(self, source: io.BufferedReader, limit: int) -> None:
        self._source = source
        self._left = limit
        self.cut = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left == 0:
            self.cut = self.cut or bool(self._source.peek(1))
            return 0
        size = self._source.readinto(memoryview(buffer)[: self._left])
        self._left -= size
        return size


@dataclass
class Table:
    """The rows read from a table artifact and how many rows it has in all, if known."""

    frame: pd.DataFrame
    total_rows: int | None

    @property
    def truncated(self) -> bool:
        return self.total_rows is None or self.total_rows > len(self.frame)


def read_table(svc: Any, uri: str, max_rows: int = MAX_ROWS) -> Table:
    """The first ``max_rows`` rows of a recorded CSV, TSV or parquet artifact.

    Raises NotFound when nothing is recorded at ``uri`` and ValidationError when it is
    not a table slipway can read.
    """
    record = svc.artifact_record(uri)
    reader = io.BufferedReader(_ChunkReader(svc.open_artifact(uri)))
    with reader:
        if reader.peek(len(_PARQUET_MAGIC))[: len(_PARQUET_MAGIC)] == _PARQUET_MAGIC:
            if record.size > MAX_PARQUET_BYTES:
                raise PayloadTooLarge(
                    f"parquet artifact {uri!r} has {record.size:,} bytes; Studio previews "
                    f"parquet files up to {MAX_PARQUET_BYTES:,} bytes. Read it with pandas."
                )
            return _parquet(uri, reader.read(), max_rows)
        separator = _SEPARATORS.get(_suffix(uri))
        if separator is None:
            raise ValidationError(
                f"artifact {uri!r} is not a table Studio can preview; it previews CSV "
                "(.csv), TSV (.tsv) and parquet files"
            )
        return _csv(uri, reader, separator, max_rows)


def _csv(uri: str, reader: io.BufferedReader, separator: str, max_rows: int) -> Table:
    capped = _Capped(reader, MAX_DECODED_BYTES)
    too_big = PayloadTooLarge(
        f"CSV artifact {uri!r} has rows too long to preview: not one is whole in the first "
        f"{MAX_DECODED_BYTES:,} bytes, all that Studio reads of a table. Read it with pandas."
    )
    try:
        # One row more than shown says whether the file goes on.
        frame = pd.read_csv(
            io.BufferedReader(capped), sep=separator, nrows=max_rows + 1, compression=None
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        if capped.cut:
            raise too_big from None
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "no data"
        raise ValidationError(f"artifact {uri!r} is not a readable CSV: {first_line}") from None
    if len(frame) > max_rows:
        return Table(frame.iloc[:max_rows], None)
    if capped.cut:
        # The budget ends inside a row, which pandas read as if it were whole.
        if len(frame) <= 1:
            raise too_big
        return Table(frame.iloc[:-1], None)
    return Table(frame, len(frame))


def _parquet(uri: str, content: bytes, max_rows: int) -> Table:
    try:
        table, total_rows = read_first_rows(uri, content, max_rows)
        # Free each column's arrow memory as pandas takes it, not at the end.
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
    except (pa.ArrowException, OSError) as error:
        raise ValidationError(f"artifact {uri!r} is not a readable parquet file: {error}") from None
    return Table(frame, total_rows)


@dataclass
class ColumnStats:
    name: str
    type: str
    missing: int
    distinct: int
    minimum: float | None = None
    mean: float | None = None
    maximum: float | None = None


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def column_stats(frame: pd.DataFrame) -> list[ColumnStats]:
    found = []
    for name in frame.columns:
        column = frame[name]
        stats = ColumnStats(
            str(name), str(column.dtype), int(column.isna().sum()), int(column.nunique())
        )
        if _is_numeric(column) and column.notna().any():
            stats.minimum = float(column.min())
            stats.mean = float(column.mean())
            stats.maximum = float(column.max())
        found.append(stats)
    return found


def histograms(frame: pd.DataFrame) -> list[tuple[str, dict[str, Any]]]:
    """A bar chart per numeric column that has finite values, at most MAX_HISTOGRAMS."""
    figures = []
    for name in frame.columns:
        column = frame[name]
        if not _is_numeric(column):
            continue
        values = column.to_numpy(dtype=float, na_value=np.nan)
        if np.isfinite(values).any():
            figures.append((str(name), charts.histogram(str(name), values)))
        if len(figures) == MAX_HISTOGRAMS:
            break
    return figures


@router.get("/data")
def preview(request: Request, uri: str = "") -> Response:
    try:
        if not uri.strip():
            raise ValidationError("the data preview needs an artifact's URI: /data?uri=<URI>")
        table = read_table(services(request).experiments, uri)
    except SlipwayError as error:
        # Whatever else went wrong, a URI that names no table is a bad request here.
        status = 404 if error.status_code == 404 else 400
        return render(request, "error.html", status, title=error.code, message=error.message)
    frame = table.frame
    return render(
        request,
        "data_preview.html",
        title=PurePosixPath(uri).name or uri,
        uri=uri,
        table=table,
        head=frame.head(PREVIEW_ROWS),
        stats=column_stats(frame),
        histograms=histograms(frame),
        max_rows=MAX_ROWS,
        max_decoded_mib=MAX_DECODED_BYTES // 2**20,
        max_histograms=MAX_HISTOGRAMS,
    )
