"""Entry points of the processes that the reliability tests start, run as scripts.

Each worker takes its settings (SLIPWAY_DATABASE_URL...) from the environment, as a
user's training script would.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

# A worker's points carry time stamps from here on, one second apart and distinct across
# workers, so the test knows which point is the last one.
FIRST_TIMESTAMP = 1_700_000_000.0
CHUNK = 500
START_TIMEOUT = 60.0


def metric_values(worker: int, count: int) -> list[float]:
    """The values worker number ``worker`` logs: the same in the worker and the test."""
    rng = random.Random(worker)
    return [rng.uniform(-1000.0, 1000.0) for _ in range(count)]


def metric_timestamps(worker: int, count: int) -> list[float]:
    first = FIRST_TIMESTAMP + worker * count
    return [first + i for i in range(count)]


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"worker: {path} did not appear within {START_TIMEOUT} s")
        time.sleep(0.01)


def log_metrics(trial_component_name: str, worker: int, count: int, go_file: Path) -> None:
    """Log ``count`` points into one component, in chunks, so background writes interleave."""
    from slipway.experiments.tracker import Tracker

    tracker = Tracker.load(trial_component_name=trial_component_name)
    values, stamps = metric_values(worker, count), metric_timestamps(worker, count)
    _wait_for(go_file)  # every worker starts logging at the same moment
    for i, (value, stamp) in enumerate(zip(values, stamps, strict=True)):
        tracker.log_metric("loss", value, timestamp=stamp, iteration_number=i)
        if i % CHUNK == CHUNK - 1:
            time.sleep(0.02)
    tracker.close()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command != "log-metrics":
        raise SystemExit(f"unknown worker command {command!r}")
    name, worker, count, go_file = args
    log_metrics(name, int(worker), int(count), Path(go_file))
