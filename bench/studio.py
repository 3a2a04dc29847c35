"""How fast Studio answers over a large experiment, and MLflow's metric history beside it.

Run it as ``.venv/bin/python bench/studio.py [--components 10000] [--points 100000]
[--no-mlflow]``. It writes ``bench/results/studio.md``.

The slipway side seeds a fresh ``SLIPWAY_HOME`` through the service layer (embedded):
one experiment of ``--components`` trial components, each with four parameters and three
metrics, and one more component with a metric of ``--points`` points. Then a real
``slipway server`` runs on that home and httpx times, warm, the median of ``--repeats``
requests of:

- the experiment's table page, ``GET /experiments/<name>`` (its first page, newest
  first), and the same page sorted by a metric and filtered by a search expression;
- the metric chart: the compare page of the 100,000-point component, whose curve is
  downsampled to 2,000 points (LTTB) on the server;
- the REST route that returns every point of that metric, for reference.

The peer is MLflow (its own virtualenv under ``bench/.venvs/mlflow``, as
``tracking_vs_mlflow.py`` builds it): a ``mlflow server`` on SQLite with one run holding
the same 100,000-point metric, timed on ``get-history`` (every point) and on
``get-history-bulk-interval`` (the sampled series its UI draws charts from).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
SLIPWAY = Path(sys.executable).parent / "slipway"
TARGET_MS = 300
EXPERIMENT = "bench-studio"
BIG = "long-run"
METRIC = "loss"
FILTER = {"Filters": [{"Name": "Metrics.accuracy.Last", "Operator": "GreaterThan", "Value": "0.5"}]}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _server(args: list[str], env: dict[str, str], health: str, log: Path) -> Iterator[None]:
    """Run a server in its own session until the block ends; wait for ``health`` first."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(health, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{args[0]} did not start; see {log}")
                time.sleep(0.3)
            yield
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _median_ms(client: httpx.Client, path: str, repeats: int) -> tuple[float, int]:
    """Median wall time of ``repeats`` GETs after two warm-up calls, and the body size."""
    for _ in range(2):
        client.get(path).raise_for_status()
    times, size = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = len(response.content)
    return statistics.median(times), size


# --- slipway ------------------------------------------------------------------------------


def seed_slipway(home: Path, components: int, points: int) -> float:
    """Seed ``home`` through the services; return the seconds it took."""
    os.environ["SLIPWAY_HOME"] = str(home)
    from slipway.experiments.models import MetricPoint
    from slipway.platform import reset, services
    from slipway.settings import reload_settings

    reload_settings()
    started = time.perf_counter()
    svc = services(reload_settings()).experiments
    svc.create_experiment(EXPERIMENT)
    svc.create_trial("bench-trial", EXPERIMENT)
    stamp = time.time()
    for i in range(components):
        name = f"run-{i:05d}"
        parameters = {
            "learning_rate": 10 ** -(1 + i % 4),
            "max_depth": 2 + i % 11,
            "optimizer": ("adam", "sgd", "rmsprop")[i % 3],
            "seed": i,
        }
        svc.create_trial_component(name, parameters=parameters)
        metrics = [
            MetricPoint(metric_name=metric, value=value, timestamp=stamp, iteration_number=step)
            for step in range(2)
            for metric, value in (
                ("accuracy", (i * 7919 % 1000) / 1000),
                ("loss", 1 / (2 + i % 97 + step)),
                ("f1", (i * 104729 % 1000) / 1000),
            )
        ]
        svc.update_trial_component(name, metrics=metrics)
        svc.associate_trial_component(name, "bench-trial")
    svc.create_trial_component(BIG, parameters={"learning_rate": 0.01})
    svc.associate_trial_component(BIG, "bench-trial")
    for first in range(0, points, 10_000):
        svc.log_metrics(
            BIG, [_point(step, stamp) for step in range(first, min(points, first + 10_000))]
        )
    seconds = time.perf_counter() - started
    reset()  # close SQLite before the server opens the same file
    return seconds


def _point(step: int, stamp: float) -> object:
    from slipway.experiments.models import MetricPoint

    # A falling curve with noise, so downsampling has peaks to keep.
    value = 1 / (1 + step / 1000) + ((step * 7919) % 101) / 5000
    return MetricPoint(
        metric_name=METRIC, value=value, timestamp=stamp + step / 1000, iteration_number=step
    )


def measure_slipway(home: Path, components: int, repeats: int) -> dict[str, tuple[float, int]]:
    port = _port()
    url = f"http://127.0.0.1:{port}"
    env = {"SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "", "SLIPWAY_TOKEN": ""}
    routes = {
        "table": f"/experiments/{EXPERIMENT}",
        "table_sorted_filtered": f"/experiments/{EXPERIMENT}?sort_by=Metrics.loss.Last"
        f"&expression={quote(json.dumps(FILTER))}",
        "table_middle_page": f"/experiments/{EXPERIMENT}?token=" + _offset_token(components // 2),
        "chart": f"/compare?components={BIG}&metric={METRIC}",
        "all_points": f"/api/v1/trial-components/{BIG}/metrics/{METRIC}",
    }
    command = [str(SLIPWAY), "server", "--port", str(port)]
    html = {"Accept": "text/html"}
    with (
        _server(command, env, f"{url}/healthz", home / "server.log"),
        httpx.Client(base_url=url, headers=html, timeout=60) as client,
    ):
        return {key: _median_ms(client, path, repeats) for key, path in routes.items()}


def _offset_token(offset: int) -> str:
    """The pager's token of the page that starts at ``offset``."""
    from slipway.experiments.expressions import encode_token

    return encode_token(offset)


# --- MLflow -------------------------------------------------------------------------------


def measure_mlflow(work: Path, points: int, repeats: int) -> dict[str, tuple[float, int]]:
    from tracking_vs_mlflow import MLFLOW_VENV, ensure_mlflow_venv

    ensure_mlflow_venv()
    port = _port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(MLFLOW_VENV / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{work / 'mlflow.db'}",
        "--default-artifact-root",
        str(work / "mlflow-artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with (
        _server(command, {}, f"{url}/health", work / "mlflow.log"),
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        run_id = _seed_mlflow(client, points)
        history = f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key={METRIC}"
        found = client.get(history).json()["metrics"]
        if len(found) != points:
            raise RuntimeError(f"MLflow get-history returned {len(found)} of {points} points")
        sampled = (
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
            f"?run_ids={run_id}&metric_key={METRIC}&max_results=2000"
        )
        return {
            # Seconds a call at 100,000 points: three are enough for a median.
            "all_points": _median_ms(client, history, min(repeats, 3)),
            "chart": _median_ms(client, sampled, repeats),
        }


def _seed_mlflow(client: httpx.Client, points: int) -> str:
    """One run with the same metric as slipway's long run, logged 1,000 points a call."""
    api = "/api/2.0/mlflow"
    experiment = client.post(f"{api}/experiments/create", json={"name": EXPERIMENT})
    experiment_id = experiment.raise_for_status().json()["experiment_id"]
    stamp = int(time.time() * 1000)
    run = client.post(
        f"{api}/runs/create", json={"experiment_id": experiment_id, "start_time": stamp}
    )
    run_id = run.raise_for_status().json()["run"]["info"]["run_id"]
    for first in range(0, points, 1000):
        metrics = [
            {"key": METRIC, "value": point.value, "timestamp": stamp + step, "step": step}
            for step in range(first, min(points, first + 1000))
            for point in [_point(step, stamp / 1000)]
        ]
        client.post(f"{api}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
    return run_id


# --- the report ---------------------------------------------------------------------------

ROWS = [
    ("table", "experiment table page, first 25 of {components:,} (newest first)", True),
    ("table_sorted_filtered", "same page, sorted by a metric and filtered by an expression", False),
    ("table_middle_page", "same page, the middle page (offset {middle:,})", False),
    ("chart", "metric chart data: {points:,}-point metric, LTTB to 2,000 points", True),
    ("all_points", "every point of the {points:,}-point metric as JSON (REST)", False),
]
PEER_NOTE = {
    "chart": "`get-history-bulk-interval` (2,000 sampled points, what its UI charts use)",
    "all_points": "`get-history` (every point)",
}


def markdown(report: dict) -> str:
    sizes = report["sizes"]
    lines = [
        "# Studio speed: a large experiment and a long metric",
        "",
        f"Run `{report['command']}` on {report['when']}; machine: {report['machine']}, "
        f"load average before the run {report['load']}. Median of {sizes['repeats']} warm "
        "requests with httpx to a real server on 127.0.0.1 (SQLite, one process).",
        "",
        f"Seeded through the services in {report['seed_seconds']:.0f} s: {sizes['components']:,} "
        "trial components with 4 parameters and 3 metrics each, and one with a metric of "
        f"{sizes['points']:,} points.",
        "",
        f"| figure | slipway (ms) | bytes | target | MLflow {report.get('mlflow_version', '')} "
        "(ms) |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for key, title, targeted in ROWS:
        ms, size = report["slipway"][key]
        target = (
            (f"< {TARGET_MS} ms: " + ("met" if ms < TARGET_MS else "**missed**"))
            if targeted
            else ""
        )
        peer = report.get("mlflow", {}).get(key)
        peer_text = f"{peer[0]:.0f} ({PEER_NOTE[key]})" if peer else ""
        title = title.format(middle=sizes["components"] // 2, **sizes)
        lines.append(f"| {title} | {ms:.0f} | {size:,} | {target} | {peer_text} |")
    lines += ["", *report.get("notes", [])]
    return "\n".join(lines) + "\n"


def _versions() -> str:
    from tracking_vs_mlflow import MLFLOW_PYTHON

    done = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--components", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--no-mlflow", action="store_true", help="Measure slipway only.")
    parser.add_argument("--output", type=Path, default=RESULTS / "studio.md")
    args = parser.parse_args()
    sizes = {"components": args.components, "points": args.points, "repeats": args.repeats}
    report: dict = {
        "command": " ".join(["python bench/studio.py", *sys.argv[1:]]),
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "load": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        "sizes": sizes,
    }
    with tempfile.TemporaryDirectory(prefix="slipway-bench-studio-") as folder:
        work = Path(folder)
        print(f"seeding {args.components:,} components and {args.points:,} points ...", flush=True)
        report["seed_seconds"] = seed_slipway(work / "home", args.components, args.points)
        print("measuring slipway ...", flush=True)
        report["slipway"] = measure_slipway(work / "home", args.components, args.repeats)
        if not args.no_mlflow:
            print("measuring MLflow ...", flush=True)
            report["mlflow"] = measure_mlflow(work, args.points, args.repeats)
            report["mlflow_version"] = _versions()
            report["notes"] = [
                "MLflow runs `mlflow server` on SQLite with one worker; its `get-history` "
                f"is the median of {min(args.repeats, 3)} calls, as each takes seconds."
            ]
    print(json.dumps(report), flush=True)  # the raw figures, should the report fail
    text = markdown(report)
    args.output.write_text(text)
    print(text)
    missed = [
        key for key, _, targeted in ROWS if targeted and report["slipway"][key][0] >= TARGET_MS
    ]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
