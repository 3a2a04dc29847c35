"""Benchmark slipway's experiment tracking against MLflow (SQLite backend), side by side.

Run it as ``.venv/bin/python bench/tracking_vs_mlflow.py [--quick]``. It writes
``bench/results/tracking.md`` and ``bench/results/tracking.json``.

Each side runs in its own fresh process: MLflow in a virtualenv of its own
(``bench/.venvs/mlflow``, created on first use so MLflow's pins never touch slipway's
environment), slipway in the project's ``.venv``. The workers ``_mlflow_worker.py`` and
``_slipway_worker.py`` measure one figure each call and print it as JSON on stdout.

This module also holds the few helpers both workers import (the synthetic search data and
the median), so the two sides are measured on the same data in the same way. It imports
only the standard library, since it runs under both interpreters.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
RESULTS = BENCH / "results"
MLFLOW_VENV = BENCH / ".venvs" / "mlflow"
MLFLOW_PYTHON = MLFLOW_VENV / "bin" / "python"
SLIPWAY_PYTHON = PROJECT / ".venv" / "bin" / "python"

SEED = 20190
SEARCH_THRESHOLD = 0.9
SEARCH_PAGE = 100


# --- helpers shared with the workers ------------------------------------------------------


def search_rows(count: int, seed: int = SEED) -> Iterator[tuple[float, dict[str, str]]]:
    """The runs of the search figure: an ``accuracy`` and five parameters each.

    Seeded, so both workers store the same values and can check the same expected count.
    """
    rng = random.Random(seed)
    for i in range(count):
        params = {
            "learning_rate": f"{rng.choice([0.001, 0.01, 0.1]):g}",
            "max_depth": str(rng.randint(2, 12)),
            "optimizer": rng.choice(["adam", "sgd", "rmsprop"]),
            "batch_size": str(rng.choice([32, 64, 128, 256])),
            "fold": str(i % 5),
        }
        yield rng.random(), params


def expected_matches(count: int, seed: int = SEED) -> tuple[int, float]:
    """How many search rows pass the filter, and the largest accuracy among them."""
    accuracies = [a for a, _ in search_rows(count, seed) if a > SEARCH_THRESHOLD]
    return len(accuracies), max(accuracies)


def five_params(i: int) -> dict[str, str | int | float]:
    """The five parameters each trial component of the creation figure logs."""
    return {"lr": 0.01, "epochs": 10, "batch_size": 64, "optimizer": "adam", "seed": i}


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- the benchmark plan --------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much work each figure does; ``--quick`` divides every count by ten."""

    log_calls_mlflow: int = 2_000
    log_calls_slipway: int = 200_000
    creates_mlflow: int = 300
    creates_slipway: int = 2_000
    search_runs: int = 100_000
    repeats: int = 3
    search_repeats: int = 7

    def shrunk(self) -> Sizes:
        return Sizes(
            log_calls_mlflow=self.log_calls_mlflow // 10,
            log_calls_slipway=self.log_calls_slipway // 10,
            creates_mlflow=self.creates_mlflow // 10,
            creates_slipway=self.creates_slipway // 10,
            search_runs=self.search_runs // 10,
            repeats=self.repeats,
            search_repeats=self.search_repeats,
        )


@dataclass(frozen=True)
class Figure:
    """One line of the result table, and how to turn the two raw numbers into a ratio."""

    key: str
    title: str
    unit: str
    higher_is_better: bool
    target_ratio: float
    max_slipway: float | None = None  # an absolute ceiling slipway must also stay under


FIGURES = [
    Figure("log_metric", "single `log_metric` calls", "calls/s", True, 100),
    Figure("create", "create a run / trial component (5 params, 3 metrics)", "ms/item", False, 10),
    Figure("search", "search: filter + sort, first 100", "ms (median)", False, 5, 100),
]


def worker_args(figure: str, side: str, sizes: Sizes) -> list[str]:
    """The command-line arguments that make a worker measure one figure at our sizes."""
    if figure == "log_metric":
        n = sizes.log_calls_mlflow if side == "mlflow" else sizes.log_calls_slipway
        return [figure, "--n", str(n), "--repeats", str(sizes.repeats)]
    if figure == "create":
        n = sizes.creates_mlflow if side == "mlflow" else sizes.creates_slipway
        return [figure, "--n", str(n), "--repeats", str(sizes.repeats)]
    return [figure, "--n", str(sizes.search_runs), "--repeats", str(sizes.search_repeats)]


# --- running the workers -------------------------------------------------------------------


def ensure_mlflow_venv() -> None:
    """Create ``bench/.venvs/mlflow`` with MLflow in it, once; later runs reuse it."""
    probe = [str(MLFLOW_PYTHON), "-c", "import mlflow"]
    if MLFLOW_PYTHON.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return
    print(f"creating {MLFLOW_VENV} and installing mlflow (once) ...", flush=True)
    subprocess.run(["python3", "-m", "venv", str(MLFLOW_VENV)], check=True)
    pip = [str(MLFLOW_PYTHON), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "mlflow"], check=True)


def run_worker(side: str, args: list[str]) -> dict:
    """Run one worker in a fresh process on a fresh store; return the JSON it prints."""
    python = MLFLOW_PYTHON if side == "mlflow" else SLIPWAY_PYTHON
    script = BENCH / f"_{side}_worker.py"
    with tempfile.TemporaryDirectory(prefix=f"bench-{side}-") as workdir:
        env = {**os.environ, "SLIPWAY_HOME": str(Path(workdir) / "slipway-home")}
        command = [str(python), str(script), *args, "--workdir", workdir]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        return {"error": f"{side} worker exited with {done.returncode}:\n{tail}"}
    return json.loads(done.stdout)


def measure(sizes: Sizes) -> dict[str, dict[str, dict]]:
    """Every figure on both sides: ``{figure: {"mlflow": {...}, "slipway": {...}}}``."""
    results: dict[str, dict[str, dict]] = {}
    for figure in FIGURES:
        results[figure.key] = {}
        for side in ("mlflow", "slipway"):
            print(f"{figure.key:>10} / {side:<7} ...", end=" ", flush=True)
            outcome = run_worker(side, worker_args(figure.key, side, sizes))
            results[figure.key][side] = outcome
            print(outcome.get("error") or f"{outcome['value']:.4g} {figure.unit}", flush=True)
    return results


def versions() -> dict[str, str]:
    """The versions of both peers, each asked of its own interpreter."""
    found = {}
    for side, python in (("mlflow", MLFLOW_PYTHON), ("slipway", SLIPWAY_PYTHON)):
        code = f"import importlib.metadata as m; print(m.version({side!r}))"
        done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
        found[side] = done.stdout.strip() or "unknown"
    found["python"] = sys.version.split()[0]
    return found


# --- the report ----------------------------------------------------------------------------


def speedup(figure: Figure, mlflow: float, slipway: float) -> float:
    """How many times better slipway is than MLflow on this figure (>1 means better)."""
    return slipway / mlflow if figure.higher_is_better else mlflow / slipway


def table_rows(results: dict[str, dict[str, dict]]) -> list[dict]:
    """One summary row per figure: both absolute values, the ratio and the verdict."""
    rows = []
    for figure in FIGURES:
        mlflow, slipway = results[figure.key]["mlflow"], results[figure.key]["slipway"]
        row = {"figure": figure.key, "title": figure.title, "unit": figure.unit}
        row["mlflow"] = mlflow.get("value")
        row["slipway"] = slipway.get("value")
        row["target"] = f">= {figure.target_ratio:g}x" + (
            f" and slipway < {figure.max_slipway:g} {figure.unit}" if figure.max_slipway else ""
        )
        row["speedup"] = None
        row["met"] = None
        if row["mlflow"] is not None and row["slipway"] is not None:
            row["speedup"] = speedup(figure, row["mlflow"], row["slipway"])
            row["met"] = row["speedup"] >= figure.target_ratio and (
                figure.max_slipway is None or row["slipway"] < figure.max_slipway
            )
        rows.append(row)
    return rows


def fmt(value: float | None) -> str:
    if value is None:
        return "not measured"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def markdown(report: dict) -> str:
    """The human-readable result: setup, the table, then what each figure did."""
    v = report["versions"]
    loads = {
        when: ", ".join(f"{x:.1f}" for x in averages)
        for when, averages in report["load_average"].items()
    }
    lines = [
        "# Experiment tracking: slipway vs MLflow",
        "",
        f"- date: {report['date']}",
        f"- machine: {report['cpu_count']} CPU cores, {report['platform']}",
        f"- slipway {v['slipway']} (SQLite), MLflow {v['mlflow']} (SQLite, "
        f"`sqlite:///.../mlflow.db`), Python {v['python']}",
        f"- mode: {'quick (every count / 10)' if report['quick'] else 'full'}",
        f"- load average (1, 5, 15 min) at start: {loads['start']}; at end: {loads['end']}",
    ]
    if max(max(averages) for averages in report["load_average"].values()) > report["cpu_count"]:
        lines += [
            "",
            "> The machine was busy (load above its core count) during this run: both sides "
            "ran slower than on an idle machine, MLflow's one-commit-per-call writes most.",
        ]
    lines += [
        "",
        "| figure | unit | MLflow | slipway | slipway vs MLflow | target | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in report["table"]:
        ratio = f"{row['speedup']:,.1f}x better" if row["speedup"] else "n/a"
        met = {True: "yes", False: "**no**", None: "n/a"}[row["met"]]
        lines.append(
            f"| {row['title']} | {row['unit']} | {fmt(row['mlflow'])} | {fmt(row['slipway'])} "
            f"| {ratio} | {row['target']} | {met} |"
        )
    lines += ["", "## What each side did", ""]
    for figure in FIGURES:
        for side in ("mlflow", "slipway"):
            outcome = report["results"][figure.key][side]
            text = outcome.get("method") or outcome["error"].splitlines()[-1]
            lines.append(f"- **{figure.key} / {side}**: {text}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="divide every count by ten")
    options = parser.parse_args()
    sizes = Sizes().shrunk() if options.quick else Sizes()

    ensure_mlflow_venv()
    # Other work on this small machine slows both sides; the load says how quiet it was.
    load_before = os.getloadavg()
    results = measure(sizes)
    report = {
        "load_average": {"start": load_before, "end": os.getloadavg()},
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_count": os.cpu_count(),
        "platform": f"{os.uname().sysname} {os.uname().machine}",
        "versions": versions(),
        "quick": options.quick,
        "sizes": sizes.__dict__,
        "table": table_rows(results),
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tracking.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "tracking.md").write_text(markdown(report))
    print(markdown(report))
    failed = any("error" in side for figure in results.values() for side in figure.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
