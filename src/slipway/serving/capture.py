"""Data capture: sampled requests and responses as JSON lines, in the reference layout.

Each line is one invocation::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "1,2,3", "encoding": "CSV"},
                     "endpointOutput": {...  "mode": "OUTPUT" ...}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2019-12-04T17:25:49Z"},
     "eventVersion": "0"}

and files land under ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/`` (UTC hour
of the invocation) named ``<mm>-<ss>-<mmm>-<uuid>.jsonl``. Content types listed in the
config's CsvContentTypes / JsonContentTypes are written as text; anything else base64.

The request path only appends a tuple to a deque. A background thread per worker
process turns records into lines, appends them to local spool files, one per
(destination, endpoint, variant, hour), and moves a file to its destination when the
hour turns, when it is older than ``capture_flush_interval`` seconds, and on shutdown
(``close``). Moves to local folders are atomic renames, so a reader (Model Monitor) never
sees half a file; a failed upload stays in the spool and is tried again.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import fsspec
import orjson

from slipway.inference._fetch import local_path
from slipway.serving.spec import CaptureSpec

log = logging.getLogger("slipway.serving.capture")


@dataclass
class _File:
    local: Path
    remote: str
    destination: str
    handle: IO[bytes]
    opened: float


class CaptureWriter:
    """Writes the sampled invocations of one process, off the request path."""

    def __init__(self, flush_interval: float = 60.0, spool_dir: Path | None = None) -> None:
        self.flush_interval = flush_interval
        self._spool = Path(spool_dir or tempfile.mkdtemp(prefix="slipway-capture-"))
        self._spool.mkdir(parents=True, exist_ok=True)
        self._queue: deque[tuple[Any, ...]] = deque()
        self._files: dict[tuple[str, str, str, str], _File] = {}
        self._failed: list[_File] = []
        self._wake = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()  # one drain at a time: the thread's or close()'s
        self._thread = threading.Thread(target=self._run, name="slipway-capture", daemon=True)
        self._thread.start()

    def record(
        self,
        capture: CaptureSpec,
        endpoint: str,
        variant: str,
        request: bytes,
        request_type: str | None,
        response: bytes,
        response_type: str | None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
    ) -> None:
        """Queue one invocation (the caller has decided it is sampled)."""
        self._queue.append(
            (
                capture, endpoint, variant, request, request_type, response, response_type,
                inference_id, custom_attributes, time.time(),
            )
        )  # fmt: skip
        if len(self._queue) > 512:
            self._wake.set()

    def flush(self) -> None:
        """Write what is queued and move every open file to its destination."""
        with self._lock:
            self._drain()
            for key in list(self._files):
                self._finish(self._files.pop(key))
            self._retry()

    def close(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()
        shutil.rmtree(self._spool, ignore_errors=True)

    # --- the background thread --------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(0.25)
            self._wake.clear()
            with self._lock:
                self._drain()
                self._rotate(time.time())

    def _drain(self) -> None:
        touched = set()
        while self._queue:
            record = self._queue.popleft()
            file = self._file_for(record)
            file.handle.write(_line(record))
            touched.add(id(file))
        for file in self._files.values():
            if id(file) in touched:
                file.handle.flush()

    def _file_for(self, record: tuple[Any, ...]) -> _File:
        capture, endpoint, variant, *_, when = record
        hour = time.strftime("%Y/%m/%d/%H", time.gmtime(when))
        key = (capture.destination, endpoint, variant, hour)
        found = self._files.get(key)
        if found is not None:
            return found
        # The hour turned for this endpoint and variant: finish its older files first.
        for other in [k for k in self._files if k[:3] == key[:3]]:
            self._finish(self._files.pop(other))
        stamp = time.gmtime(when)
        name = f"{stamp.tm_min:02d}-{stamp.tm_sec:02d}-{int(when * 1000) % 1000:03d}-"
        name += f"{uuid.uuid4()}.jsonl"
        relative = f"{endpoint}/{variant}/{hour}/{name}"
        local = self._spool / uuid.uuid4().hex
        file = _File(
            local=local,
            remote=f"{capture.destination.rstrip('/')}/{relative}",
            destination=capture.destination,
            handle=local.open("wb"),
            opened=time.monotonic(),
        )
        self._files[key] = file
        return file

    def _rotate(self, _now: float) -> None:
        limit = time.monotonic() - self.flush_interval
        for key in [k for k, f in self._files.items() if f.opened <= limit]:
            self._finish(self._files.pop(key))
        self._retry()

    def _finish(self, file: _File) -> None:
        file.handle.close()
        try:
            _move(file.local, file.remote)
        except Exception as error:  # the destination may be down; keep the file and retry
            log.warning("data capture: cannot write %s yet: %s", file.remote, error)
            self._failed.append(file)

    def _retry(self) -> None:
        failed, self._failed = self._failed, []
        for file in failed:
            self._finish(file)


def _move(local: Path, remote: str) -> None:
    path = local_path(remote)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        shutil.copyfile(local, partial)
        os.replace(partial, path)
    else:
        fs, target = fsspec.core.url_to_fs(remote)
        fs.put_file(str(local), target)
    with contextlib.suppress(FileNotFoundError):
        local.unlink()


def _side(capture: CaptureSpec, mode: str, body: bytes, content_type: str | None) -> dict:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in capture.csv_types:
        data, encoding = body.decode("utf-8", errors="replace"), "CSV"
    elif kind in capture.json_types:
        data, encoding = body.decode("utf-8", errors="replace"), "JSON"
    else:
        data, encoding = base64.b64encode(body).decode("ascii"), "BASE64"
    return {
        "observedContentType": content_type or "",
        "mode": mode,
        "data": data,
        "encoding": encoding,
    }


def _line(record: tuple[Any, ...]) -> bytes:
    (
        capture, _endpoint, _variant, request, request_type, response, response_type,
        inference_id, custom_attributes, when,
    ) = record  # fmt: skip
    data: dict[str, Any] = {}
    if capture.capture_input:
        data["endpointInput"] = _side(capture, "INPUT", request, request_type)
    if capture.capture_output:
        data["endpointOutput"] = _side(capture, "OUTPUT", response, response_type)
    metadata = {
        "eventId": str(uuid.uuid4()),
        "inferenceTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
    }
    if inference_id:
        metadata["inferenceId"] = inference_id
    if custom_attributes:
        metadata["customAttributes"] = custom_attributes
    return (
        orjson.dumps({"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}) + b"\n"
    )
