"""Read captured inference records of a time window and turn them into table rows.

Capture files live at ``<capture-uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl``
(UTC hour of the invocation), one reference record per line. A record's input is decoded
by its encoding and observed content type (CSV, JSON, or either wrapped in BASE64); a
user's ``preprocess_handler`` may replace that decoding. Records that cannot be read are
counted and described, never silently dropped.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import importlib.util
import inspect
import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import fsspec
import orjson
import pyarrow as pa

from slipway.errors import SlipwayError

ROWS_PER_BATCH = 50_000
_EXAMPLES = 5
log = logging.getLogger("slipway.monitor.preprocessor")


class Unparseable(Exception):
    """One captured record that cannot be turned into a row."""


class ScriptFailed(SlipwayError):
    """A user's pre- or post-processing script could not be loaded or raised."""

    code = "ScriptFailed"


@dataclass
class CapturedRecord:
    event_id: str | None
    inference_id: str | None
    inference_time: dt.datetime | None
    endpoint_input: dict[str, Any] | None
    endpoint_output: dict[str, Any] | None
    source: str  # "<file>:<line>", for messages


@dataclass
class ReadReport:
    """What reading a window found: files, records, and those that could not be read."""

    files: int = 0
    records: int = 0
    dropped: int = 0  # by the preprocessor, on purpose
    unparseable: int = 0
    examples: list[str] = field(default_factory=list)

    def bad(self, source: str, problem: str) -> None:
        self.unparseable += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(f"{source}: {problem}")


# --- finding and reading files --------------------------------------------------------------


def hours(start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    hour = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield hour
        hour += dt.timedelta(hours=1)


def capture_files(root: str, prefix: str, start: dt.datetime, end: dt.datetime) -> list[str]:
    """The .jsonl files of ``<root>/<prefix>/<any variant>/`` for the hours of a window."""
    fs, base = fsspec.core.url_to_fs(root.rstrip("/"))
    found: list[str] = []
    for hour in hours(start, end):
        pattern = f"{base}/{prefix}/*/{hour:%Y/%m/%d/%H}/*.jsonl"
        found.extend(fs.glob(pattern))
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return [p if protocol == "file" else f"{protocol}://{p}" for p in sorted(found)]


def dated_files(root: str, start: dt.datetime) -> list[str]:
    """The .jsonl files of ``<root>/yyyy/mm/dd/hh/`` from the hour of ``start`` on."""
    fs, base = fsspec.core.url_to_fs(root.rstrip("/"))
    first = start.astimezone(dt.UTC).strftime("%Y/%m/%d/%H")
    found = []
    # One listing of the dated folders, rather than one look-up per hour since start.
    for path in fs.glob(f"{base}/*/*/*/*/*.jsonl"):
        hour = "/".join(path.rsplit("/", 5)[1:5])
        if hour >= first:
            found.append(path)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return [p if protocol == "file" else f"{protocol}://{p}" for p in sorted(found)]


def read_records(
    files: list[str], start: dt.datetime, end: dt.datetime, report: ReadReport
) -> Iterator[CapturedRecord]:
    for uri in files:
        report.files += 1
        with fsspec.open(uri, "rb") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                source = f"{uri}:{number}"
                report.records += 1
                try:
                    record = _record(orjson.loads(line), source)
                except (orjson.JSONDecodeError, Unparseable, TypeError, ValueError) as error:
                    report.bad(source, _problem(error))
                    continue
                if record.inference_time is None or start <= record.inference_time < end:
                    yield record
                else:
                    report.records -= 1


def _problem(error: Exception) -> str:
    if isinstance(error, orjson.JSONDecodeError):
        return f"not a JSON record ({error})"
    return str(error)


def _record(raw: Any, source: str) -> CapturedRecord:
    if not isinstance(raw, dict) or not isinstance(raw.get("captureData"), dict):
        raise Unparseable("no captureData object in the record")
    data = raw["captureData"]
    meta = raw.get("eventMetadata") or {}
    return CapturedRecord(
        event_id=meta.get("eventId"),
        inference_id=meta.get("inferenceId"),
        inference_time=_time(meta.get("inferenceTime")),
        endpoint_input=data.get("endpointInput"),
        endpoint_output=data.get("endpointOutput"),
        source=source,
    )


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unparseable(f"inferenceTime {value!r} is not an ISO-8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# --- decoding one side of a record ----------------------------------------------------------

Row = list[Any] | dict[str, Any]


def decode(side: dict[str, Any] | None, what: str = "endpointInput") -> list[Row]:
    """The rows of one side of a record: positional lists (CSV) or named dicts (JSON)."""
    if not isinstance(side, dict) or "data" not in side:
        raise Unparseable(f"the record has no {what}.data")
    text, kind = text_of(side)
    if kind == "csv":
        rows = [
            [value if value != "" else None for value in row]
            for row in csv.reader(io.StringIO(text))
            if row
        ]
        if not rows:
            raise Unparseable(f"{what} holds no CSV values")
        return rows
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise Unparseable(f"{what} is not valid JSON ({error})") from None
    return _json_rows(payload, what)


def text_of(side: dict[str, Any]) -> tuple[str, str]:
    data = side.get("data")
    if not isinstance(data, str):
        raise Unparseable("data is not a string")
    encoding = str(side.get("encoding", "CSV")).upper()
    content_type = str(side.get("observedContentType", "")).lower()
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise Unparseable("BASE64 data does not decode to UTF-8 text") from None
        if "json" in content_type:
            return data, "json"
        if "csv" in content_type or content_type.startswith("text/plain"):
            return data, "csv"
        raise Unparseable(f"content type {content_type!r} is neither CSV nor JSON")
    if encoding == "JSON":
        return data, "json"
    if encoding == "CSV":
        return data, "csv"
    raise Unparseable(f"encoding {encoding!r} is not CSV, JSON or BASE64")


def _json_rows(payload: Any, what: str) -> list[Row]:
    if isinstance(payload, dict):
        for key in ("instances", "features"):
            if key in payload:
                return _json_rows(payload[key], what)
        return [payload]
    if isinstance(payload, list) and payload:
        if all(isinstance(item, dict) for item in payload):
            return list(payload)
        if all(isinstance(item, list) for item in payload):
            return list(payload)
        if not any(isinstance(item, dict | list) for item in payload):
            return [payload]
    raise Unparseable(f"{what} JSON is neither an object, a list of objects nor of values")


# --- the user's preprocessor ----------------------------------------------------------------


def load_script(uri: str, function: str) -> Callable[..., Any]:
    """Load ``function`` from a script at any artifact URI or local path."""
    try:
        with fsspec.open(uri, "rb") as stream:
            source = stream.read()
    except (OSError, ValueError) as error:
        raise ScriptFailed(f"cannot read the script {uri}: {error}") from None
    folder = Path(tempfile.mkdtemp(prefix="slipway-script-"))
    path = folder / "user_script.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location(f"slipway_user_script_{id(path)}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ScriptFailed(f"the script {uri} failed to load: {error!r}") from None
    handler = getattr(module, function, None)
    if not callable(handler):
        raise ScriptFailed(f"the script {uri} defines no function {function}()")
    return handler


def preprocessor(uri: str) -> Callable[[CapturedRecord], list[Row]]:
    """Wrap a ``preprocess_handler(inference_record[, logger])`` as a record decoder."""
    handler = load_script(uri, "preprocess_handler")
    takes_logger = len(inspect.signature(handler).parameters) >= 2

    def apply(record: CapturedRecord) -> list[Row]:
        argument = _inference_record(record)
        try:
            result = handler(argument, log) if takes_logger else handler(argument)
        except Exception as error:
            raise ScriptFailed(
                f"the record preprocessor raised {error!r} on record {record.event_id} "
                f"({record.source})"
            ) from None
        if result is None or result == []:
            return []
        if isinstance(result, dict):
            return [_positional(result)]
        if isinstance(result, list) and all(isinstance(r, dict) for r in result):
            return [_positional(r) for r in result]
        raise ScriptFailed(
            f"the record preprocessor returned {type(result).__name__} for record "
            f"{record.event_id}; return a flat dict of column values, or [] to drop it"
        )

    return apply


def _positional(row: dict[str, Any]) -> Row:
    """Zero-padded index keys ("0000", "0001") stand for positions, as in the reference."""
    if row and all(isinstance(k, str) and k.isdigit() for k in row):
        return [row[k] for k in sorted(row, key=int)]
    return row


def _side(side: dict[str, Any] | None) -> SimpleNamespace | None:
    if side is None:
        return None
    return SimpleNamespace(
        data=side.get("data"),
        encoding=side.get("encoding"),
        observedContentType=side.get("observedContentType"),
        mode=side.get("mode"),
    )


def _inference_record(record: CapturedRecord) -> SimpleNamespace:
    return SimpleNamespace(
        endpoint_input=_side(record.endpoint_input),
        endpoint_output=_side(record.endpoint_output),
        event_metadata=SimpleNamespace(
            event_id=record.event_id,
            inference_id=record.inference_id,
            event_time=record.inference_time.isoformat() if record.inference_time else None,
        ),
        event_version="0",
        ground_truth=None,
    )


# --- rows into Arrow batches ----------------------------------------------------------------


def batches(
    rows: Iterator[Row], names: list[str], size: int = ROWS_PER_BATCH
) -> Iterator[pa.RecordBatch]:
    """Group rows into record batches; positions take the baseline's column names."""
    pending: list[Row] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= size:
            yield _batch(pending, names)
            pending = []
    if pending:
        yield _batch(pending, names)


def _batch(rows: list[Row], names: list[str]) -> pa.RecordBatch:
    columns: dict[str, list[Any]] = {}
    for index, row in enumerate(rows):
        items = (
            row.items()
            if isinstance(row, dict)
            else ((names[i] if i < len(names) else f"_c{i}", v) for i, v in enumerate(row))
        )
        for name, value in items:
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * index
            column.append(value)
        for column in columns.values():
            if len(column) <= index:
                column.append(None)
    return pa.RecordBatch.from_pydict({n: _array(v) for n, v in columns.items()})


def _array(values: list[Any]) -> pa.Array:
    try:
        array = pa.array(values)
        if pa.types.is_struct(array.type) or pa.types.is_list(array.type):
            raise pa.ArrowInvalid("nested")
        return array
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array(
            [
                None if v is None else (v if isinstance(v, str) else orjson.dumps(v).decode())
                for v in values
            ],
            pa.string(),
        )
