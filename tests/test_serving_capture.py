"""Data capture files in-process, and the data plane's token check."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from slipway.serving.capture import CaptureWriter
from slipway.serving.dataplane import Forbidden
from slipway.serving.gateway import TokenCache
from slipway.serving.spec import CaptureSpec


def _spec(destination: Path, *, output: bool = True) -> CaptureSpec:
    return CaptureSpec(
        destination=str(destination),
        sampling_percentage=100,
        capture_input=True,
        capture_output=output,
        csv_types=frozenset({"text/csv"}),
        json_types=frozenset({"application/json"}),
    )


def _lines(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.rglob("*.jsonl")) for line in f.open()]


def test_capture_is_flushed_on_close_in_the_reference_layout(tmp_path):
    writer = CaptureWriter(flush_interval=3600, spool_dir=tmp_path / "spool")
    spec = _spec(tmp_path / "capture")
    for index in range(5):
        writer.record(spec, "ep", "AllTraffic", f"{index},1".encode(), "text/csv", b"[0]",
                      "application/json", inference_id=f"id-{index}")  # fmt: skip
    assert not list((tmp_path / "capture").rglob("*.jsonl"))  # still in the spool
    writer.close()
    files = list((tmp_path / "capture").rglob("*.jsonl"))
    assert len(files) == 1
    relative = files[0].relative_to(tmp_path / "capture").parts
    assert relative[:2] == ("ep", "AllTraffic") and len(relative) == 7
    minute, second, millis, _ = files[0].name.split("-", 3)
    assert len(minute) == len(second) == 2 and len(millis) == 3
    lines = _lines(tmp_path / "capture")
    assert [line["eventMetadata"]["inferenceId"] for line in lines] == [f"id-{i}" for i in range(5)]
    assert lines[0]["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert lines[0]["captureData"]["endpointOutput"]["data"] == "[0]"


def test_unlisted_content_types_are_base64_and_modes_are_honoured(tmp_path):
    writer = CaptureWriter(spool_dir=tmp_path / "spool")
    writer.record(_spec(tmp_path / "capture", output=False), "ep", "v", b"\x00\x01",
                  "application/x-npy", b"ignored", "text/csv")  # fmt: skip
    writer.close()
    (line,) = _lines(tmp_path / "capture")
    assert set(line["captureData"]) == {"endpointInput"}
    captured = line["captureData"]["endpointInput"]
    assert captured["encoding"] == "BASE64"
    assert base64.b64decode(captured["data"]) == b"\x00\x01"
    assert captured["observedContentType"] == "application/x-npy"


def test_files_are_moved_after_the_flush_interval(tmp_path):
    writer = CaptureWriter(flush_interval=0.2, spool_dir=tmp_path / "spool")
    writer.record(_spec(tmp_path / "capture"), "ep", "v", b"1", "text/csv", b"2", "text/csv")
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not list((tmp_path / "capture").rglob("*.jsonl")):
        time.sleep(0.1)
    assert _lines(tmp_path / "capture")[0]["captureData"]["endpointInput"]["data"] == "1"
    writer.close()


def test_invocations_take_a_bearer_token_whose_role_may_invoke(tmp_path: Path) -> None:
    from slipway.auth.service import TokenService
    from slipway.store.db import Database

    database = Database(f"sqlite:///{tmp_path / 'slipway.db'}")
    database.upgrade()
    tokens = TokenService(database)
    cache = TokenCache(tokens)
    cache.check({})  # no tokens yet: open
    secret = tokens.create_token("app").token
    cache = TokenCache(tokens)
    cache.check({b"authorization": f"Bearer {secret}".encode()})
    # Signed requests are checked against access keys (tests/test_sagemaker_api.py).
    with pytest.raises(Forbidden, match="not valid"):
        cache.check({b"authorization": b"Bearer wrong"})
    with pytest.raises(Forbidden, match="needs a token"):
        cache.check({})
    viewer = tokens.create_token("dashboard", "viewer").token
    with pytest.raises(Forbidden, match="role 'viewer' may not invoke"):
        cache.check({b"authorization": f"Bearer {viewer}".encode()})
    database.dispose()
