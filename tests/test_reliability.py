"""Reliability under load and crashes: many writer processes, a server killed mid-stream.

Everything here runs as real OS processes: metric loggers started as scripts, a uvicorn
server killed with SIGKILL and started again on the same database.
"""

from __future__ import annotations

import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from _workers import metric_timestamps, metric_values
from helpers import free_port, run_server_process
from slipway._http import HttpClient
from slipway.experiments.client import RemoteExperiments
from slipway.experiments.models import MetricPoint
from slipway.experiments.tables import metric_points
from slipway.platform import Services, services
from slipway.settings import Settings

WORKERS = 8
POINTS_PER_WORKER = 10_000
WORKER = [sys.executable, str(Path(__file__).with_name("_workers.py"))]

CLIENT_THREADS = 4
POINTS_PER_BATCH = 50
MAX_BATCHES_PER_THREAD = 2_000
ACKNOWLEDGED_BEFORE_KILL = 40


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("fresh_postgres_database")
    return f"sqlite:///{tmp_path / 'slipway.db'}"


def _slipway_env(database_url: str, home: Path) -> dict[str, str]:
    """Settings of a child process; empty values switch off what the parent may have set."""
    return {
        "SLIPWAY_HOME": str(home),
        "SLIPWAY_DATABASE_URL": database_url,
        "SLIPWAY_ARTIFACT_URI": str(home / "artifacts"),
        "SLIPWAY_SERVER_URL": "",
        "SLIPWAY_TOKEN": "",
    }


def _embedded(database_url: str, home: Path) -> Services:
    """The services of the database, in this process (the embedded SDK's backend)."""
    return services(Settings(database_url=database_url, artifact_uri=str(home / "artifacts")))


# --- many processes, one trial component ------------------------------------------------


@pytest.mark.slow
def test_eight_processes_logging_into_one_component_store_every_point_and_exact_summaries(
    database_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, **_slipway_env(database_url, tmp_path)}
    platform = _embedded(database_url, tmp_path)
    platform.experiments.create_trial_component("shared-component")
    go_file = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [*WORKER, "log-metrics", "shared-component", str(w), str(POINTS_PER_WORKER), go_file],
            env=env,
        )
        for w in range(WORKERS)
    ]
    go_file.touch()
    exit_codes = [worker.wait(timeout=120) for worker in workers]

    values = [v for w in range(WORKERS) for v in metric_values(w, POINTS_PER_WORKER)]
    with platform.database.read() as conn:
        stored_rows = conn.scalar(sa.select(sa.func.count()).select_from(metric_points))
    stored = platform.experiments.get_metric_series("shared-component", "loss")
    (summary,) = platform.experiments.get_trial_component("shared-component").metrics
    platform.database.dispose()

    assert exit_codes == [0] * WORKERS
    assert stored_rows == WORKERS * POINTS_PER_WORKER
    assert sorted(p.value for p in stored) == sorted(values)
    assert summary.count == len(values)
    assert (summary.min, summary.max) == (min(values), max(values))
    assert summary.last == metric_values(WORKERS - 1, POINTS_PER_WORKER)[-1]
    assert summary.time_stamp.timestamp() == metric_timestamps(WORKERS - 1, POINTS_PER_WORKER)[-1]
    assert summary.avg == pytest.approx(statistics.fmean(values), rel=1e-9)
    assert summary.std_dev == pytest.approx(statistics.stdev(values), rel=1e-9)


def test_metric_values_too_large_or_small_to_square_leave_the_summary_exact(
    database_url: str, tmp_path: Path
) -> None:
    platform = _embedded(database_url, tmp_path)
    platform.experiments.create_trial_component("extreme")
    values = [1e308, -1e308, 1e-300, -5e-324, math.inf, math.nan, 2.0, 4.0]

    for i, value in enumerate(values):  # one batch each: the database merges every summary
        point = MetricPoint(metric_name="m", value=value, timestamp=1_700_000_000 + i)
        platform.experiments.log_metrics("extreme", [point])
    stored = platform.experiments.get_metric_series("extreme", "m")
    (summary,) = platform.experiments.get_trial_component("extreme").metrics
    platform.database.dispose()

    assert [p.value for p in stored] == pytest.approx(values, nan_ok=True)
    assert (summary.count, summary.min, summary.max, summary.last) == (2, 2.0, 4.0, 4.0)
    assert (summary.avg, summary.std_dev) == (3.0, pytest.approx(math.sqrt(2)))


# --- a server killed mid-stream ---------------------------------------------------------


def _start_server(
    database_url: str, home: Path
) -> tuple[AbstractContextManager[subprocess.Popen[bytes]], str]:
    """A uvicorn server on the database (a context manager), and its URL."""
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "--factory", "slipway.server.app:create_app"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    server = run_server_process(args, _slipway_env(database_url, home), port)
    return server, f"http://127.0.0.1:{port}"


def _batch(thread: int, seq: int) -> dict:
    """A batch whose values say which batch they came from: thread * 1e6 + seq * 1e3 + i."""
    first = thread * 1_000_000 + seq * 1_000
    points = [
        {"MetricName": "m", "Value": first + i, "Timestamp": 1_700_000_000 + first + i}
        for i in range(POINTS_PER_BATCH)
    ]
    return {"Metrics": points, "BatchId": f"batch-{thread}-{seq}"}


def _send_batches(
    base_url: str, thread: int, acknowledged: list[dict], stop: threading.Event
) -> None:
    """Post batches until told to stop or the server goes away; keep those answered 200."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for seq in range(MAX_BATCHES_PER_THREAD):
            if stop.is_set():
                return
            batch = _batch(thread, seq)
            try:
                response = client.post("/api/v1/trial-components/victim/metrics", json=batch)
            except httpx.TransportError:
                return
            if response.status_code == 200:
                acknowledged.append(batch)


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(0.01)


@pytest.mark.slow
def test_every_batch_acknowledged_before_a_sigkill_is_stored_after_restart(
    database_url: str, tmp_path: Path
) -> None:
    acknowledged: list[dict] = []
    stop = threading.Event()
    server, url = _start_server(database_url, tmp_path)
    with server as process:
        created = httpx.post(
            f"{url}/api/v1/trial-components", json={"TrialComponentName": "victim"}
        )
        created.raise_for_status()
        senders = [
            threading.Thread(target=_send_batches, args=(url, t, acknowledged, stop))
            for t in range(CLIENT_THREADS)
        ]
        for sender in senders:
            sender.start()
        try:
            _wait_for(lambda: len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL, timeout=60)
            os.killpg(process.pid, signal.SIGKILL)
        finally:
            stop.set()
            for sender in senders:
                sender.join(timeout=30)
        assert process.wait(timeout=10) == -signal.SIGKILL

    server, url = _start_server(database_url, tmp_path)
    with server, httpx.Client(base_url=f"{url}/api/v1") as client:
        series = RemoteExperiments(HttpClient(url)).get_metric_series("victim", "m")
        points = [point.to_wire() for point in series]
        count = client.get("/trial-components/victim").json()["Metrics"][0]["Count"]
        resent = client.post("/trial-components/victim/metrics", json=acknowledged[0])
        count_after_resend = client.get("/trial-components/victim").json()["Metrics"][0]["Count"]

    stored = Counter(p["Value"] for p in points)
    points_per_batch = Counter(int(value) // 1_000 for value in stored)
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    assert all(stored[point["Value"]] == 1 for batch in acknowledged for point in batch["Metrics"])
    assert set(points_per_batch.values()) == {POINTS_PER_BATCH}  # whole batches or nothing
    assert max(stored.values()) == 1
    assert count == len(points)
    assert (resent.status_code, resent.json()) == (200, {"Stored": 0})
    assert count_after_resend == count
