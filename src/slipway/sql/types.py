"""The SQL types a model function takes and returns, and how values cross into SQL.

A model sees three kinds of value: numbers, strings and booleans; a NULL is a missing
value (NaN for numbers and booleans, None for strings). Type names follow Athena
(``DOUBLE``, ``VARCHAR``, ``INTEGER``...) and accept the usual aliases of DuckDB and
PostgreSQL (``INT``, ``DOUBLE PRECISION``, ``STRING``, ``TEXT``...), parsed by sqlglot.

``to_result`` enforces a function's declared RETURNS type on what the model answered:
numbers are cast without loss (0.5 is no INTEGER), strings are no numbers, and a NaN or
None prediction is a SQL NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.sql.errors import SqlError


class Kind(StrEnum):
    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class SqlType:
    """One supported SQL type: its name in statements, its kind and its Arrow type."""

    name: str
    kind: Kind
    arrow: pa.DataType

    def __str__(self) -> str:
        return self.name


_FIXED = {
    "BOOLEAN": SqlType("BOOLEAN", Kind.BOOLEAN, pa.bool_()),
    "TINYINT": SqlType("TINYINT", Kind.NUMBER, pa.int8()),
    "SMALLINT": SqlType("SMALLINT", Kind.NUMBER, pa.int16()),
    "INT": SqlType("INTEGER", Kind.NUMBER, pa.int32()),
    "BIGINT": SqlType("BIGINT", Kind.NUMBER, pa.int64()),
    "FLOAT": SqlType("REAL", Kind.NUMBER, pa.float32()),
    "DOUBLE": SqlType("DOUBLE", Kind.NUMBER, pa.float64()),
    "VARCHAR": SqlType("VARCHAR", Kind.STRING, pa.string()),
    "CHAR": SqlType("VARCHAR", Kind.STRING, pa.string()),
    "NCHAR": SqlType("VARCHAR", Kind.STRING, pa.string()),
    "NVARCHAR": SqlType("VARCHAR", Kind.STRING, pa.string()),
    "TEXT": SqlType("VARCHAR", Kind.STRING, pa.string()),
}
SUPPORTED = "BOOLEAN, TINYINT, SMALLINT, INTEGER, BIGINT, REAL, DOUBLE, DECIMAL(p,s), VARCHAR"
DOUBLE = _FIXED["DOUBLE"]
VARCHAR = _FIXED["VARCHAR"]


def parse_type(text: str) -> SqlType:
    """The SqlType of a type name such as ``DOUBLE``, ``varchar(20)`` or ``DECIMAL(10,2)``."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        parsed = exp.DataType.build(text.strip(), dialect="athena")
    except (SqlglotError, ValueError):
        parsed = None
    kind = parsed.this.name if parsed is not None else ""
    if kind in _FIXED:
        return _FIXED[kind]
    if kind == "DECIMAL":
        digits = [int(e.sql()) for e in parsed.expressions] or [18, 3]
        precision, scale = [*digits, 0][:2]
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise SqlError(f"type {text!r} is not valid: DECIMAL(p,s) needs 1 <= p <= 38, s <= p")
        return SqlType(
            f"DECIMAL({precision},{scale})", Kind.NUMBER, pa.decimal128(precision, scale)
        )
    raise SqlError(
        f"type {text.strip()!r} is not supported for a model function; use one of {SUPPORTED}"
    )


def of_arrow(arrow: pa.DataType) -> SqlType | None:
    """The SqlType of a column DuckDB passed (for functions registered without parameters)."""
    if pa.types.is_null(arrow):
        return DOUBLE
    if pa.types.is_boolean(arrow):
        return _FIXED["BOOLEAN"]
    if pa.types.is_integer(arrow) or pa.types.is_floating(arrow) or pa.types.is_decimal(arrow):
        return SqlType(str(arrow).upper(), Kind.NUMBER, arrow)
    if (
        pa.types.is_string(arrow)
        or pa.types.is_large_string(arrow)
        or pa.types.is_string_view(arrow)
    ):
        return VARCHAR
    return None


# --- model answers -> SQL values --------------------------------------------------------


def to_result(predictions: Any, returns: SqlType, rows: int) -> pa.Array:
    """The predictions as an Arrow array of the declared RETURNS type, NULL for missing."""
    try:
        values = np.asarray(predictions)
    except ValueError:  # ragged: rows of several values
        values = np.asarray(predictions, dtype=object)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        width = values.shape[1] if values.ndim == 2 else "several"
        raise SqlError(
            f"the model answered {width} values per row, but a function returns one "
            f"{returns}; use a model (or an endpoint) that predicts one value per row"
        )
    if len(values) != rows:
        raise SqlError(f"the model answered {len(values)} predictions for {rows} rows")
    if returns.kind is Kind.STRING:
        return _strings(values)
    numbers = _numbers(values, returns)
    if returns.kind is Kind.BOOLEAN:
        return _booleans(numbers, returns)
    return _cast(numbers, returns)


def _strings(values: np.ndarray) -> pa.Array:
    if values.dtype.kind == "f":
        return pc.cast(pa.array(values, from_pandas=True), pa.string())
    if values.dtype.kind == "b":
        return pa.array([None if v is None else ("true" if v else "false") for v in values])
    return pa.array([_string(v) for v in values.tolist()], pa.string())


def _string(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _numbers(values: np.ndarray, returns: SqlType) -> np.ndarray:
    """Float64 values (NaN for missing) or bools; strings that are numbers count as numbers."""
    if values.dtype.kind in "fiub":
        return values
    converted = np.empty(len(values), dtype=np.float64)
    for index, value in enumerate(values.tolist()):
        if value is None:
            converted[index] = np.nan
            continue
        try:
            if isinstance(value, str | bytes):
                converted[index] = float(value)
            elif isinstance(value, int | float):
                converted[index] = value
            else:
                raise TypeError
        except (TypeError, ValueError):
            raise SqlError(
                f"the model answered {value!r}, which is not a {returns}; declare "
                "RETURNS VARCHAR to get the model's answer as text"
            ) from None
    return converted


def _booleans(numbers: np.ndarray, returns: SqlType) -> pa.Array:
    if numbers.dtype.kind == "b":
        return pa.array(numbers)
    floats = numbers.astype(np.float64)
    missing = np.isnan(floats)
    if not np.isin(floats[~missing], (0.0, 1.0)).all():
        bad = floats[~missing][~np.isin(floats[~missing], (0.0, 1.0))][0]
        raise SqlError(
            f"the model answered {bad:g}, which is not a {returns} (0 or 1); declare "
            "RETURNS DOUBLE to get the model's number"
        )
    return pa.array(floats == 1.0, mask=missing)


def _cast(numbers: np.ndarray, returns: SqlType) -> pa.Array:
    array = pa.array(numbers, from_pandas=True)
    if pa.types.is_decimal(returns.arrow):
        array = pc.round(pc.cast(array, pa.float64()), returns.arrow.scale)
    try:
        return pc.cast(array, returns.arrow)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise SqlError(
            f"the model's answer does not fit {returns}: {error}; declare RETURNS DOUBLE"
        ) from None
