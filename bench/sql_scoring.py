"""Scoring rows from SQL: vectorised vs per row, and batched vs one row per request.

Run it as ``.venv/bin/python bench/sql_scoring.py [--rows 1000000] [--sample 2000]``. It
writes ``bench/results/sql.md``.

One model (scikit-learn's LogisticRegression on the bundled iris data, saved with skops)
scores the same ``--rows`` rows of four DOUBLE columns in DuckDB, in one run:

1. ``slipway.sql.register(con, ..., model=...)``: the vectorised (Arrow) function, one
   model call per DuckDB vector, in this process;
2. a per-row Python UDF (DuckDB ``native`` function) calling the same loaded model once
   per row;
3. ``slipway.sql.register(con, ..., endpoint=...)`` against a real ``slipway server``
   on 127.0.0.1 serving the model, with ``batch_size=1000`` over all the rows, and with
   ``batch_size=1`` over the first ``--sample`` rows, extrapolated to ``--rows`` (one
   HTTP request per row over a million rows would take most of an hour).

Targets: (1) at least 50x faster than (2); (3) with 1,000 rows per request at least 10x
faster than with 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pandas as pd

import slipway
import slipway.sql
from slipway.inference import load_model

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
VECTOR_TARGET = 50
BATCH_TARGET = 10


def _model(folder: Path) -> Path:
    import skops.io
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    folder.mkdir(parents=True, exist_ok=True)
    skops.io.dump(LogisticRegression(max_iter=500).fit(features, labels), folder / "model.skops")
    return folder


def _rows(count: int) -> pd.DataFrame:
    from sklearn.datasets import load_iris

    features, _ = load_iris(return_X_y=True)
    rng = np.random.default_rng(0)
    picked = features[rng.integers(0, len(features), count)]
    noisy = picked + rng.normal(0, 0.1, picked.shape)
    return pd.DataFrame(noisy, columns=["a", "b", "c", "d"])


@contextmanager
def _server(home: Path):
    """`slipway server` on a free port over a SQLite home; yields its URL."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": ""}
    env.update({"SLIPWAY_DATABASE_URL": "", "SLIPWAY_ARTIFACT_URI": "", "SLIPWAY_TOKEN": ""})
    slipway_command = str(Path(sys.executable).parent / "slipway")
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [slipway_command, "server", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"slipway server did not start; see {home / 'server.log'}")
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        log.close()


def _deploy(url: str, name: str, model_data: str) -> None:
    from slipway._http import HttpClient
    from slipway.serving.client import RemoteServing

    backend = RemoteServing(HttpClient(url))
    backend.create_model(name, {"ModelDataUrl": model_data})
    backend.create_endpoint_config(name, [{"ModelName": name, "VariantName": "AllTraffic"}])
    backend.create_endpoint(name, name)
    deadline = time.monotonic() + 60
    while backend.get_endpoint(name).endpoint_status != "InService":
        if time.monotonic() > deadline:
            raise RuntimeError(f"endpoint {name} did not come InService")
        time.sleep(0.2)


def _timed(con: duckdb.DuckDBPyConnection, function: str, table: str) -> tuple[float, float]:
    """Seconds to score every row of ``table`` with ``function``, and the predictions' sum."""
    started = time.perf_counter()
    [(total,)] = con.sql(f"SELECT sum({function}(a, b, c, d)) FROM {table}").fetchall()
    return time.perf_counter() - started, float(total)


def run(rows: int, sample: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-sql-"))
    model_dir = _model(work / "iris")
    con = duckdb.connect()
    con.register("generated", _rows(rows))
    con.execute("CREATE TABLE scored AS SELECT * FROM generated")
    con.execute(f"CREATE TABLE sample AS SELECT * FROM scored LIMIT {sample}")
    figures: dict = {"rows": rows, "sample": sample, "threads": con.sql(
        "SELECT current_setting('threads')").fetchall()[0][0]}  # fmt: skip

    slipway.sql.register(con, "vectorised", model=str(model_dir))
    model = load_model(str(model_dir))

    def per_row(a: float, b: float, c: float, d: float) -> float:
        return float(model.predict_frame(np.array([[a, b, c, d]]))[0])

    con.create_function("per_row", per_row, ["DOUBLE"] * 4, "DOUBLE", type="native")
    _timed(con, "vectorised", "sample")  # warm: caches, first-call imports
    _timed(con, "per_row", "sample")

    print(f"vectorised DuckDB function, {rows:,} rows ...", flush=True)
    figures["vectorised"] = _timed(con, "vectorised", "scored")
    print(f"  {figures['vectorised'][0]:.2f} s", flush=True)
    print(f"per-row Python UDF, {rows:,} rows ...", flush=True)
    figures["per_row"] = _timed(con, "per_row", "scored")
    print(f"  {figures['per_row'][0]:.2f} s", flush=True)

    with _server(work / "server") as url:
        _deploy(url, "iris", str(model_dir))
        for size in (1000, 1):
            slipway.sql.register(
                con, f"endpoint_{size}", endpoint="iris", server_url=url, batch_size=size
            )
        _timed(con, "endpoint_1000", "sample")  # the server loads the model
        print(f"endpoint, batch size 1000, {rows:,} rows ...", flush=True)
        figures["batch_1000"] = _timed(con, "endpoint_1000", "scored")
        print(f"  {figures['batch_1000'][0]:.2f} s", flush=True)
        print(f"endpoint, batch size 1, {sample:,} rows ...", flush=True)
        figures["batch_1"] = _timed(con, "endpoint_1", "sample")
        figures["batch_1_sample_check"] = _timed(con, "endpoint_1000", "sample")[1]
        print(f"  {figures['batch_1'][0]:.2f} s", flush=True)
    return figures


def _report(figures: dict, load_before: tuple, load_after: tuple) -> str:
    rows, sample = figures["rows"], figures["sample"]
    vectorised, per_row = figures["vectorised"][0], figures["per_row"][0]
    batched = figures["batch_1000"][0]
    single = figures["batch_1"][0] * rows / sample
    same = figures["vectorised"][1] == figures["per_row"][1] == figures["batch_1000"][1]
    same_sample = figures["batch_1"][1] == figures["batch_1_sample_check"]
    vector_ratio, batch_ratio = per_row / vectorised, single / batched

    def line(name: str, measured: int, seconds: float, extrapolated: bool = False) -> str:
        total = seconds * rows / measured
        note = f" ({seconds:.2f} s for {measured:,} rows, x{rows / measured:g})" * extrapolated
        return f"| {name} | {measured:,} | {total:.2f}{note} | {rows / total:,.0f} |"

    return "\n".join(
        [
            "# Scoring rows from SQL: vectorised vs per row, batched vs one row per request",
            "",
            f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- machine: {os.cpu_count()} CPU cores, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}; load average before/after the run: "
            f"{load_before[0]:.1f} / {load_after[0]:.1f} (other work shared the machine)",
            f"- slipway {slipway.__version__}, DuckDB {duckdb.__version__} "
            f"({figures['threads']} threads); model: scikit-learn LogisticRegression on iris "
            "(4 DOUBLE features), saved with skops",
            f"- {rows:,} rows scored in one run by each way; all ways agree on the "
            f"predictions' sum: {'yes' if same and same_sample else 'NO'}",
            "",
            "| way | rows measured | seconds for all rows | rows per second |",
            "| --- | ---: | ---: | ---: |",
            line("vectorised DuckDB function (in process)", rows, vectorised),
            line("per-row Python UDF (in process)", rows, per_row),
            line("endpoint over HTTP, batch size 1,000", rows, batched),
            line("endpoint over HTTP, batch size 1", sample, figures["batch_1"][0], True),
            "",
            "| comparison | speed-up | target | met |",
            "| --- | ---: | --- | --- |",
            f"| vectorised vs per-row UDF | {vector_ratio:,.0f}x | >= {VECTOR_TARGET}x | "
            f"{'yes' if vector_ratio >= VECTOR_TARGET else 'no'} |",
            f"| endpoint batch 1,000 vs batch 1 | {batch_ratio:,.0f}x | >= {BATCH_TARGET}x | "
            f"{'yes' if batch_ratio >= BATCH_TARGET else 'no'} |",
            "",
            "## What each way did",
            "",
            "- **vectorised**: `slipway.sql.register(con, 'vectorised', model=<folder>)`, an "
            "Arrow function: DuckDB hands it vectors of up to 2,048 rows, each scored by one "
            "`LoadedModel.predict_frame` call on a 2-D float array.",
            "- **per-row UDF**: `con.create_function(..., type='native')` of a Python function "
            "that calls the same `LoadedModel.predict_frame` on a one-row array.",
            "- **endpoint**: `slipway.sql.register(con, ..., endpoint='iris', batch_size=N)` "
            "against a `slipway server` (one worker) on 127.0.0.1 serving the same model; rows "
            "go as `text/csv` to `POST /endpoints/iris/invocations`, at most N per request "
            "(each DuckDB vector split into even requests).",
            f"- **batch size 1** was measured on the first {sample:,} rows and extrapolated to "
            f"{rows:,} (one HTTP request per row); every other figure scored all the rows.",
            "- Each query is `SELECT sum(f(a, b, c, d)) FROM t`; warm-up queries on the sample "
            "ran first, so the model is loaded (in this process and in the server) before timing.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000)
    args = parser.parse_args()
    load_before = os.getloadavg()
    figures = run(args.rows, min(args.sample, args.rows))
    report = _report(figures, load_before, os.getloadavg())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sql.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
