"""Read a baseline data set (CSV with or without a header, JSON lines, Parquet) in chunks.

Each reader yields Arrow record batches of a bounded size, so the caller never holds the
whole file. CSV column types are inferred from the first block; when a later block does
not fit (an integer column meets "1.5" or "n/a"), that column is read as text and the
file is read again, so a type is never guessed from a sample and silently wrong.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from slipway.errors import NotFound, ValidationError

CSV_BLOCK_BYTES = 16 * 1024 * 1024
JSON_BLOCK_BYTES = 16 * 1024 * 1024
PARQUET_BATCH_ROWS = 256 * 1024
_BAD_COLUMN = re.compile(r"In CSV column #(\d+)")


def dataset_format_of(value: str | dict[str, Any]) -> dict[str, Any]:
    """The reference's dataset_format dict from it or a shorthand (csv, csv-noheader...)."""
    shorthands = {
        "csv": {"csv": {"header": True}},
        "csv-header": {"csv": {"header": True}},
        "csv-noheader": {"csv": {"header": False}},
        "json": {"json": {"lines": True}},
        "jsonl": {"json": {"lines": True}},
        "parquet": {"parquet": {}},
    }
    if isinstance(value, str):
        if value.lower() not in shorthands:
            raise ValidationError(
                f"dataset format {value!r} is not known; use csv, csv-noheader, json or parquet"
            )
        return shorthands[value.lower()]
    if (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value))
        in (
            "csv",
            "json",
            "parquet",
        )
    ):
        return value
    raise ValidationError(
        f"dataset format {value!r} is not valid; use DatasetFormat.csv(header=True), "
        "DatasetFormat.json(lines=True) or DatasetFormat.parquet()"
    )


def read_batches(uri: str, dataset_format: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    kind, options = next(iter(dataset_format.items()))
    _check_exists(uri)
    if kind == "csv":
        return _csv_batches(uri, bool((options or {}).get("header", True)))
    if kind == "json":
        if not (options or {}).get("lines", True):
            raise ValidationError("only JSON lines data sets are read; pass json lines=True")
        return _json_batches(uri)
    return _parquet_batches(uri)


def restartable(
    uri: str, dataset_format: dict[str, Any], consume: Callable[[Iterator[pa.RecordBatch]], Any]
) -> Any:
    """Run ``consume`` over the batches, starting again when a CSV column changes type."""
    kind, options = next(iter(dataset_format.items()))
    if kind != "csv":
        return consume(read_batches(uri, dataset_format))
    _check_exists(uri)
    as_text: set[int] = set()
    header = bool((options or {}).get("header", True))
    while True:
        try:
            return consume(_csv_batches(uri, header, as_text))
        except pa.ArrowInvalid as error:
            found = _BAD_COLUMN.search(str(error))
            if found is None or int(found.group(1)) in as_text:
                raise ValidationError(f"cannot read the CSV data set {uri}: {error}") from None
            as_text.add(int(found.group(1)))


def _check_exists(uri: str) -> None:
    fs, path = fsspec.core.url_to_fs(uri)
    if not fs.isfile(path):  # every reader opens one file; a folder would fail there
        raise NotFound(f"baseline data set {uri!r} not found (or not a file); check the URI")


def _csv_batches(
    uri: str, header: bool, as_text: set[int] | None = None
) -> Iterator[pa.RecordBatch]:
    with fsspec.open(uri, "rb", compression="infer") as stream:
        # The first line gives the column names (or, without a header, their number).
        first = pacsv.read_csv(
            io.BytesIO(stream.readline()),
            read_options=pacsv.ReadOptions(autogenerate_column_names=not header),
        )
        stream.seek(0)
        names = first.column_names if header else [f"_c{i}" for i in range(first.num_columns)]
        column_types = {names[i]: pa.string() for i in as_text or () if i < len(names)}
        reader = pacsv.open_csv(
            stream,
            read_options=_read_options(header, names),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        yield from reader


def _read_options(header: bool, names: list[str] | None = None) -> pacsv.ReadOptions:
    return pacsv.ReadOptions(
        block_size=CSV_BLOCK_BYTES,
        column_names=names,
        skip_rows=1 if header else 0,
    )


def _json_batches(uri: str) -> Iterator[pa.RecordBatch]:
    with fsspec.open(uri, "rb", compression="infer") as stream:
        while True:
            block = stream.read(JSON_BLOCK_BYTES)
            if not block:
                return
            block += stream.readline()  # end on a whole line
            try:
                table = pajson.read_json(io.BytesIO(block))
            except pa.ArrowInvalid as error:
                raise ValidationError(
                    f"cannot read the JSON lines data set {uri}: {error}"
                ) from None
            yield from table.to_batches()


def _parquet_batches(uri: str) -> Iterator[pa.RecordBatch]:
    with fsspec.open(uri, "rb") as stream:
        try:
            parquet = pq.ParquetFile(stream)
        except pa.ArrowInvalid as error:
            raise ValidationError(f"{uri} is not a Parquet file: {error}") from None
        yield from parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS)
