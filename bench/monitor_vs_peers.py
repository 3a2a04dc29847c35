"""Benchmark slipway's Model Monitor baseline against whylogs and Evidently, side by side.

Run it as ``.venv/bin/python bench/monitor_vs_peers.py [--rows N] [--big-rows N]``. It
writes ``bench/results/monitor.md`` and ``bench/results/monitor.json``.

One synthetic table (1,000,000 rows x 20 columns by default: 8 floats, 6 integers, 6
categoricals, 1% missing in every column, seeded) is written as Parquet. Each tool then
profiles that file in a fresh process of its own virtualenv (``bench/.venvs/whylogs``:
whylogs 1.6 with numpy<2, pandas<3, pyarrow<20; ``bench/.venvs/evidently``: Evidently 0.7
with pandas<3; both created on first use), timed from reading the file to having the
result, with the process's peak resident memory:

- slipway: ``profile_dataset`` (streamed in record batches) + statistics.json +
  constraints.json, as ``DefaultModelMonitor.suggest_baseline`` writes them;
- whylogs: ``pd.read_parquet`` + ``why.log(df).view()``;
- Evidently: the data drift report (``DataDriftPreset``) of the table against itself
  (Evidently profiles by comparing two data sets), saved as JSON.

Then slipway alone profiles a 10,000,000-row table of the same shape, to show that memory
stays bounded (target: under 2 GiB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
RESULTS = BENCH / "results"
WORKER = BENCH / "_monitor_worker.py"
SLIPWAY_PYTHON = PROJECT / ".venv" / "bin" / "python"
PEERS = {
    "whylogs": ["whylogs==1.6.*", "numpy<2", "pandas<3", "pyarrow<20"],
    "evidently": ["evidently==0.7.*", "pandas<3"],
}
SEED = 2019
CHUNK_ROWS = 500_000


def peer_python(name: str) -> Path:
    return BENCH / ".venvs" / name / "bin" / "python"


def ensure_venv(name: str) -> None:
    """Create ``bench/.venvs/<name>`` with the peer in it, once; later runs reuse it."""
    python = peer_python(name)
    if python.exists():
        return
    print(f"creating bench/.venvs/{name} (first run only)...", flush=True)
    subprocess.run(["python3", "-m", "venv", str(python.parent.parent)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *PEERS[name]], check=True)


def write_table(path: Path, rows: int) -> None:
    """The synthetic table, written in chunks by slipway's interpreter (bounded memory)."""
    code = f"""
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
rows, chunk = {rows}, {CHUNK_ROWS}
rng = np.random.default_rng({SEED})
writer = None
for start in range(0, rows, chunk):
    n = min(chunk, rows - start)
    columns = {{}}
    for i in range(8):
        columns[f"f{{i}}"] = rng.normal(i, 1 + i, n)
    for i in range(6):
        columns[f"i{{i}}"] = rng.integers(0, 100 * (i + 1), n)
    for i in range(6):
        labels = np.array([f"cat{{j}}" for j in range(5 + 3 * i)])
        columns[f"c{{i}}"] = labels[rng.integers(0, len(labels), n)]
    arrays = {{name: pa.array(values, mask=rng.random(n) < 0.01)
              for name, values in columns.items()}}
    table = pa.table(arrays)
    writer = writer or pq.ParquetWriter({str(path)!r}, table.schema)
    writer.write_table(table)
writer.close()
"""
    subprocess.run([str(SLIPWAY_PYTHON), "-c", code], check=True)


def measure(python: Path, tool: str, data: Path) -> dict:
    done = subprocess.run(
        [str(python), str(WORKER), tool, str(data)], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def best_of(python: Path, tool: str, data: Path, repeats: int) -> dict:
    runs = [measure(python, tool, data) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["seconds"])
    best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    best["runs"] = [round(r["seconds"], 3) for r in runs]
    return best


def report(results: dict) -> str:
    slip, why, evid = results["slipway"], results["whylogs"], results["evidently"]
    big = results.get("slipway_big")
    lines = [
        "# Model Monitor baseline: slipway vs whylogs vs Evidently",
        "",
        f"Run {results['date']} on {results['machine']}. Produced by "
        "`bench/monitor_vs_peers.py`; each figure is the best of "
        f"{results['repeats']} fresh processes (peak memory: the largest of them).",
        "",
        f"Table: {results['rows']:,} rows x 20 columns (8 float, 6 int, 6 categorical, 1% "
        "missing), Parquet. Time from reading the file to having the profile.",
        "",
        "| tool | what it computes | seconds | peak memory (MiB) |",
        "| --- | --- | ---: | ---: |",
        f"| slipway | statistics.json + constraints.json (KLL, HLL, frequent items, moments) "
        f"| {slip['seconds']:.2f} | {slip['peak_rss_mib']:.0f} |",
        f"| whylogs 1.6 | `why.log(df).view()` | {why['seconds']:.2f} | "
        f"{why['peak_rss_mib']:.0f} |",
        f"| Evidently 0.7 | DataDriftPreset report, table vs itself | "
        f"{evid['seconds']:.2f} | {evid['peak_rss_mib']:.0f} |",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
        f"| slipway <= 1/3 of whylogs' time | {slip['seconds'] / why['seconds']:.2f}x | "
        f"{'yes' if slip['seconds'] <= why['seconds'] / 3 else 'no'} |",
        f"| slipway <= 1/10 of Evidently's time | {slip['seconds'] / evid['seconds']:.3f}x | "
        f"{'yes' if slip['seconds'] <= evid['seconds'] / 10 else 'no'} |",
        f"| slipway peak memory <= whylogs' | {slip['peak_rss_mib']:.0f} vs "
        f"{why['peak_rss_mib']:.0f} MiB | "
        f"{'yes' if slip['peak_rss_mib'] <= why['peak_rss_mib'] else 'no'} |",
    ]
    if big:
        lines.append(
            f"| {big['rows']:,} rows under 2 GiB peak | {big['peak_rss_mib']:.0f} MiB in "
            f"{big['seconds']:.1f} s | {'yes' if big['peak_rss_mib'] < 2048 else 'no'} |"
        )
    lines += [
        "",
        "Notes: slipway streams the file in record batches, so its memory does not grow with "
        "the number of rows; whylogs and Evidently take pandas DataFrames, read whole. "
        "Evidently compares two data sets, so it reads and profiles the table twice; that is "
        "the smallest run of its data drift report.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--big-only",
        action="store_true",
        help="Only measure the big table; keep the other figures of bench/results/monitor.json.",
    )
    args = parser.parse_args()
    if args.big_only:
        results = json.loads((RESULTS / "monitor.json").read_text())
        with tempfile.TemporaryDirectory(prefix="slipway-bench-") as folder:
            big = Path(folder) / "big.parquet"
            write_table(big, args.big_rows)
            results["slipway_big"] = measure(SLIPWAY_PYTHON, "slipway", big)
        (RESULTS / "monitor.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "monitor.md").write_text(report(results))
        print(report(results))
        return
    for name in PEERS:
        ensure_venv(name)
    results: dict = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {sys.version.split()[0]}",
        "rows": args.rows,
        "repeats": args.repeats,
    }
    with tempfile.TemporaryDirectory(prefix="slipway-bench-") as folder:
        data = Path(folder) / "table.parquet"
        print(f"writing {args.rows:,} rows...", flush=True)
        write_table(data, args.rows)
        for tool, python in [
            ("slipway", SLIPWAY_PYTHON),
            ("whylogs", peer_python("whylogs")),
            ("evidently", peer_python("evidently")),
        ]:
            print(f"measuring {tool}...", flush=True)
            results[tool] = best_of(python, tool, data, args.repeats)
            print(f"  {results[tool]}", flush=True)
        data.unlink()
        if args.big_rows:
            big = Path(folder) / "big.parquet"
            print(f"writing {args.big_rows:,} rows...", flush=True)
            write_table(big, args.big_rows)
            print("measuring slipway on the big table...", flush=True)
            results["slipway_big"] = measure(SLIPWAY_PYTHON, "slipway", big)
            print(f"  {results['slipway_big']}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "monitor.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "monitor.md").write_text(report(results))
    print(report(results))


if __name__ == "__main__":
    main()
