"""Executions over capture files in the reference format: the six check types, drift
methods, edited constraints, and bad input that must end in a violation or a clear
failure without losing what was stored."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from monitor_support import (
    HOUR,
    base64_record,
    csv_captures,
    csv_line,
    platform,
    record,
    table,
    write_capture,
)
from slipway.monitor import DatasetFormat, DefaultModelMonitor
from slipway.monitor.models import ExecutionStatus

END = HOUR + dt.timedelta(hours=1)


class Setup:
    def __init__(self, tmp_path: Path, monitor: DefaultModelMonitor) -> None:
        self.tmp = tmp_path
        self.monitor = monitor
        self.capture = tmp_path / "capture"
        self.capture.mkdir()
        train = tmp_path / "train.csv"
        table(3000, seed=1).to_csv(train, index=False)
        monitor.suggest_baseline(
            str(train), DatasetFormat.csv(header=True), str(tmp_path / "baseline")
        )
        self.constraints = Path(monitor.suggested_constraints().file_s3_uri)

    def schedule(self, endpoint: str = "churn", **kwargs) -> None:
        self.monitor.create_monitoring_schedule(
            endpoint_input=endpoint,
            output_s3_uri=str(self.tmp / "results"),
            monitor_schedule_name=kwargs.pop("name", f"{endpoint}-monitor"),
            data_capture_uri=str(self.capture),
            **kwargs,
        )

    def run(self):
        execution = self.monitor.run_execution(HOUR, END, timeout=60)
        violations = None
        if execution.constraint_violations_uri:
            violations = json.loads(Path(execution.constraint_violations_uri).read_text())
        return execution, violations

    def edit_constraints(self, change) -> None:
        document = json.loads(self.constraints.read_text())
        change(document)
        self.constraints.write_text(json.dumps(document))


@pytest.fixture
def setup(tmp_path: Path):
    with platform(tmp_path / "home"):
        yield Setup(tmp_path, DefaultModelMonitor())


def _by_check(violations: dict) -> dict[tuple[str, str], str]:
    return {
        (v["feature_name"], v["constraint_check_type"]): v["description"]
        for v in violations["violations"]
    }


def test_data_like_the_baseline_completes_without_violations(setup):
    write_capture(setup.capture, "churn", csv_captures(table(800, seed=2)))
    setup.schedule()
    execution, violations = setup.run()
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED, execution
    assert violations == {"violations": []}
    assert execution.record_count == 800
    statistics = json.loads(Path(execution.statistics_uri).read_text())
    assert statistics["dataset"]["item_count"] == 800
    assert [f["name"] for f in statistics["features"]] == ["age", "income", "state", "score"]


def test_drift_new_categories_and_gaps_are_reported_with_feature_and_numbers(setup):
    current = table(800, seed=3, shift=30_000)
    current.loc[:100, "state"] = "ZZ"
    current.loc[:200, "score"] = None
    write_capture(setup.capture, "churn", csv_captures(current))
    setup.schedule()
    execution, violations = setup.run()
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED_WITH_VIOLATIONS
    assert execution.exit_message.startswith("CompletedWithViolations")
    found = _by_check(violations)
    assert set(found) == {
        ("income", "baseline_drift_check"),
        ("state", "categorical_values_check"),
        ("score", "completeness_check"),
    }
    drift = found[("income", "baseline_drift_check")]
    assert drift.startswith("Baseline drift distance: ")
    assert "exceeds threshold: 0.1 for feature 'income'" in drift
    assert "'ZZ'" in found[("state", "categorical_values_check")]
    assert "12.62%" in found[("state", "categorical_values_check")]  # 101 of 800
    assert "201 of 800 values missing" in found[("score", "completeness_check")]


def test_strings_in_a_numeric_feature_fail_the_data_type_check(setup):
    current = table(400, seed=4).astype({"age": object})
    current.loc[:99, "age"] = "unknown"
    write_capture(setup.capture, "churn", csv_captures(current))
    setup.schedule()
    _, violations = setup.run()
    description = _by_check(violations)[("age", "data_type_check")]
    assert "Expected data type: Integral" in description
    assert "% of data is Integral (100 String of " in description


def test_json_records_with_a_new_key_and_a_missing_one_fail_the_column_checks(setup):
    rows = table(300, seed=5).drop(columns=["score"]).assign(channel="web")
    lines = [
        record(
            json.dumps({k: (None if pd.isna(v) else v) for k, v in row.items()}),
            "JSON",
            "application/json",
        )
        for row in rows.to_dict(orient="records")
    ]
    write_capture(setup.capture, "churn", lines)
    setup.schedule()
    execution, violations = setup.run()
    found = _by_check(violations)
    assert ("score", "missing_column_check") in found
    assert ("channel", "extra_column_check") in found
    assert (
        "4 columns in the current data, 4 in the baseline"
        in found[("score", "missing_column_check")]
    )
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED_WITH_VIOLATIONS


def test_csv_rows_with_too_few_values_leave_columns_missing(setup):
    lines = [record(csv_line(list(row)[:3])) for row in table(200, seed=6).itertuples(index=False)]
    write_capture(setup.capture, "churn", lines)
    setup.schedule()
    _, violations = setup.run()
    assert ("score", "missing_column_check") in _by_check(violations)


def test_edited_constraints_are_honoured(setup):
    write_capture(setup.capture, "churn", csv_captures(table(800, seed=3, shift=30_000)))

    def edit(document):
        document["monitoring_config"]["distribution_constraints"]["comparison_threshold"] = 0.9
        state = next(f for f in document["features"] if f["name"] == "state")
        state["monitoringConfigOverrides"] = {"perform_comparison": "Disabled"}
        score = next(f for f in document["features"] if f["name"] == "score")
        score["completeness"] = 1.0

    setup.edit_constraints(edit)
    setup.schedule()
    execution, violations = setup.run()
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED
    assert violations == {"violations": []}

    def tighten(document):
        document["monitoring_config"]["distribution_constraints"]["comparison_threshold"] = 0.0
        document["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simple"

    setup.edit_constraints(tighten)
    _, violations = setup.run()
    assert ("age", "baseline_drift_check") in _by_check(violations)


@pytest.mark.parametrize(
    ("numerical", "categorical", "threshold"),
    [("PSI", "PSI", 0.2), ("Wasserstein", "ChiSquared", 0.1)],
)
def test_other_drift_methods_detect_a_shift(setup, numerical, categorical, threshold):
    current = table(800, seed=8, shift=30_000)
    current["state"] = "CA"
    write_capture(setup.capture, "churn", csv_captures(current))

    def edit(document):
        distribution = document["monitoring_config"]["distribution_constraints"]
        distribution.update(
            numerical_drift_method=numerical,
            categorical_drift_method=categorical,
            comparison_threshold=threshold,
        )

    setup.edit_constraints(edit)
    setup.schedule()
    _, violations = setup.run()
    found = _by_check(violations)
    assert numerical in found[("income", "baseline_drift_check")]
    assert ("state", "baseline_drift_check") in found
    assert ("score", "baseline_drift_check") not in found


def test_an_empty_window_completes_and_says_so(setup):
    write_capture(
        setup.capture, "churn", csv_captures(table(50)), when=HOUR - dt.timedelta(hours=3)
    )
    setup.schedule()
    execution, violations = setup.run()
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED
    assert execution.exit_message.startswith("No captured data for endpoint churn")
    assert violations == {"violations": []}


def test_base64_records_are_decoded_by_their_content_type(setup):
    rows = table(300, seed=9)
    lines = [base64_record(csv_line(list(row)), "text/csv") for row in rows.itertuples(index=False)]
    write_capture(setup.capture, "churn", lines)
    setup.schedule()
    execution, _ = setup.run()
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED
    assert execution.record_count == 300


def test_unreadable_records_are_counted_and_all_unreadable_fails_clearly(setup):
    lines = [*csv_captures(table(200, seed=10)), "{not json", json.dumps({"foo": 1})]
    path = write_capture(setup.capture, "churn", lines)
    setup.schedule()
    execution, _ = setup.run()
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED
    assert execution.unparseable_record_count == 2
    assert "2 records could not be read" in execution.exit_message
    path.write_text("garbage\n" + json.dumps(record("x", "BASE64", "image/png")) + "\n")
    failed, _ = setup.run()
    assert failed.monitoring_execution_status == ExecutionStatus.FAILED
    assert "none of the 2 captured records in the window could be read" in failed.failure_reason
    assert "not a JSON record" in failed.failure_reason


def test_a_constraints_file_that_breaks_the_schema_fails_without_losing_results(setup):
    write_capture(setup.capture, "churn", csv_captures(table(200, seed=11)))
    setup.schedule()
    good, _ = setup.run()
    kept = Path(good.statistics_uri).read_bytes()
    setup.edit_constraints(lambda d: d["features"][0].update(completeness="high"))
    failed, _ = setup.run()
    assert failed.monitoring_execution_status == ExecutionStatus.FAILED
    assert "does not match the Constraints schema" in failed.failure_reason
    assert "features.0.completeness" in failed.failure_reason
    assert Path(good.statistics_uri).read_bytes() == kept
    from slipway.errors import ValidationError

    with pytest.raises(ValidationError, match=r"features\.0\.completeness"):
        setup.schedule(name="another")


def test_a_preprocessor_shapes_records_and_one_that_raises_fails_the_execution(setup):
    rows = table(300, seed=12)
    write_capture(setup.capture, "churn", csv_captures(rows))
    script = setup.tmp / "pre.py"
    script.write_text(
        "def preprocess_handler(inference_record, logger):\n"
        "    values = inference_record.endpoint_input.data.split(',')\n"
        "    if values[2] == 'WA':\n"
        "        return []\n"
        "    return {'age': values[0], 'income': values[1], 'state': values[2].lower(),\n"
        "            'score': values[3]}\n"
    )
    setup.schedule(record_preprocessor_script=str(script))
    execution, violations = setup.run()
    statistics = json.loads(Path(execution.statistics_uri).read_text())
    assert statistics["dataset"]["item_count"] == int((rows["state"] != "WA").sum())
    assert ("state", "categorical_values_check") in _by_check(violations)
    script.write_text("def preprocess_handler(inference_record):\n    raise ValueError('boom')\n")
    failed, _ = setup.run()
    assert failed.monitoring_execution_status == ExecutionStatus.FAILED
    assert "the record preprocessor raised ValueError('boom') on record" in failed.failure_reason


def test_a_post_analytics_script_sees_the_contract_and_adds_files(setup):
    write_capture(setup.capture, "churn", csv_captures(table(100, seed=13)))
    script = setup.tmp / "post.py"
    script.write_text(
        "import os, pathlib\n"
        "def postprocess_handler():\n"
        "    out = pathlib.Path(os.environ['output_path'])\n"
        "    assert (out / 'statistics.json').exists()\n"
        "    (out / 'extra.txt').write_text(os.environ['sagemaker_endpoint_name'])\n"
    )
    setup.schedule(post_analytics_processor_script=str(script))
    execution, _ = setup.run()
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED
    extra = Path(execution.statistics_uri).parent / "extra.txt"
    assert extra.read_text() == "churn"
