"""The slipway half of ``tracking_vs_mlflow.py``: measure one figure, print it as JSON.

Runs under the project's ``.venv/bin/python``; the harness points ``SLIPWAY_HOME`` at a fresh
folder, so the store is a new ``<home>/slipway.db`` (SQLite) and ``<home>/artifacts``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

from slipway.experiments import Tracker, TrialComponent, search
from tracking_vs_mlflow import (
    SEARCH_PAGE,
    SEARCH_THRESHOLD,
    expected_matches,
    five_params,
    median,
    search_rows,
)


def stored_points(trial_component_name: str, metric_name: str) -> int:
    """How many values of one metric the store holds for a trial component."""
    component = TrialComponent.load(trial_component_name=trial_component_name)
    return next(m.count for m in component.metrics if m.metric_name == metric_name)


def log_metric(workdir: Path, n: int, repeats: int) -> dict:
    """Calls per second of ``tracker.log_metric``, counting the ``close()`` that flushes."""
    rates = []
    for rep in range(repeats):
        tracker = Tracker.create(display_name=f"log-metric-{rep}")
        start = time.perf_counter()
        for i in range(n):
            tracker.log_metric("loss", 1.0 / (i + 1), iteration_number=i)
        # close() blocks until every buffered point is written, so it belongs in the time.
        tracker.close()
        rates.append(n / (time.perf_counter() - start))
        stored = stored_points(tracker.trial_component.trial_component_name, "loss")
        assert stored == n, f"slipway stored {stored} of {n} metric points"
    return {
        "value": median(rates),
        "samples": rates,
        "method": f"median of {repeats} trackers, each {n:,} sequential "
        "`tracker.log_metric('loss', v, iteration_number=i)` calls, timed up to and "
        "including `close()`; every point verified stored.",
    }


def create(workdir: Path, n: int, repeats: int) -> dict:
    """Milliseconds per trial component that logs five parameters and three metric values."""
    per_item_ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            with Tracker.create(display_name=f"tc-{i}") as tracker:
                tracker.log_parameters(five_params(i))
                for step in range(3):
                    tracker.log_metric("loss", 1.0 / (step + 1), iteration_number=step)
        per_item_ms.append((time.perf_counter() - start) * 1000 / n)
    verify_created(n * repeats, tracker.trial_component_name)
    return {
        "value": median(per_item_ms),
        "samples": per_item_ms,
        "method": f"median of {repeats} rounds of {n:,} trial components, each "
        "`with Tracker.create(display_name=...) as t: t.log_parameters({5}); "
        "t.log_metric(...) x3`; every component verified stored.",
    }


def verify_created(total: int, last_name: str) -> None:
    """Check every component was stored, the last one with all it logged."""
    stored = sum(1 for _ in TrialComponent.list())
    assert stored == total, f"slipway stored {stored} of {total} trial components"
    last = TrialComponent.load(trial_component_name=last_name)
    assert len(last.parameters) == 5, f"last component has parameters {last.parameters}"
    assert stored_points(last_name, "loss") == 3, "last component lacks metric values"


def populate(n: int) -> None:
    """Create ``n`` trial components through the SDK's Tracker, as a user would."""
    for i, (accuracy, params) in enumerate(search_rows(n)):
        with Tracker.create(display_name=f"run-{i}") as tracker:
            tracker.log_parameters(params)
            tracker.log_metric("accuracy", accuracy)


def accuracy_of(component: TrialComponent) -> float:
    """The ``accuracy`` Max of one search result, read as a user would."""
    return next(m.max for m in component.metrics if m.metric_name == "accuracy")


def search_once(max_results: int | None) -> list[float]:
    results = search(
        resource="TrialComponent",
        search_expression={
            "Filters": [
                {
                    "Name": "Metrics.accuracy.Max",
                    "Operator": "GreaterThan",
                    "Value": str(SEARCH_THRESHOLD),
                }
            ]
        },
        sort_by="Metrics.accuracy.Max",
        sort_order="Descending",
        max_results=max_results,
    )
    # search() returns a lazy iterator: consuming it is part of the time, as with MLflow.
    return [accuracy_of(component) for component in results]


def verify_search(n: int) -> str:
    """Check slipway returns the best matches first, and only matches."""
    count, best = expected_matches(n)
    page = search_once(SEARCH_PAGE)
    assert len(page) == min(count, SEARCH_PAGE), f"page has {len(page)} trial components"
    assert page[0] == best and page == sorted(page, reverse=True), "page is not best first"
    everything = search_once(None)  # None: follow NextToken to the end
    assert len(everything) == count, f"slipway found {len(everything)}, expected {count}"
    return f"verified: slipway's search finds all {count:,} matching components, best first"


def search_figure(workdir: Path, n: int, repeats: int) -> dict:
    """Median milliseconds of a filtered, sorted search over ``n`` trial components."""
    started = time.perf_counter()
    populate(n)
    populate_s = time.perf_counter() - started
    verified = verify_search(n)
    search_once(SEARCH_PAGE)  # warm-up
    times_ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        search_once(SEARCH_PAGE)
        times_ms.append((time.perf_counter() - start) * 1000)
    return {
        "value": median(times_ms),
        "samples": times_ms,
        "populate_s": populate_s,
        "method": f"{n:,} trial components (accuracy + 5 params each) created with "
        f"`Tracker.create` ({populate_s:.1f} s); {verified}; median of {repeats} "
        "`slipway.experiments.search(resource='TrialComponent', Metrics.accuracy.Max "
        f"GreaterThan {SEARCH_THRESHOLD}, sort_by='Metrics.accuracy.Max' Descending, "
        f"max_results={SEARCH_PAGE})` after one warm-up.",
    }


FIGURES = {"log_metric": log_metric, "create": create, "search": search_figure}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figure", choices=FIGURES)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    options = parser.parse_args()
    # Keep stdout for our one line of JSON, whatever the code under test prints.
    with contextlib.redirect_stdout(sys.stderr):
        result = FIGURES[options.figure](options.workdir, options.n, options.repeats)
    result["n"] = options.n
    print(json.dumps(result))


if __name__ == "__main__":
    main()
