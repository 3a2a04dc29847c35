"""The HTML report (by URL and from the CLI), per-feature metrics on /metrics, and the
`slipway monitor` commands, against a real server; and what the report's charts draw."""

from __future__ import annotations

import datetime as dt
import html as markup
import json
import os
import re
import stat
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client import generate_latest
from typer.testing import CliRunner

from monitor_support import HOUR, csv_captures, platform, table, write_capture
from slipway.monitor import DatasetFormat, DefaultModelMonitor, metrics

END = HOUR + dt.timedelta(hours=1)


@pytest.fixture
def cli():
    from slipway import cli as root

    if not any(group.name == "monitor" for group in root.app.registered_groups):
        root._mount_capabilities()
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(root.app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


@pytest.mark.postgres
def test_report_metrics_and_cli_against_a_server(slipway_server, tmp_path, unique, cli):
    train = tmp_path / "train.csv"
    table(2000).to_csv(train, index=False)
    endpoint, name = f"ep-{unique}", f"report-{unique}"
    write_capture(tmp_path / "capture", endpoint, csv_captures(table(400, seed=3, shift=30_000)))
    with platform(tmp_path / "home", slipway_server):
        out = cli(
            "monitor", "baseline", "--dataset", str(train), "--output", str(tmp_path / "baseline")
        )
        assert "profiled 2000 rows, 4 features" in out
        cli(
            "monitor",
            "schedule",
            "create",
            name,
            "--endpoint",
            endpoint,
            "--output",
            str(tmp_path / "out"),
            "--statistics",
            str(tmp_path / "baseline/statistics.json"),
            "--constraints",
            str(tmp_path / "baseline/constraints.json"),
            "--capture-uri",
            str(tmp_path / "capture"),
        )
        run = json.loads(
            cli(
                "monitor",
                "executions",
                "run",
                name,
                "--start",
                HOUR.isoformat(),
                "--end",
                END.isoformat(),
                "--json",
            )
        )
        assert run["MonitoringExecutionStatus"] == "CompletedWithViolations"
        execution = run["MonitoringExecutionName"]
        listed = cli("monitor", "executions", "list", "--schedule", name)
        assert execution in listed and "CompletedWithViolations" in listed
        assert name in cli("monitor", "schedule", "list", "--endpoint", endpoint)

        base = f"{slipway_server}/api/v1/monitoring-executions/{execution}"
        page = httpx.get(f"{base}/report")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert '<script src="plotly.min.js"></script>' in html
        assert 'class="feature violated" data-feature="income"' in html
        assert 'class="feature" data-feature="score"' in html
        assert "Baseline drift distance: " in html
        script = httpx.get(f"{base}/plotly.min.js")
        assert script.status_code == 200 and len(script.content) > 1_000_000
        assert "data-figure" in httpx.get(f"{base}/report.js").text

        metrics = httpx.get(f"{slipway_server}/metrics").text
        labels = f'endpoint="{endpoint}",monitoring_schedule="{name}"'
        drift = [
            line
            for line in metrics.splitlines()
            if line.startswith(f"feature_baseline_drift_income{{{labels}")
        ]
        assert drift and float(drift[0].rsplit(" ", 1)[1]) > 0.1
        assert f"feature_non_null_score{{{labels}}} 1.0" in metrics
        assert f'feature_data_income{{{labels},statistic="SampleCount"}} 400.0' in metrics

        saved = tmp_path / "reports" / "r.html"
        cli("monitor", "report", execution, "--output", str(saved))
        assert saved.read_text() == html
        assert (saved.parent / "plotly.min.js").stat().st_size > 1_000_000
        assert "data-figure" in (saved.parent / "report.js").read_text()
        opened = tmp_path / "opened.txt"
        browser = tmp_path / "browser.sh"
        browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
        browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
        os.environ["BROWSER"] = str(browser)
        try:
            cli("monitor", "report", execution, "--open")
        finally:
            del os.environ["BROWSER"]
        assert opened.read_text().strip().startswith("file://")
        assert opened.read_text().strip().endswith(f"{execution}.html")


@pytest.mark.postgres
def test_a_missing_report_is_a_404_with_the_reason(slipway_server):
    response = httpx.get(f"{slipway_server}/api/v1/monitoring-executions/nope/report")
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"


def _figure(html: str, feature: str) -> dict[str, dict]:
    """The traces, by name, of the figure the report draws for one feature."""
    found = re.search(rf'data-feature="{feature}">.*?data-figure="(.*?)"', html, re.DOTALL)
    assert found, f"no chart for {feature}"
    figure = json.loads(markup.unescape(found.group(1)))
    return {trace["name"]: trace for trace in figure["data"]}


def test_a_shifted_feature_is_charted_whole_beyond_the_baseline_range(tmp_path, unique):
    train, shifted = table(2000), table(400, seed=3, shift=30_000)
    train.to_csv(tmp_path / "train.csv", index=False)
    endpoint = f"ep-{unique}"
    write_capture(tmp_path / "capture", endpoint, csv_captures(shifted))
    with platform(tmp_path / "home"):
        monitor = DefaultModelMonitor()
        monitor.suggest_baseline(
            str(tmp_path / "train.csv"), DatasetFormat.csv(), str(tmp_path / "baseline")
        )
        monitor.create_monitoring_schedule(
            endpoint_input=endpoint,
            output_s3_uri=str(tmp_path / "out"),
            monitor_schedule_name=f"shift-{unique}",
            data_capture_uri=str(tmp_path / "capture"),
        )
        execution = monitor.run_execution(HOUR, END, timeout=60).monitoring_execution_name
        html = monitor.backend.read_execution_file(execution, "report.html").decode()
    income = _figure(html, "income")
    for trace in income.values():
        assert sum(trace["y"]) == pytest.approx(1.0, abs=1e-6)
    current = income["current"]
    # Moving each value to its bin's centre moves the mean by at most half a bin.
    mean = sum(x * y for x, y in zip(current["x"], current["y"], strict=True))
    assert mean == pytest.approx(shifted["income"].mean(), abs=current["width"] / 2)
    # The values above the baseline's largest: the bins wholly above it hold no more of
    # them, the bins reaching above it no less.
    top = train["income"].max()
    beyond = (shifted["income"] > top).mean()
    bins = list(zip(current["customdata"], current["y"], strict=True))
    assert beyond > 0.1
    assert sum(y for (low, _), y in bins if low >= top) <= beyond
    assert sum(y for (_, high), y in bins if high > top) >= beyond


def test_a_source_that_cannot_be_read_leaves_the_others_on_metrics() -> None:
    # A service whose database is gone (dropped, unreachable) must not break /metrics.
    class Broken:
        def latest_metrics(self):
            raise ConnectionError("database 'gone' does not exist")

    class Working:
        def latest_metrics(self):
            row = SimpleNamespace(
                schedule_name="nightly", endpoint_name="churn", metric="drift",
                feature="age", statistic="", value=0.25,
            )  # fmt: skip
            return [row]

    broken, working = Broken(), Working()
    metrics.publish(broken)
    metrics.publish(working)
    text = generate_latest().decode()
    assert 'drift_age{endpoint="churn",monitoring_schedule="nightly"} 0.25' in text
