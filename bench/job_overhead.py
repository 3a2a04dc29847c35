"""What a slipway job costs on top of running its script: one job, and a tuning job.

Run it as ``.venv/bin/python bench/job_overhead.py [--runs 20] [--jobs 50]``. It writes
``bench/results/job_overhead.md``.

Side by side in one run, on the same trivial script:

- one job: from ``Estimator.fit()`` to the script's first line and to ``fit()``
  returning (the job Completed, its model packed), against ``subprocess.Popen`` of the
  same script with the same Python, timed to its first line and to its exit. The two
  sides alternate run by run, so both see the same machine load.
- a tuning job of ``--jobs`` training jobs, two at a time (Random strategy), against the
  same scripts with the same arguments run by a plain two-worker process pool. The two
  sides alternate too, best of ``--repeats`` runs each for the trivial script (of two
  with work: the machine's noise is small against 0.5 s jobs).

Both figures are repeated for a script that also does ``--work`` seconds of work, to show
how the fixed cost of a job weighs on a job that does something. Jobs start as forks of a
prestarted interpreter (slipway's default); the trivial tuning job is run once more with
a new interpreter per job (``job_start_method=spawn``), as the pool starts its scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"

SCRIPT = """\
import sys
import time

print(f"first-line {time.time()!r}", flush=True)
work = float(sys.argv[sys.argv.index("--work") + 1]) if "--work" in sys.argv else 0.0
if work:
    time.sleep(work)
print("loss=0.1;")
"""
LOSS = [{"Name": "loss", "Regex": r"loss=([0-9.]+);"}]
OVERHEAD_TARGET_MS = 300
TUNING_TARGET_RATIO = 1.5
SPAWN_ROW = "trivial, a new interpreter per job"


def _ms(seconds: float) -> float:
    return seconds * 1000


# --- one job ----------------------------------------------------------------------------


def _plain_once(script: Path, work: float) -> tuple[float, float]:
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, str(script), "--work", str(work)], stdout=subprocess.PIPE, text=True
    )
    first = float(process.stdout.readline().split()[1])
    process.communicate()
    return first - started, time.time() - started


def _slipway_once(estimator, name: str) -> tuple[float, float]:
    from slipway.platform import services

    started = time.time()
    estimator.fit(job_name=name, logs=False)
    ended = time.time()
    first = float(services().training.read_logs(name, 0, 1)[0].message.split()[1])
    return first - started, ended - started


def one_job(source: Path, runs: int, work: float, tag: str) -> dict[str, float]:
    from slipway.training.estimator import Estimator

    estimator = Estimator(
        "train.py", source_dir=str(source), metric_definitions=LOSS, hyperparameters={"work": work}
    )
    estimator.fit(job_name=f"warm-up-{tag}", logs=False)  # imports, migrations, caches
    _plain_once(source / "train.py", work)
    slipway, plain = [], []
    for i in range(runs):
        slipway.append(_slipway_once(estimator, f"job-{tag}-{i}"))
        plain.append(_plain_once(source / "train.py", work))
    median = statistics.median
    figures = {
        "slipway_first_ms": _ms(median(s[0] for s in slipway)),
        "slipway_end_ms": _ms(median(s[1] for s in slipway)),
        "plain_first_ms": _ms(median(p[0] for p in plain)),
        "plain_end_ms": _ms(median(p[1] for p in plain)),
    }
    # The overhead of each run against the plain run next to it, then the median.
    figures["overhead_first_ms"] = _ms(
        median(s[0] - p[0] for s, p in zip(slipway, plain, strict=True))
    )
    figures["overhead_end_ms"] = _ms(
        median(s[1] - p[1] for s, p in zip(slipway, plain, strict=True))
    )
    return figures


# --- a tuning job ------------------------------------------------------------------------


def _run_script(arguments: list[str]) -> int:
    return subprocess.run(
        [sys.executable, *arguments], stdout=subprocess.DEVNULL, check=True
    ).returncode


def _plain_pool(script: Path, jobs: int, work: float) -> float:
    started = time.time()
    with ProcessPoolExecutor(max_workers=2) as pool:
        calls = [[str(script), "--work", str(work), "--seed", str(i)] for i in range(jobs)]
        list(pool.map(_run_script, calls))
    return time.time() - started


def _tuning(source: Path, jobs: int, work: float, name: str) -> float:
    from slipway.training.estimator import Estimator
    from slipway.tuning import HyperparameterTuner, IntegerParameter

    estimator = Estimator(
        "train.py", source_dir=str(source), metric_definitions=LOSS, hyperparameters={"work": work}
    )
    tuner = HyperparameterTuner(
        estimator,
        "loss",
        {"seed": IntegerParameter(0, 1_000_000)},
        strategy="Random",
        objective_type="Minimize",
        max_jobs=jobs,
        max_parallel_jobs=2,
    )
    started = time.time()
    tuner.fit(job_name=name)
    elapsed = time.time() - started
    counters = tuner.describe().training_job_status_counters
    assert counters.completed == jobs, counters
    return elapsed


def tuning_job(source: Path, jobs: int, work: float, tag: str, repeats: int) -> dict[str, float]:
    slipway, plain = [], []
    for i in range(repeats):
        plain.append(_plain_pool(source / "train.py", jobs, work))
        slipway.append(_tuning(source, jobs, work, f"bench-{tag}-{i}"))
    return {"slipway_s": min(slipway), "plain_s": min(plain), "ratio": min(slipway) / min(plain)}


def _use_start_method(method: str) -> None:
    from slipway.platform import reset
    from slipway.settings import reload_settings

    os.environ["SLIPWAY_JOB_START_METHOD"] = method
    reload_settings()
    reset()


# --- the report ------------------------------------------------------------------------------


def _report(args: argparse.Namespace, single: dict, tuning: dict, load: tuple) -> str:
    from slipway import __version__

    lines = [
        "# Job overhead: slipway vs running the script with plain python",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} CPU cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; load average before/after the run: "
        f"{load[0]:.1f} / {load[1]:.1f} (other work shared the machine)",
        f"- slipway {__version__}, embedded (SQLite metadata store, local artifact folder)",
        f"- one job: {args.runs} runs per side, alternating; tuning: {args.jobs} jobs, "
        f"2 at a time, best of {args.repeats} runs per side (2 with work), alternating",
        "",
        "## One job: from `fit()` to the script's first line and to the job's end",
        "",
        "| script | figure | plain python (ms, median) | slipway (ms, median) "
        "| overhead (ms, median) | target | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for label, figures in single.items():
        for what, key in (("to first line", "first"), ("to job end", "end")):
            overhead = figures[f"overhead_{key}_ms"]
            met = "yes" if overhead <= OVERHEAD_TARGET_MS else "no"
            lines.append(
                f"| {label} | {what} | {figures[f'plain_{key}_ms']:.0f} "
                f"| {figures[f'slipway_{key}_ms']:.0f} | {overhead:.0f} "
                f"| <= {OVERHEAD_TARGET_MS} ms | {met} |"
            )
    lines += [
        "",
        f"## A tuning job of {args.jobs} jobs, 2 in parallel, vs a 2-worker process pool",
        "",
        "| script | plain pool (s) | slipway tuning job (s) | ratio | target | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for label, figures in tuning.items():
        met = figures["ratio"] <= TUNING_TARGET_RATIO
        lines.append(
            f"| {label} | {figures['plain_s']:.2f} | {figures['slipway_s']:.2f} "
            f"| {figures['ratio']:.2f}x | <= {TUNING_TARGET_RATIO}x | {'yes' if met else 'no'} |"
        )
    per_job = {
        label: (f["slipway_s"] - f["plain_s"]) / args.jobs * 2 * 1000 for label, f in tuning.items()
    }
    lines += [
        "",
        "Fixed cost per tuning trial (extra wall time per job slot): "
        + ", ".join(f"{label}: {ms:.0f} ms" for label, ms in per_job.items()),
        "",
        "## What each side did",
        "",
        "- **plain python**: `subprocess.Popen([python, train.py, ...])`, the first line read "
        "from its stdout, timed until it exits.",
        "- **slipway one job**: `Estimator(...).fit(job_name=..., logs=False)`: packs and "
        "stores the source folder, creates the job, its trial component and the `/opt/ml` "
        "folder, runs the script under the container contract, scans its log for the metric "
        "regex, packs and stores `model.tar.gz`, ends the job Completed; `fit()` returns "
        "then. The first line's time stamp is printed by the script itself.",
        "- **plain pool**: `ProcessPoolExecutor(max_workers=2)` mapping `subprocess.run` of "
        "the script over the same arguments, pool start-up included.",
        "- **slipway tuning job**: `HyperparameterTuner(..., strategy='Random', "
        "max_parallel_jobs=2).fit()`, Optuna asking for each job's hyperparameters; every "
        "training job a trial in the tuning job's experiment; timed until `fit()` returns.",
        "- **start method**: slipway's jobs start as forks of a prestarted interpreter (the "
        "default, `job_start_method=forkserver`), which spares each job Python's own start; "
        f"the row '{SPAWN_ROW}' starts a new interpreter per job "
        "(`SLIPWAY_JOB_START_METHOD=spawn`), as the pool's workers do.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="Runs per side for one job.")
    parser.add_argument("--jobs", type=int, default=50, help="Jobs of the tuning job.")
    parser.add_argument("--work", type=float, default=0.5, help="Seconds of work, 2nd row.")
    parser.add_argument(
        "--repeats", type=int, default=5, help="Tuning runs per side, trivial script."
    )
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="slipway-bench-") as folder:
        root = Path(folder)
        for name in [n for n in os.environ if n.startswith("SLIPWAY_")]:
            del os.environ[name]
        os.environ["SLIPWAY_HOME"] = str(root / "home")
        source = root / "src"
        source.mkdir()
        (source / "train.py").write_text(SCRIPT)

        rows = {"trivial": 0.0, f"{args.work:g} s of work": args.work}
        single = {}
        tuning = {}
        for i, (label, work) in enumerate(rows.items()):
            single[label] = one_job(source, args.runs, work, f"w{i}")
            print(f"one job, {label}: {single[label]}", flush=True)
            repeats = args.repeats if work == 0 else 2
            tuning[label] = tuning_job(source, args.jobs, work, f"w{i}", repeats)
            print(f"tuning job, {label}: {tuning[label]}", flush=True)
        # The same trivial tuning job with a new interpreter per job, as the pool starts one.
        _use_start_method("spawn")
        tuning[SPAWN_ROW] = tuning_job(source, args.jobs, 0.0, "spawn", args.repeats)
        print(f"tuning job, {SPAWN_ROW}: {tuning[SPAWN_ROW]}", flush=True)

    report = _report(args, single, tuning, (load_before, os.getloadavg()[0]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "job_overhead.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
