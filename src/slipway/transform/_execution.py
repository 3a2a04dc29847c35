"""Running one transform job: files in parallel, records in batches, progress on disk.

Each input file is scored by one worker, batch after batch, into a local part file.
After every batch a marker (input offset, output bytes, records) is written beside it,
and a finished file is uploaded as ``<output_path>/<key>.out`` and recorded in the job.
A rerun after a crash skips recorded files and continues a part file from its marker.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import fsspec

from slipway.errors import NotFound, SlipwayError
from slipway.inference import LoadedModel
from slipway.transform import _records as rec
from slipway.transform.models import (
    AssembleWith,
    BatchStrategy,
    CompressionType,
    CreateTransformJob,
    JoinSource,
    SplitType,
)

_MB = 1024 * 1024


class Stopped(Exception):
    """The job was asked to stop; workers leave between batches."""


class FileFailed(SlipwayError):
    """One input file could not be transformed; the message names the file and line."""


@dataclass(frozen=True)
class InputFile:
    path: str  # in the file system of the data URI
    key: str  # relative to the prefix: the output is ``<key>.out``


def list_inputs(uri: str) -> tuple[Any, list[InputFile]]:
    """The files of a data URI: one file, a folder, or a prefix of names, sorted by key."""
    fs, path = fsspec.core.url_to_fs(uri)
    path = path.rstrip("/")
    if fs.isfile(path):
        return fs, [InputFile(path, os.path.basename(path))]
    if fs.isdir(path):
        base, found = path, fs.find(path)
    else:
        parent = os.path.dirname(path)
        base = parent
        found = [p for p in fs.find(parent) if p.startswith(path)] if fs.isdir(parent) else []
    files = [
        InputFile(p, os.path.relpath(p, base))
        for p in sorted(found)
        if not any(part.startswith(".") for part in os.path.relpath(p, base).split("/"))
    ]
    if not files:
        raise NotFound(f"no input files at {uri!r}; give a file or a folder (prefix) of files")
    return fs, files


class JobRun:
    """The work of one job in this process; callbacks report progress to the service."""

    def __init__(
        self,
        request: CreateTransformJob,
        model: LoadedModel,
        work_dir: Path,
        output_path: str,
        finished: set[str],
        on_file_done: Callable[[str], None],
        stop: threading.Event,
    ) -> None:
        self.request = request
        self.model = model
        self.work_dir = work_dir
        self.output_path = output_path.rstrip("/")
        self.finished = finished
        self.on_file_done = on_file_done
        self.stop = stop
        self.records = 0
        self.records_before = 0
        self._lock = threading.Lock()
        content_type = request.transform_input.content_type
        self.csv_mode = rec.is_csv(content_type)
        self.json_mode = rec.is_json(content_type)
        self.content_type = rec.JSON if self.json_mode else (content_type or rec.CSV)
        processing = request.data_processing
        self.input_filter = processing.input_filter
        self.output_filter = processing.output_filter
        self.join = processing.join_source == JoinSource.INPUT
        if (self.input_filter != "$" or self.join) and not (self.csv_mode or self.json_mode):
            raise FileFailed(
                f"InputFilter and JoinSource need CSV or JSON input, not ContentType "
                f"{content_type!r}; set content_type='text/csv' or 'application/json'"
            )
        self.line_sep = request.transform_output.assemble_with == AssembleWith.LINE

    # --- all files ------------------------------------------------------------------------

    def run(self, fs: Any, files: list[InputFile], workers: int) -> None:
        (self.work_dir / "parts").mkdir(parents=True, exist_ok=True)
        todo = [(i, f) for i, f in enumerate(files) if f.key not in self.finished]
        out_fs, out_root = fsspec.core.url_to_fs(self.output_path)
        out_fs.makedirs(out_root, exist_ok=True)
        with ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="slipway-transform"
        ) as pool:
            futures = [pool.submit(self._file, fs, out_fs, out_root, i, f) for i, f in todo]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                self.stop.set()  # the other workers leave at their next batch
                for future in futures:
                    future.cancel()
                wait(futures)
                errors = [f.exception() for f in futures if f.done() and f.exception()]
                real = [e for e in errors if not isinstance(e, Stopped)]
                raise (real or errors)[0]  # type: ignore[misc]

    # --- one file -------------------------------------------------------------------------

    def _file(self, fs: Any, out_fs: Any, out_root: str, index: int, file: InputFile) -> None:
        part = self.work_dir / "parts" / f"{index}.out"
        marker = self.work_dir / "parts" / f"{index}.json"
        progress = _read_marker(marker, part)
        with fs.open(file.path, "rb") as raw_stream:
            stream: IO[bytes] = raw_stream
            if self.request.transform_input.compression_type == CompressionType.GZIP:
                stream = gzip.GzipFile(fileobj=raw_stream)  # type: ignore[assignment]
            stream.seek(progress["offset"])
            mode = "r+b" if progress["offset"] else "wb"
            with part.open(mode) as out:
                out.truncate(progress["written"])
                out.seek(progress["written"])
                for batch, offset in self._batches(stream, file, progress):
                    if self.stop.is_set():
                        raise Stopped()
                    out.write(self._score(file, batch))
                    out.flush()
                    progress.update(
                        offset=offset, written=out.tell(), line=batch[-1].line,
                        records=progress["records"] + len(batch),
                    )  # fmt: skip
                    _write_marker(marker, progress)
                    with self._lock:
                        self.records += len(batch)
        out_fs.put_file(str(part), f"{out_root}/{file.key}.out")
        self.on_file_done(file.key)
        part.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)

    def _batches(
        self, stream: IO[bytes], file: InputFile, progress: dict[str, int]
    ) -> Iterator[tuple[list[rec.Record], int]]:
        """Batches of records, each with the input offset just after it."""
        limit = self.request.max_payload_in_mb * _MB
        single = self.request.batch_strategy == BatchStrategy.SINGLE_RECORD
        if self.request.transform_input.split_type == SplitType.NONE:
            data = stream.read()
            if data.strip():
                yield [rec.Record(1, data)], progress["offset"] + len(data)
            return
        offset, line, batch, size = progress["offset"], progress["line"], [], 0
        for raw in stream:
            offset += len(raw)
            line += 1
            text = raw.rstrip(b"\r\n")
            if not text.strip():
                continue
            if limit and len(text) > limit:
                raise FileFailed(
                    f"{file.key} line {line}: the record is {len(text) / _MB:.1f} MB, larger "
                    f"than MaxPayloadInMB={self.request.max_payload_in_mb}; raise max_payload"
                )
            if batch and (single or (limit and size + len(text) + 1 > limit)):
                yield batch, offset - len(raw)
                batch, size = [], 0
            batch.append(rec.Record(line, text))
            size += len(text) + 1
        if batch:
            yield batch, offset

    # --- one batch ------------------------------------------------------------------------

    def _score(self, file: InputFile, batch: list[rec.Record]) -> bytes:
        where = (
            f"{file.key} line {batch[0].line}"
            if len(batch) == 1
            else f"{file.key} lines {batch[0].line}-{batch[-1].line}"
        )
        try:
            return self._score_batch(batch)
        except (SlipwayError, UnicodeDecodeError) as error:
            message = getattr(error, "message", str(error))
            raise FileFailed(f"{where}: {message}") from None

    def _score_batch(self, batch: list[rec.Record]) -> bytes:
        sources = None
        if self.input_filter != "$" or self.join or self.json_mode:
            sources = [rec.parse(r.raw, self.csv_mode) for r in batch]
        if self.input_filter != "$":
            pieces = [
                rec.dump(rec.apply_filter(self.input_filter, value), self.csv_mode)
                for value in sources  # type: ignore[union-attr]
            ]
        else:
            pieces = [r.raw for r in batch]
        if self.json_mode and len(pieces) > 1:
            # JSON lines are sent as one JSON array: the model decodes a list of rows.
            payload = b"[" + b",".join(pieces) + b"]"
        else:
            payload = b"\n".join(pieces)
        body, answer_type = self.model.predict(
            payload, self.content_type, self.request.transform_output.accept
        )
        answers = rec.split_answer(body, answer_type, len(batch))
        plain = not self.join and self.output_filter == "$"
        if answers is None:
            if not plain:
                raise rec.RecordError(
                    f"the model answered in a shape that does not give one answer per "
                    f"record ({len(batch)} records); use strategy='SingleRecord'"
                )
            answers = [body]
        if not plain:
            answers = [
                self._joined(answer, answer_type, source)
                for answer, source in zip(answers, sources or [None] * len(answers), strict=True)
            ]
        sep = b"\n" if self.line_sep else b""
        return b"".join(answer + sep for answer in answers)

    def _joined(self, answer: bytes, answer_type: str, source: Any) -> bytes:
        value = rec.parse_answer(answer, answer_type, self.csv_mode and self.join)
        csv_out = self.csv_mode if self.join else rec.is_csv(answer_type)
        if self.join:
            value = rec.join(source, value, self.csv_mode)
        value = rec.apply_filter(self.output_filter, value)
        return rec.dump(value, csv_out)


def _read_marker(marker: Path, part: Path) -> dict[str, int]:
    """Where a file's earlier run got to, if its part file still holds that much."""
    fresh = {"offset": 0, "written": 0, "line": 0, "records": 0}
    try:
        progress = json.loads(marker.read_text())
    except (OSError, ValueError):
        return fresh
    if not part.exists() or part.stat().st_size < progress.get("written", 0):
        return fresh
    return {**fresh, **progress}


def _write_marker(marker: Path, progress: dict[str, int]) -> None:
    temporary = marker.with_suffix(".tmp")
    temporary.write_text(json.dumps(progress))
    os.replace(temporary, marker)
