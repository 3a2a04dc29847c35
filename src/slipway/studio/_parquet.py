"""Read the first rows of a parquet file without letting it decode to more than a budget.

A parquet file's size says little about what it decodes to: zstd turns gigabytes of
repeated bytes into kilobytes, and dictionary encoding stores a value once however many
rows repeat it. So both budgets are spent from the footer, before anything is decoded:

- the row groups read are decompressed page by page, up to their column chunks'
  ``total_uncompressed_size`` in all: at most ``MAX_UNCOMPRESSED_BYTES``. A file whose
  first row group alone is over that is refused;
- every row read costs a known number of bytes per column once in pandas, so only as
  many rows are read as fit ``MAX_DECODED_BYTES``. Text is read dictionary-encoded (an
  index per row) and decoded only for the leading rows whose text fits too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from slipway.errors import PayloadTooLarge, ValidationError

# Pages live only while their values are decoded, so they may take more than the values.
MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
MAX_DECODED_BYTES = 64 * 1024 * 1024
# What CPython spends on a small object (a Decimal, a date, bytes) and the pointer to it.
_PYTHON_OBJECT_BYTES = 128
# A text value before its text is counted: an index while encoded, an offset once decoded.
_TEXT_VALUE_BYTES = 16


def read_first_rows(uri: str, content: bytes, max_rows: int) -> tuple[pa.Table, int]:
    """Up to ``max_rows`` leading rows of a parquet file that fit the budget, and its row count.

    Raises ValidationError for a file that is not parquet or has nested columns, and
    PayloadTooLarge when not even its first row fits the budgets.
    """
    document = pq.ParquetFile(pa.BufferReader(content))
    schema = document.schema_arrow
    _refuse_nested(uri, schema)
    leaves = [document.schema.column(i).path for i in range(len(document.schema))]
    # pyarrow reads only text and binary leaves as dictionaries; it ignores the others.
    encoded = pq.ParquetFile(
        pa.BufferReader(content), metadata=document.metadata, read_dictionary=leaves
    )
    row_bytes = _row_bytes(schema)
    rows, groups = _rows_that_fit(uri, document.metadata, row_bytes, max_rows)
    table = _read(encoded, rows, groups)
    return _decode_text(uri, table, schema, row_bytes), document.metadata.num_rows


def _refuse_nested(uri: str, schema: pa.Schema) -> None:
    # Lists and maps can hide any number of values in one row, and pandas cannot count
    # distinct values of them anyway.
    for field in schema:
        if pa.types.is_nested(field.type):
            raise ValidationError(
                f"column {field.name!r} of parquet artifact {uri!r} has the nested type "
                f"{field.type}; Studio previews tables of plain columns (numbers, text, "
                "times). Read it with pandas."
            )


def _row_bytes(schema: pa.Schema) -> int:
    """Bytes one row takes once read into pandas, its text aside."""
    # Without the pandas metadata, an index is a column like the others.
    dtypes = schema.empty_table().to_pandas(ignore_metadata=True).dtypes
    return max(
        sum(_value_bytes(field, dtype) for field, dtype in zip(schema, dtypes, strict=True)), 1
    )


def _value_bytes(field: pa.Field, dtype: Any) -> int:
    if dtype == np.dtype(object):
        return _PYTHON_OBJECT_BYTES
    if pa.types.is_dictionary(field.type):
        return field.type.index_type.bit_width // 8
    try:
        return max(field.type.bit_width // 8, 1)
    except ValueError:  # a variable-width type: text or binary
        return _TEXT_VALUE_BYTES


def _rows_that_fit(
    uri: str, metadata: pq.FileMetaData, row_bytes: int, max_rows: int
) -> tuple[int, int]:
    """How many leading rows to read, and from how many row groups, within both budgets."""
    rows = groups = pages = 0
    while groups < metadata.num_row_groups and rows < max_rows:
        group = metadata.row_group(groups)
        pages += sum(group.column(i).total_uncompressed_size for i in range(group.num_columns))
        room = MAX_DECODED_BYTES // row_bytes - rows
        if pages > MAX_UNCOMPRESSED_BYTES or room <= 0:
            break
        taken = min(group.num_rows, max_rows - rows, room)
        rows, groups = rows + taken, groups + 1
        if taken < group.num_rows:
            break
    if rows == 0 and metadata.num_rows > 0:
        if pages > MAX_UNCOMPRESSED_BYTES:
            why = (
                f"the row group with its first rows holds {pages:,} bytes once decompressed, "
                f"and Studio decompresses at most {MAX_UNCOMPRESSED_BYTES:,} bytes of a table"
            )
        else:
            why = f"one row takes {row_bytes:,} bytes, over the {MAX_DECODED_BYTES:,} it decodes"
        raise PayloadTooLarge(
            f"parquet artifact {uri!r} is too big to preview: {why}. Read it with pandas."
        )
    return rows, groups


def _read(document: pq.ParquetFile, rows: int, groups: int) -> pa.Table:
    if rows == 0:
        return document.schema_arrow.empty_table()
    # One thread: a preview is small, and the server's other requests need the cores.
    batches = document.iter_batches(
        batch_size=rows, row_groups=list(range(groups)), use_threads=False
    )
    read: list[pa.RecordBatch] = []
    while sum(batch.num_rows for batch in read) < rows:
        read.append(next(batches))
    return pa.Table.from_batches(read, document.schema_arrow).slice(0, rows)


def _decode_text(uri: str, table: pa.Table, schema: pa.Schema, row_bytes: int) -> pa.Table:
    """The leading rows whose values, text included, fit the budget, with text decoded."""
    decoded = [
        pa.types.is_dictionary(column.type) and not pa.types.is_dictionary(field.type)
        for column, field in zip(table.columns, schema, strict=True)
    ]
    sizes = np.full(table.num_rows, row_bytes, dtype=np.int64)
    for column, decode in zip(table.columns, decoded, strict=True):
        if decode:
            sizes += _text_bytes(column)
    rows = int(np.searchsorted(np.cumsum(sizes), MAX_DECODED_BYTES, side="right"))
    if rows == 0 and table.num_rows > 0:
        raise PayloadTooLarge(
            f"parquet artifact {uri!r} is too big to preview: its first row decodes to "
            f"{int(sizes[0]):,} bytes, and Studio decodes at most {MAX_DECODED_BYTES:,} "
            "bytes of a table. Read it with pandas."
        )
    table = table.slice(0, rows)
    return pa.table(
        [
            column.cast(field.type) if decode else column
            for column, field, decode in zip(table.columns, schema, decoded, strict=True)
        ],
        schema=schema,
    )


def _text_bytes(column: pa.ChunkedArray) -> np.ndarray:
    """Bytes of text in each row of a dictionary-encoded column, counted before decoding."""
    lengths = [
        pc.take(pc.binary_length(chunk.dictionary), chunk.indices)
        .fill_null(0)
        .to_numpy()
        .astype(np.int64)
        for chunk in column.chunks
    ]
    return np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
