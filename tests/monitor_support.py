"""What the Model Monitor tests share: an embedded platform in a temporary home, capture
files written in the reference format, and small data sets with known statistics."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

SETTINGS_VARIABLES = (
    "SLIPWAY_HOME",
    "SLIPWAY_DATABASE_URL",
    "SLIPWAY_ARTIFACT_URI",
    "SLIPWAY_SERVER_URL",
    "SLIPWAY_TOKEN",
)
HOUR = dt.datetime(2024, 3, 5, 14, tzinfo=dt.UTC)


def reload_platform() -> None:
    from slipway.platform import reset
    from slipway.settings import reload_settings

    reload_settings()
    reset()


@contextmanager
def platform(home: Path, server_url: str | None = None, **variables: str) -> Iterator[Any]:
    """Settings pointing at ``home`` (or a server); yields the monitor backend."""
    from slipway.monitor.sdk import monitor_backend

    with pytest.MonkeyPatch.context() as env:
        for name in SETTINGS_VARIABLES:
            env.delenv(name, raising=False)
        env.setenv("SLIPWAY_HOME", str(home))
        if server_url:
            env.setenv("SLIPWAY_SERVER_URL", server_url)
        for name, value in variables.items():
            env.setenv(name, value)
        reload_platform()
        try:
            yield monitor_backend()
        finally:
            reload_platform()


def table(rows: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """age (int, some missing), income (float), state (category), score (float)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": pd.array(rng.integers(18, 90, rows), dtype="Int64"),
            "income": rng.normal(50_000 + shift, 12_000, rows).round(2),
            "state": rng.choice(["CA", "NY", "TX", "WA"], rows, p=[0.4, 0.3, 0.2, 0.1]),
            "score": rng.random(rows),
        }
    )
    frame.loc[rng.random(rows) < 0.02, "age"] = pd.NA
    return frame


def csv_line(values: list[Any]) -> str:
    return ",".join("" if pd.isna(v) else str(v) for v in values)


def record(
    data: str,
    encoding: str = "CSV",
    content_type: str = "text/csv",
    output: str | None = "0.5",
    output_type: str = "text/csv",
    when: dt.datetime = HOUR,
    event_id: str | None = None,
    inference_id: str | None = None,
) -> dict[str, Any]:
    """One capture record, as the reference writes it."""
    capture: dict[str, Any] = {
        "endpointInput": {
            "observedContentType": content_type,
            "mode": "INPUT",
            "data": data,
            "encoding": encoding,
        }
    }
    if output is not None:
        capture["endpointOutput"] = {
            "observedContentType": output_type,
            "mode": "OUTPUT",
            "data": output,
            "encoding": "JSON" if "json" in output_type else "CSV",
        }
    meta = {
        "eventId": event_id or str(uuid.uuid4()),
        "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if inference_id:
        meta["inferenceId"] = inference_id
    return {"captureData": capture, "eventMetadata": meta, "eventVersion": "0"}


def base64_record(text: str, content_type: str, **kwargs: Any) -> dict[str, Any]:
    return record(base64.b64encode(text.encode()).decode(), "BASE64", content_type, **kwargs)


def write_capture(
    root: Path,
    endpoint: str,
    lines: list[dict[str, Any] | str],
    when: dt.datetime = HOUR,
    variant: str = "AllTraffic",
) -> Path:
    """A capture file at <root>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm-uuid>.jsonl."""
    folder = root / endpoint / variant / f"{when:%Y/%m/%d/%H}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{when:%M-%S}-000-{uuid.uuid4()}.jsonl"
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return path


def csv_captures(frame: pd.DataFrame, when: dt.datetime = HOUR) -> list[dict[str, Any]]:
    return [
        record(csv_line(list(row)), when=when + dt.timedelta(seconds=i % 3600))
        for i, row in enumerate(frame.itertuples(index=False))
    ]
