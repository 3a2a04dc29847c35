"""Model quality: captured predictions joined with uploaded ground truth, metrics equal to
scikit-learn's, and violations of a quality baseline's constraints."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from monitor_support import HOUR, platform, record, write_capture
from slipway.monitor import ModelQualityMonitor
from slipway.monitor.models import ExecutionStatus, GroundTruthRecord, PutGroundTruth

END = HOUR + dt.timedelta(hours=1)


def _binary(rows: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, rows)
    probability = np.clip(truth * 0.7 + 0.15 + rng.normal(0, noise, rows), 0.001, 0.999)
    return truth, probability.round(4)


@pytest.fixture
def monitor(tmp_path: Path):
    with platform(tmp_path / "home"):
        yield ModelQualityMonitor()


def _upload_labels(monitor, uri: str, labels: dict[str, object]) -> None:
    monitor.backend.put_ground_truth(
        PutGroundTruth(
            ground_truth_uri=uri,
            records=[GroundTruthRecord(event_id=k, label=v) for k, v in labels.items()],
            collection_time=HOUR + dt.timedelta(minutes=30),
        )
    )


def test_binary_classification_quality_is_joined_measured_and_checked(monitor, tmp_path):
    truth, probability = _binary(1000, 0.1, seed=1)
    baseline = tmp_path / "validation.csv"
    pd.DataFrame({"label": truth, "probability": probability}).to_csv(baseline, index=False)
    monitor.suggest_baseline(
        str(baseline),
        "csv",
        str(tmp_path / "quality-baseline"),
        problem_type="BinaryClassification",
        probability_attribute="probability",
        ground_truth_attribute="label",
    )
    constraints = monitor.suggested_constraints().body_dict["binary_classification_constraints"]
    assert constraints["accuracy"]["comparison_operator"] == "LessThanThreshold"
    assert constraints["false_positive_rate"]["comparison_operator"] == "GreaterThanThreshold"
    assert constraints["accuracy"]["threshold"] == pytest.approx(
        skm.accuracy_score(truth, probability >= 0.5)
    )

    # Production: a worse model; labels come later, for most but not all predictions.
    truth, probability = _binary(400, 0.35, seed=2)
    lines = [
        record(
            str(p),
            output=f"{p}",
            event_id=f"e{i}",
            inference_id=f"inf-{i}" if i % 2 else None,
            when=HOUR + dt.timedelta(seconds=i),
        )
        for i, p in enumerate(probability)
    ]
    for line, p in zip(lines, probability, strict=True):
        line["captureData"]["endpointInput"]["data"] = "1,2,3"
        line["captureData"]["endpointOutput"]["data"] = str(p)
    write_capture(tmp_path / "capture", "scorer", lines)
    labelled = {(f"inf-{i}" if i % 2 else f"e{i}"): int(t) for i, t in enumerate(truth) if i % 10}
    _upload_labels(monitor, str(tmp_path / "labels"), labelled)
    monitor.create_monitoring_schedule(
        "scorer",
        ground_truth_input=str(tmp_path / "labels"),
        output_s3_uri=str(tmp_path / "out"),
        monitor_schedule_name="scorer-quality",
        data_capture_uri=str(tmp_path / "capture"),
        probability_attribute="0",
    )
    execution = monitor.run_execution(HOUR, END, timeout=60)
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED_WITH_VIOLATIONS, (
        execution.failure_reason
    )
    statistics = json.loads(Path(execution.statistics_uri).read_text())
    metrics = statistics["binary_classification_metrics"]
    joined = np.array([i for i in range(400) if i % 10])
    t, p = truth[joined], probability[joined]
    predicted = (p >= 0.5).astype(int)
    assert statistics["dataset"]["item_count"] == len(joined)
    assert metrics["accuracy"]["value"] == pytest.approx(skm.accuracy_score(t, predicted))
    assert metrics["precision"]["value"] == pytest.approx(skm.precision_score(t, predicted))
    assert metrics["recall"]["value"] == pytest.approx(skm.recall_score(t, predicted))
    assert metrics["f1"]["value"] == pytest.approx(skm.f1_score(t, predicted))
    assert metrics["auc"]["value"] == pytest.approx(skm.roc_auc_score(t, p))
    assert metrics["accuracy"]["standard_deviation"] > 0  # 360 samples: 5 subsamples
    assert sum(sum(row.values()) for row in metrics["confusion_matrix"].values()) == len(joined)
    violations = json.loads(Path(execution.constraint_violations_uri).read_text())["violations"]
    found = {v["metric_name"]: v for v in violations}
    assert found["accuracy"]["constraint_check_type"] == "LessThanThreshold"
    assert found["accuracy"]["description"].startswith("Metric accuracy with ")


def test_regression_quality_reads_a_json_attribute(monitor, tmp_path):
    rng = np.random.default_rng(4)
    truth = rng.normal(10, 3, 300).round(3)
    predicted = (truth + rng.normal(0, 1, 300)).round(3)
    lines = [
        record(
            "1,2",
            output=json.dumps({"predicted": float(v)}),
            output_type="application/json",
            event_id=f"r{i}",
            when=HOUR + dt.timedelta(seconds=i),
        )
        for i, v in enumerate(predicted)
    ]
    write_capture(tmp_path / "capture", "prices", lines)
    _upload_labels(
        monitor, str(tmp_path / "labels"), {f"r{i}": float(v) for i, v in enumerate(truth)}
    )
    monitor.create_monitoring_schedule(
        "prices",
        ground_truth_input=str(tmp_path / "labels"),
        output_s3_uri=str(tmp_path / "o"),
        monitor_schedule_name="prices-quality",
        data_capture_uri=str(tmp_path / "capture"),
        problem_type="Regression",
        inference_attribute="predicted",
    )
    execution = monitor.run_execution(HOUR, END, timeout=60)
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED
    metrics = json.loads(Path(execution.statistics_uri).read_text())["regression_metrics"]
    assert metrics["mae"]["value"] == pytest.approx(skm.mean_absolute_error(truth, predicted))
    assert metrics["rmse"]["value"] == pytest.approx(
        np.sqrt(skm.mean_squared_error(truth, predicted))
    )
    assert metrics["r2"]["value"] == pytest.approx(skm.r2_score(truth, predicted))
    report = Path(execution.report_uri).read_text()
    assert "Model quality" in report and "rmse" in report


def test_no_labels_yet_is_not_a_failure(monitor, tmp_path):
    write_capture(tmp_path / "capture", "late", [record("1", output="0.4", event_id="x")])
    monitor.create_monitoring_schedule(
        "late",
        ground_truth_input=str(tmp_path / "labels"),
        output_s3_uri=str(tmp_path / "o"),
        monitor_schedule_name="late-quality",
        data_capture_uri=str(tmp_path / "capture"),
        problem_type="BinaryClassification",
    )
    execution = monitor.run_execution(HOUR, END, timeout=60)
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED
    assert "No captured predictions with ground truth" in execution.exit_message
