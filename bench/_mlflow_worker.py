"""The MLflow half of ``tracking_vs_mlflow.py``: measure one figure, print it as JSON.

Runs under ``bench/.venvs/mlflow/bin/python``, against a fresh SQLite store in ``--workdir``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import sys
import time
import uuid
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from tracking_vs_mlflow import (
    SEARCH_PAGE,
    SEARCH_THRESHOLD,
    expected_matches,
    five_params,
    median,
    search_rows,
)


def use_store(workdir: Path) -> str:
    """Point MLflow at a SQLite database and a local artifact folder inside ``workdir``."""
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    artifacts = workdir / "artifacts"
    experiment_id = MlflowClient().create_experiment("bench", artifact_location=str(artifacts))
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def log_metric(workdir: Path, n: int, repeats: int) -> dict:
    """Calls per second of ``mlflow.log_metric`` inside one active run."""
    use_store(workdir)
    rates = []
    for _ in range(repeats):
        run = mlflow.start_run()
        start = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        # end_run is the counterpart of slipway's close(), so it is inside the timing.
        mlflow.end_run()
        rates.append(n / (time.perf_counter() - start))
        stored = len(MlflowClient().get_metric_history(run.info.run_id, "loss"))
        assert stored == n, f"MLflow stored {stored} of {n} metric points"
    return {
        "value": median(rates),
        "samples": rates,
        "method": f"median of {repeats} runs, each {n:,} sequential "
        "`mlflow.log_metric('loss', v, step=i)` calls in one active run, timed up to and "
        "including `end_run()`; every point verified stored.",
    }


def create(workdir: Path, n: int, repeats: int) -> dict:
    """Milliseconds per run that logs five parameters and three metric values."""
    experiment_id = use_store(workdir)
    per_item_ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            with mlflow.start_run():
                mlflow.log_params(five_params(i))
                for step in range(3):
                    mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        per_item_ms.append((time.perf_counter() - start) * 1000 / n)
    stored = len(MlflowClient().search_runs([experiment_id], max_results=50_000))
    assert stored == n * repeats, f"MLflow stored {stored} of {n * repeats} runs"
    return {
        "value": median(per_item_ms),
        "samples": per_item_ms,
        "method": f"median of {repeats} rounds of {n:,} runs, each "
        "`with mlflow.start_run(): mlflow.log_params({5}); mlflow.log_metric(...) x3`; "
        "every run verified stored.",
    }


def insert(db: sqlite3.Connection, table: str, rows: list[dict]) -> None:
    """Insert rows given as dicts whose keys are the column names."""
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    placeholders = ", ".join(f":{c}" for c in columns)
    db.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", rows)


def populate_with_sql(workdir: Path, experiment_id: str, n: int) -> None:
    """Insert ``n`` finished runs straight into MLflow's own tables.

    Going through MLflow's client would take ~10 ms a run (17 minutes for 100,000), so we
    write the rows MLflow itself writes for a run (runs, tags, params, metrics,
    latest_metrics) into the schema MLflow created; the search then runs through MLflow.
    """
    now_ms = int(time.time() * 1000)
    # Parents before children, in the order the rows must be inserted.
    names = ("runs", "tags", "params", "metrics", "latest_metrics")
    tables: dict[str, list[dict]] = {name: [] for name in names}
    for i, (accuracy, run_params) in enumerate(search_rows(n)):
        run_id, name, started = uuid.uuid4().hex, f"run-{i}", now_ms + i
        tables["runs"].append(
            {
                "run_uuid": run_id,
                "name": name,
                "source_type": "UNKNOWN",
                "source_name": "bench",
                "entry_point_name": "",
                "user_id": "bench",
                "status": "FINISHED",
                "start_time": started,
                "end_time": started + 1,
                "source_version": "",
                "lifecycle_stage": "active",
                "artifact_uri": str(workdir / "artifacts" / run_id / "artifacts"),
                "experiment_id": int(experiment_id),
            }
        )
        run_tags = {
            "mlflow.runName": name,
            "mlflow.user": "bench",
            "mlflow.source.name": "bench",
            "mlflow.source.type": "LOCAL",
        }
        for table, pairs in (("tags", run_tags), ("params", run_params)):
            tables[table] += [{"key": k, "value": v, "run_uuid": run_id} for k, v in pairs.items()]
        metric = {"key": "accuracy", "value": accuracy, "timestamp": started, "step": 0}
        for table in ("metrics", "latest_metrics"):
            tables[table].append({**metric, "is_nan": 0, "run_uuid": run_id})
    with contextlib.closing(sqlite3.connect(workdir / "mlflow.db")) as db, db:
        for table, rows in tables.items():
            insert(db, table, rows)


def search_once(client: MlflowClient, experiment_id: str, max_results: int) -> list[float]:
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"metrics.accuracy > {SEARCH_THRESHOLD}",
        order_by=["metrics.accuracy DESC"],
        max_results=max_results,
    )
    return [run.data.metrics["accuracy"] for run in runs]


def verify_search(client: MlflowClient, experiment_id: str, n: int) -> str:
    """Check MLflow finds exactly the rows we inserted, best first."""
    count, best = expected_matches(n)
    page = search_once(client, experiment_id, SEARCH_PAGE)
    assert len(page) == min(count, SEARCH_PAGE), f"page has {len(page)} runs"
    assert page[0] == best and page == sorted(page, reverse=True), "page is not best first"
    everything = search_once(client, experiment_id, 50_000)
    assert len(everything) == count, f"MLflow found {len(everything)} runs, expected {count}"
    return f"verified: MLflow's search_runs finds all {count:,} matching runs, best first"


def search(workdir: Path, n: int, repeats: int) -> dict:
    """Median milliseconds of a filtered, sorted ``search_runs`` over ``n`` runs."""
    experiment_id = use_store(workdir)
    started = time.perf_counter()
    populate_with_sql(workdir, experiment_id, n)
    populate_s = time.perf_counter() - started
    client = MlflowClient()
    verified = verify_search(client, experiment_id, n)
    search_once(client, experiment_id, SEARCH_PAGE)  # warm-up
    times_ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        search_once(client, experiment_id, SEARCH_PAGE)
        times_ms.append((time.perf_counter() - start) * 1000)
    return {
        "value": median(times_ms),
        "samples": times_ms,
        "populate_s": populate_s,
        "method": f"{n:,} runs (accuracy + 5 params + 4 tags each) inserted with SQL into "
        f"the tables MLflow created ({populate_s:.1f} s); {verified}; median of {repeats} "
        f"`MlflowClient().search_runs(filter_string='metrics.accuracy > {SEARCH_THRESHOLD}',"
        f" order_by=['metrics.accuracy DESC'], max_results={SEARCH_PAGE})` after one warm-up.",
    }


FIGURES = {"log_metric": log_metric, "create": create, "search": search}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figure", choices=FIGURES)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    options = parser.parse_args()
    # MLflow may print to stdout; keep stdout for our one line of JSON.
    with contextlib.redirect_stdout(sys.stderr):
        result = FIGURES[options.figure](options.workdir, options.n, options.repeats)
    result["n"] = options.n
    print(json.dumps(result))


if __name__ == "__main__":
    main()
