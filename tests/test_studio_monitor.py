"""Studio's Model Monitor pages, as a user sees them: a real `slipway server` driven by
headless Chromium, over a real baseline and real executions (one that finds drift, new
categories and gaps, one over data like the baseline) of a schedule, and a stopped
schedule that never ran."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from monitor_support import HOUR, csv_captures, table, write_capture
from slipway.monitor import DatasetFormat, DefaultModelMonitor
from slipway.monitor import formats as f
from slipway.monitor.baseline import profile_dataset, statistics_of
from slipway.monitor.distributions import BINS, FeatureChart, feature_charts, shown
from slipway.monitor.models import ExecutionStatus
from studio_support import Page, Studio, figure, needs_chromium, signed_in, studio_server

pytestmark = needs_chromium

CLEAN_HOUR = HOUR - dt.timedelta(hours=3)
SHIFT = 30_000


@dataclass
class Seeded:
    studio: Studio
    drifted: str
    clean: str
    failed: str
    expression: str  # of the schedules that must not fire during the tests


def _far_from_now() -> str:
    """A daily expression twelve hours away: no firing of its own during the tests."""
    return f"cron(0 {(dt.datetime.now(dt.UTC).hour + 12) % 24} ? * * *)"


def _seed(data: Path, facts: dict[str, str]) -> None:
    """A baseline, a schedule with a drifted and a clean execution, a stopped schedule,
    and a schedule whose one execution failed: none of its records could be read."""
    capture = data / "capture"
    train = data / "train.csv"
    table(3000, seed=1).to_csv(train, index=False)
    facts["expression"] = _far_from_now()
    churn = DefaultModelMonitor()
    churn.suggest_baseline(str(train), DatasetFormat.csv(header=True), str(data / "baseline"))
    churn.create_monitoring_schedule(
        endpoint_input="churn",
        output_s3_uri=str(data / "results"),
        monitor_schedule_name="churn-monitor",
        data_capture_uri=str(capture),
        schedule_cron_expression=facts["expression"],
    )
    drifted = table(800, seed=3, shift=SHIFT)
    drifted.loc[:100, "state"] = "ZZ"
    drifted.loc[:200, "score"] = None
    write_capture(capture, "churn", csv_captures(drifted), HOUR)
    write_capture(capture, "churn", csv_captures(table(800, seed=2), CLEAN_HOUR), CLEAN_HOUR)
    hour = dt.timedelta(hours=1)
    clean = churn.run_execution(CLEAN_HOUR, CLEAN_HOUR + hour, timeout=60)
    found = churn.run_execution(HOUR, HOUR + hour, timeout=60)
    assert clean.monitoring_execution_status == ExecutionStatus.COMPLETED, clean
    assert found.monitoring_execution_status == ExecutionStatus.COMPLETED_WITH_VIOLATIONS, found
    facts.update(drifted=found.monitoring_execution_name, clean=clean.monitoring_execution_name)
    fraud = DefaultModelMonitor()
    fraud.create_monitoring_schedule(
        endpoint_input="fraud",
        output_s3_uri=str(data / "results"),
        statistics=churn.baseline_statistics(),
        constraints=churn.suggested_constraints(),
        monitor_schedule_name="fraud-monitor",
        data_capture_uri=str(capture),
    )
    fraud.stop_monitoring_schedule()
    broken = DefaultModelMonitor()
    broken.create_monitoring_schedule(
        endpoint_input="broken",
        output_s3_uri=str(data / "results"),
        statistics=churn.baseline_statistics(),
        constraints=churn.suggested_constraints(),
        monitor_schedule_name="broken-monitor",
        data_capture_uri=str(capture),
        schedule_cron_expression=facts["expression"],
    )
    write_capture(capture, "broken", ["garbage", "more garbage"], HOUR)
    failed = broken.run_execution(HOUR, HOUR + hour, timeout=60)
    assert failed.monitoring_execution_status == ExecutionStatus.FAILED, failed
    facts["failed"] = failed.monitoring_execution_name


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    data = tmp_path_factory.mktemp("monitor-data")
    facts: dict[str, str] = {}
    home = tmp_path_factory.mktemp("home")
    with studio_server(home, lambda: _seed(data, facts)) as running:
        yield Seeded(
            running, facts["drifted"], facts["clean"], facts["failed"], facts["expression"]
        )


@pytest.fixture
def page(seeded: Seeded, browser: Any) -> Iterator[Page]:
    with signed_in(seeded.studio, browser) as tab:
        yield tab


def _cells(tab: Any, table: str, row_text: str) -> list[str]:
    return tab.locator(f"{table} tbody tr", has_text=row_text).locator("td").all_inner_texts()


def _ys(tab: Any, selector: str) -> dict[str, tuple[list[Any], list[float]]]:
    """Each drawn trace's x and y values, by trace name."""
    traces = tab.eval_on_selector(selector, "e => e.data.map(t => [t.name, t.x, t.y])")
    return {name: (x, y) for name, x, y in traces}


def test_schedules_list_status_endpoint_type_expression_and_last_execution(
    page: Page, seeded: Seeded
) -> None:
    tab = page.open("/monitor", "monitor-schedules")
    churn = _cells(tab, "#schedules", "churn-monitor")
    fraud = _cells(tab, "#schedules", "fraud-monitor")
    assert churn[1:5] == ["Scheduled", "churn", "DataQuality", seeded.expression]
    assert churn[6] == "CompletedWithViolations · 3 violations"
    assert fraud[1:3] == ["Stopped", "fraud"] and fraud[6] == "none yet"


def test_filtering_schedules_by_status_and_endpoint(page: Page) -> None:
    tab = page.open("/monitor?status=Stopped")
    stopped = tab.locator("#schedules tbody td:first-child").all_inner_texts()
    tab = page.open("/monitor?endpoint=churn")
    on_churn = tab.locator("#schedules tbody td:first-child").all_inner_texts()
    assert stopped == ["fraud-monitor"] and on_churn == ["churn-monitor"]


def test_a_schedule_lists_its_executions_with_status_and_violation_counts(
    page: Page, seeded: Seeded
) -> None:
    tab = page.open("/monitor")
    tab.click("#schedules >> text=churn-monitor")
    tab.wait_for_url("**/monitor/schedules/churn-monitor")
    page.saved("monitor-schedule")
    names = tab.locator("#executions tbody td:first-child").all_inner_texts()
    drifted = _cells(tab, "#executions", seeded.drifted)
    clean = _cells(tab, "#executions", seeded.clean)
    assert names == [seeded.drifted, seeded.clean]  # newest first
    assert (drifted[1], drifted[5], drifted[6]) == ("CompletedWithViolations", "800", "3")
    assert (clean[1], clean[5], clean[6]) == ("Completed", "800", "0")
    assert "report" in drifted[7]
    history = _ys(tab, "#violation-history")["violations"]
    assert history[1] == [0, 3]  # oldest first: the clean window, then the drifted one
    tab.click(f"#executions >> text={seeded.drifted}")
    tab.wait_for_url(f"**/monitor/executions/{seeded.drifted}")
    assert tab.inner_text("#execution-status") == "CompletedWithViolations"


def test_an_execution_shows_its_violations_by_feature_and_check(page: Page, seeded: Seeded) -> None:
    tab = page.open(f"/monitor/executions/{seeded.drifted}", "monitor-execution")
    rows = tab.locator("#violations tbody tr").all()
    found = {tuple(row.locator("td").all_inner_texts()[:2]) for row in rows}
    assert found == {
        ("income", "baseline_drift_check"),
        ("state", "categorical_values_check"),
        ("score", "completeness_check"),
    }
    assert "201 of 800 values missing" in tab.inner_text("#violations")


def test_distributions_draw_baseline_and_current_of_every_feature(
    page: Page, seeded: Seeded
) -> None:
    tab = page.open(f"/monitor/executions/{seeded.drifted}")
    features = tab.eval_on_selector_all(
        ".chart[data-feature]", "es => es.map(e => e.dataset.feature)"
    )
    assert features == ["age", "income", "state", "score"]
    # age holds the integers 18 to 89: 18 bins of 4 integers each
    for feature, bins in (("age", 18), ("income", BINS), ("score", BINS)):
        traces = figure(tab, f"[data-feature={feature}]")
        assert traces == [
            {"type": "bar", "name": "baseline", "n": bins},
            {"type": "bar", "name": "current", "n": bins},
        ], feature
    income = _ys(tab, "[data-feature=income]")
    means = {
        side: sum(x * y for x, y in zip(*income[side], strict=True))
        for side in ("baseline", "current")
    }
    # The current data was shifted by SHIFT: its bars sit that far to the right.
    assert means["current"] - means["baseline"] == pytest.approx(SHIFT, rel=0.15)
    assert all(sum(y) == pytest.approx(1.0, abs=1e-6) for _, y in income.values())
    state = _ys(tab, "[data-feature=state]")
    assert sorted(state["current"][0]) == ["CA", "NY", "TX", "WA", "ZZ"]
    shares = dict(zip(*state["current"], strict=True))
    baseline = dict(zip(*state["baseline"], strict=True))
    assert shares["ZZ"] == pytest.approx(101 / 800) and baseline["ZZ"] == 0
    flagged = tab.locator(".monitor-feature.flagged .chart").evaluate_all(
        "es => es.map(e => e.dataset.feature)"
    )
    assert flagged == ["income", "state", "score"]


def test_an_execution_embeds_its_report(page: Page, seeded: Seeded) -> None:
    tab = page.open(f"/monitor/executions/{seeded.drifted}")
    report = tab.frame_locator("#report")
    report.locator("text=baseline_drift_check").first.wait_for()
    drawn = report.locator(".js-plotly-plot")
    drawn.first.wait_for()
    assert drawn.count() == 4
    page.saved("monitor-execution-report")


def test_an_execution_without_violations_says_so(page: Page, seeded: Seeded) -> None:
    tab = page.open(f"/monitor/executions/{seeded.clean}", "monitor-execution-clean")
    assert "No violations" in tab.inner_text("#violations")
    assert tab.locator(".monitor-feature.flagged").count() == 0
    assert len(figure(tab, "[data-feature=income]")) == 2


def test_a_failed_execution_shows_why_and_no_results(page: Page, seeded: Seeded) -> None:
    tab = page.open(f"/monitor/executions/{seeded.failed}", "monitor-execution-failed")
    assert tab.inner_text("#execution-status") == "Failed"
    assert "none of the 2 captured records in the window could be read" in tab.inner_text(
        "main .error"
    )
    assert "wrote no constraint_violations.json" in tab.inner_text("main")
    assert tab.locator("#violations, .chart, #report").count() == 0


def test_a_type_change_and_a_new_column_still_chart_both_sides(tmp_path: Path) -> None:
    def statistics(frame: pd.DataFrame, name: str) -> Any:
        frame.to_csv(tmp_path / name, index=False)
        return statistics_of(profile_dataset(str(tmp_path / name), "csv"))

    baseline = statistics(pd.DataFrame({"age": [20, 30, 40], "state": ["CA", "NY", "CA"]}), "b")
    current = statistics(
        pd.DataFrame({"age": ["old", "young", "old"], "state": ["CA"] * 3, "new": [1.5, 2, 3]}),
        "c",
    )
    charts = {chart.name: chart.figure["data"] for chart in feature_charts(baseline, current, [])}
    assert list(charts) == ["age", "state", "new"]
    # 20 to 40 in bins of 2 integers; no numbers now, so nothing is drawn for current
    assert [len(t["x"]) for t in charts["age"]] == [11, 0]
    assert charts["state"][1]["y"] == [1.0, 0.0]  # CA only, NY gone
    assert [len(t["x"]) for t in charts["new"]] == [0, BINS]  # not in the baseline


def test_a_page_draws_every_flagged_feature_and_others_up_to_the_limit() -> None:
    flag = f.Violation(feature_name="f97", constraint_check_type="data_type_check", description="")
    charts = [FeatureChart(f"f{i}", "Integral", {}, [flag] if i == 97 else []) for i in range(100)]
    kept, hidden = shown(charts, limit=10)
    assert [c.name for c in kept] == [f"f{i}" for i in range(9)] + ["f97"]
    assert hidden == 90


def test_missing_schedules_and_executions_are_404_pages_naming_them(page: Page) -> None:
    for path, name in (
        ("/monitor/schedules/no-such-schedule", "no-such-schedule"),
        ("/monitor/executions/no-such-execution", "no-such-execution"),
    ):
        response = page.tab.goto(page.url + path)
        assert response.status == 404, path
        assert name in page.tab.inner_text("main")
    response = page.tab.goto(page.url + "/monitor?status=Sleeping")
    assert response.status == 422
    assert "'Sleeping'" in page.tab.inner_text("main")
