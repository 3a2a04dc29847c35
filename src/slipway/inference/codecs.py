"""Request bodies to arrays and predictions to response bodies, for the reference content types.

Inputs: ``text/csv`` (numbers, one row a line, no header), ``application/json`` (a list
of rows, one row, a list of ``{"feature": value}`` records, or any of these under
``"instances"``), ``application/x-npy`` (``numpy.save`` output, no pickles).
Outputs: ``application/json`` (a list; ``{"predictions": [...]}`` when the request used
``"instances"``, as TensorFlow Serving answers), ``text/csv`` (one line per row),
``application/x-npy``.

These functions run on the serving hot path, so they use orjson and plain loops over
``str.split`` rather than pandas, and build a clear message (with the line or row) only
once something has failed.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import orjson

from slipway.inference.errors import BadPayload, NotAcceptable, UnsupportedContentType

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
ANY = "*/*"
DECODABLE = (CSV, JSON, NPY)
ENCODABLE = (JSON, CSV, NPY)


def media_type(header: str | None) -> str:
    """``'text/csv; charset=utf-8'`` -> ``'text/csv'``; missing -> ``''``."""
    if not header:
        return ""
    return header.split(";", 1)[0].strip().lower()


def choose_accept(accept: str | None, default: str = JSON) -> str:
    """The first type of an Accept header that we can produce; ``*/*`` or none -> default."""
    if not accept:
        return default
    for part in accept.split(","):
        kind = media_type(part)
        if kind in ENCODABLE:
            return kind
        if kind in (ANY, "application/*", "text/*"):
            return default if kind == ANY else (JSON if kind == "application/*" else CSV)
    raise NotAcceptable(f"cannot answer in {accept!r}; set Accept to one of {', '.join(ENCODABLE)}")


# --- decoding -------------------------------------------------------------------------


def decode(body: bytes, content_type: str | None) -> tuple[Any, bool]:
    """The rows of a request body as a 2-D array (or DataFrame for JSON records).

    Returns ``(data, wrapped)`` where ``wrapped`` says the JSON body used ``"instances"``.
    """
    kind = media_type(content_type)
    if kind == CSV:
        return decode_csv(body), False
    if kind == JSON:
        return decode_json(body)
    if kind == NPY:
        return decode_npy(body), False
    raise UnsupportedContentType(
        f"Content-Type {content_type or '(none)'!r} is not supported; "
        f"send one of {', '.join(DECODABLE)}"
    )


def _text(body: bytes, kind: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadPayload(f"{kind} body is not UTF-8 text (byte {error.start})") from None


def decode_csv(body: bytes) -> np.ndarray:
    lines = [line for line in _text(body, CSV).splitlines()]
    rows = [line.split(",") for line in lines if line.strip()]
    if not rows:
        raise BadPayload("text/csv body has no rows; send one row of numbers per line")
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        raise BadPayload(_csv_problem(lines)) from None


def _csv_problem(lines: list[str]) -> str:
    """Say which line of a CSV body is wrong, and how."""
    width = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        values = line.split(",")
        if width is None:
            width = len(values)
        elif len(values) != width:
            return (
                f"text/csv body line {number} has {len(values)} values but line 1 has "
                f"{width}; every row needs the same number of comma-separated numbers"
            )
        for column, value in enumerate(values, start=1):
            try:
                float(value)
            except ValueError:
                return (
                    f"text/csv body line {number}, column {column}: {value.strip()[:40]!r} "
                    "is not a number; send numbers only, without a header line"
                )
    return "text/csv body could not be read as rows of numbers"


def decode_json(body: bytes) -> tuple[Any, bool]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadPayload(f"application/json body is not valid JSON: {error}") from None
    wrapped = False
    if isinstance(value, dict):
        if "instances" not in value:
            raise BadPayload(
                "application/json body is an object without 'instances'; send a list of "
                'rows, or {"instances": [[...], ...]}'
            )
        value, wrapped = value["instances"], True
    if not isinstance(value, list) or not value:
        raise BadPayload("application/json body must hold a non-empty list of rows")
    first = value[0]
    if isinstance(first, dict):
        return _records(value), wrapped
    if not isinstance(first, list):
        value = [value]  # one row
    try:
        array = np.array(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise BadPayload(_json_problem(value)) from None
    if array.ndim != 2:
        raise BadPayload(
            f"application/json rows must be lists of numbers; got a {array.ndim}-D array"
        )
    return array, wrapped


def _json_problem(rows: list[Any]) -> str:
    width = len(rows[0]) if isinstance(rows[0], list) else None
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            return f"application/json row {index} is {type(row).__name__}, not a list"
        if len(row) != width:
            return f"application/json row {index} has {len(row)} values but row 0 has {width}"
        for column, item in enumerate(row):
            if isinstance(item, bool) or not isinstance(item, int | float):
                return (
                    f"application/json row {index}, column {column}: {item!r} is not a "
                    'number; send numbers, or rows as {"feature": value} records'
                )
    return "application/json body could not be read as rows of numbers"


def _records(rows: list[Any]) -> Any:
    import pandas as pd

    if not all(isinstance(row, dict) for row in rows):
        raise BadPayload("application/json rows must be all lists or all objects, not both")
    return pd.DataFrame.from_records(rows)


def decode_npy(body: bytes) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise BadPayload(f"application/x-npy body is not a NumPy .npy array: {error}") from None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise BadPayload(f"application/x-npy body must be a 1-D or 2-D array, not {array.ndim}-D")
    return array


# --- encoding -------------------------------------------------------------------------


def encode(prediction: Any, accept: str, wrapped: bool = False) -> tuple[bytes, str]:
    """Encode a prediction (array, list or scalar) as ``accept``; returns (body, type)."""
    if accept == JSON:
        return encode_json(prediction, wrapped), JSON
    if accept == CSV:
        return encode_csv(prediction), CSV
    if accept == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(prediction), allow_pickle=False)
        return buffer.getvalue(), NPY
    raise NotAcceptable(f"cannot answer in {accept!r}; use one of {', '.join(ENCODABLE)}")


def encode_json(prediction: Any, wrapped: bool = False) -> bytes:
    if wrapped:
        prediction = {"predictions": prediction}
    try:
        return orjson.dumps(prediction, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        # Object arrays (string labels) and numpy scalars: fall back to plain lists.
        return orjson.dumps(_plain(prediction))


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def encode_csv(prediction: Any) -> bytes:
    rows = np.asarray(prediction)
    if rows.ndim == 0:
        rows = rows.reshape(1)
    if rows.ndim == 1:
        return "\n".join(map(str, rows.tolist())).encode()
    if rows.ndim == 2:
        return "\n".join(",".join(map(str, row)) for row in rows.tolist()).encode()
    raise NotAcceptable(f"a {rows.ndim}-D prediction cannot be written as text/csv; use JSON")
