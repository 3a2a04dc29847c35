"""Records of batch transform: JSONPath filters, joining output to input, splitting answers.

The reference's rules (DataProcessing): CSV rows are treated as JSON arrays, so index
paths such as ``$[1:]`` pick columns; ``JoinSource=Input`` appends the output to a CSV
row, adds it under ``SageMakerOutput`` to a JSON object, or wraps any other JSON value as
``{"SageMakerInput": ..., "SageMakerOutput": ...}``.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from typing import Any

import orjson

from slipway.errors import ValidationError
from slipway.inference import codecs

CSV = "text/csv"
JSON = "application/json"
_JSON_TYPES = ("application/json", "application/jsonlines", "application/x-jsonlines")


class RecordError(ValidationError):
    """A record cannot be filtered, joined or matched to the model's answer."""


@dataclass(frozen=True)
class Record:
    line: int  # 1-based line number in its input file
    raw: bytes


def is_csv(content_type: str | None) -> bool:
    return codecs.media_type(content_type) == CSV


def is_json(content_type: str | None) -> bool:
    return codecs.media_type(content_type) in _JSON_TYPES


# --- parsing and writing one record -------------------------------------------------------


def parse(raw: bytes, csv_mode: bool) -> Any:
    """A record as a JSON value: a CSV row is a list of its (string) cells."""
    text = raw.decode("utf-8")
    if csv_mode:
        return next(csv.reader([text]), [])
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise RecordError(f"the record is not valid JSON: {error}") from None


def dump(value: Any, csv_mode: bool) -> bytes:
    """A JSON value as a record: a CSV row (lists, or one cell) or one line of JSON."""
    if csv_mode:
        cells = value if isinstance(value, list) else [value]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow([_cell(cell) for cell in cells])
        return buffer.getvalue().encode()
    return orjson.dumps(value)


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


# --- JSONPath filters -------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _compiled(path: str) -> Any:
    from jsonpath_ng.ext import parse as parse_path

    return parse_path(path)


def _selects_many(path: str) -> bool:
    return any(mark in path for mark in ("*", ":", ","))


def apply_filter(path: str, value: Any) -> Any:
    """The part of ``value`` that the JSONPath selects; several matches make a list."""
    if path == "$":
        return value
    matches = [match.value for match in _compiled(path).find(value)]
    if _selects_many(path):
        return matches
    if not matches:
        raise RecordError(f"JSONPath {path!r} selects nothing in the record")
    return matches[0]


# --- the model's answer, record by record ---------------------------------------------


def split_answer(body: bytes, content_type: str, count: int) -> list[bytes] | None:
    """One piece of the answer per input record, or None when it cannot be told apart.

    CSV and JSON lines answers have a line per record; a JSON answer is a list (or
    ``{"predictions": [...]}``) with an item per record.
    """
    kind = codecs.media_type(content_type)
    if kind == JSON:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if isinstance(value, dict) and len(value) == 1:
            value = next(iter(value.values()))
        if isinstance(value, list) and len(value) == count:
            return [orjson.dumps(item) for item in value]
        return [body] if count == 1 else None
    lines = body.decode("utf-8", "replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) == count:
        return [line.encode() for line in lines]
    return [body] if count == 1 else None


def parse_answer(piece: bytes, content_type: str, csv_mode: bool) -> Any:
    """One record's answer as a JSON value (a CSV answer becomes a list of cells)."""
    kind = codecs.media_type(content_type)
    if kind == JSON:
        return orjson.loads(piece)
    text = piece.decode("utf-8", "replace").strip()
    if csv_mode or kind == CSV:
        cells = next(csv.reader([text]), [])
        return cells if csv_mode or len(cells) != 1 else _scalar(cells[0])
    return _scalar(text)


def _scalar(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def join(source: Any, answer: Any, csv_mode: bool) -> Any:
    """The input record with its answer, as ``JoinSource=Input`` puts them together."""
    if csv_mode:
        row = source if isinstance(source, list) else [source]
        return row + (answer if isinstance(answer, list) else [answer])
    if isinstance(source, dict):
        return {**source, "SageMakerOutput": answer}
    return {"SageMakerInput": source, "SageMakerOutput": answer}
