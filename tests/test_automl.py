"""AutoML end to end on tiny data: stages, inferred problem, candidates as trials,
notebooks executed, the best candidate registered, deployed and invoked with raw rows."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from slipway.automl import AutoML
from slipway.automl.notebooks import execute
from slipway.errors import NotFound, ValidationError
from slipway.inference import load_model
from slipway.jobs import lifecycle
from slipway.jobs.models import JobKind
from slipway.platform import automl_backend, services


def _classification_csv(path: Path) -> Path:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = X.iloc[:160, :5].copy()
    frame["colour"] = np.where(np.arange(160) % 3 == 0, "red", "blue")
    frame["row_id"] = range(160)
    frame["empty"] = np.nan
    frame["diagnosis"] = np.where(y.iloc[:160] == 1, "benign", "malignant")
    frame.to_csv(path, index=False)
    return path


def _local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_classification_job_runs_every_stage_and_serves_raw_rows(
    home: Path, tmp_path: Path
) -> None:
    data = _classification_csv(tmp_path / "cancer.csv")
    automl = AutoML(target_attribute_name="diagnosis", max_candidates=6,
                    total_job_runtime_in_seconds=90)  # fmt: skip
    job = automl.fit(str(data), job_name="cancer", logs=False)

    assert job.auto_ml_job_status == "Completed", job.failure_reason
    stages = [t["Status"] for t in job.secondary_status_transitions]
    for stage in ("AnalyzingData", "FeatureEngineering", "ModelTuning", "Completed"):
        assert stage in stages
    resolved = job.resolved_attributes
    assert resolved.problem_type == "BinaryClassification"
    assert "2 distinct values" in resolved.explanation["ProblemType"]
    assert resolved.auto_ml_job_objective.metric_name == "F1"
    assert any("row_id" in w and "ID" in w for w in job.warnings)
    assert any("empty" in w and "all-missing" in w for w in job.warnings)

    candidates = automl.list_candidates()
    scores = [c.final_auto_ml_job_objective_metric.value for c in candidates
              if c.final_auto_ml_job_objective_metric]  # fmt: skip
    assert len(candidates) == 6 and scores == sorted(scores, reverse=True)
    algorithms = {c.candidate_properties["Algorithm"] for c in candidates}
    assert {"lightgbm", "xgboost", "linear", "mlp"} <= algorithms
    # each candidate is a trial of the experiment named after the job
    trials = services().experiments.list_trials(experiment_name="cancer").items
    assert {t.trial_name for t in trials} == {c.candidate_name for c in candidates}
    # the search began while defaults still ran: its trial took the first slot one freed
    tuning = services().tuning.describe_hyper_parameter_tuning_job("cancer")
    assert tuning.creation_time < max(
        c.end_time for c in candidates if "-dpp0-" in c.candidate_name
    )

    exploration = nbformat.read(
        _local(job.auto_ml_job_artifacts.data_exploration_notebook_location), 4
    )
    outputs = [o for cell in exploration.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # plots were drawn
    assert not any(o.output_type == "error" for o in outputs)

    best = automl.best_candidate()
    assert job.model_package_arn == "arn:slipway:model-package/cancer/1"
    package = services().registry.get_model_package("cancer", 1)
    container = package.inference_specification.containers[0]
    assert container.model_data_url == best.inference_containers[0].model_data_url

    # deployed through serving and invoked with a raw CSV row (in-process engine)
    predictor = automl.deploy(endpoint_name="cancer-endpoint")
    row = pd.read_csv(data).drop(columns="diagnosis").iloc[0]
    body = ",".join("" if pd.isna(v) else str(v) for v in row.tolist())
    answer = predictor.predict(body, initial_args={"ContentType": "text/csv"})
    assert "benign" in str(answer) or "malignant" in str(answer)
    # and through the shared loader, with JSON objects
    model = load_model(best.inference_containers[0].model_data_url)
    out, _ = model.predict(b'[{"mean radius": 20.0, "mean texture": 25, "colour": "red"}]',
                           "application/json", "application/json")  # fmt: skip
    assert b"malignant" in out or b"benign" in out


def test_regression_job_and_the_candidate_notebook_reproduces_the_scores(
    home: Path, tmp_path: Path
) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    frame = X.iloc[:150, :4].copy()
    frame["progression"] = y.iloc[:150]
    frame.to_parquet(tmp_path / "diabetes.parquet")
    automl = AutoML(target_attribute_name="progression", max_candidates=5,
                    total_job_runtime_in_seconds=90)  # fmt: skip
    job = automl.fit(str(tmp_path / "diabetes.parquet"), job_name="diabetes", logs=False)

    assert job.auto_ml_job_status == "Completed", job.failure_reason
    assert job.resolved_attributes.problem_type == "Regression"
    assert job.resolved_attributes.auto_ml_job_objective.metric_name == "MSE"
    book_path = _local(job.auto_ml_job_artifacts.candidate_definition_notebook_location)
    book = execute(nbformat.read(book_path, 4), tmp_path)  # raises if a score differs
    last = book.cells[-1].outputs[0]["text"]
    assert "recorded" in last and "reproduced" in last
    assert len(last.strip().splitlines()) == 1 + len(
        [c for c in automl.list_candidates() if c.final_auto_ml_job_objective_metric]
    )


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        ("a,b\n" + "1,2\n" * 60, "label", "target column 'label' is not in the data"),
        ("a,label\n" + "1,x\n2,x\n" * 30, "label", "has a single value"),
        ("a,label\n" + "1,x\n2,y\n" * 10, "label", "at least 50"),
        ("\x00\x01binary\xff\xfe" * 40, "label", "not a table"),
        ("a,label\n" + ",x\n,y\n" * 30, "label", "no usable feature column"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(
    home: Path, tmp_path: Path, content: str, target: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(ValidationError, match=message):
        AutoML(target_attribute_name=target).fit(str(path), job_name="bad", logs=False)
    assert services().jobs.list_jobs().items == []


def test_a_time_budget_too_small_is_refused(home: Path, tmp_path: Path) -> None:
    data = _classification_csv(tmp_path / "cancer.csv")
    with pytest.raises(ValidationError, match="too small to train anything"):
        AutoML(target_attribute_name="diagnosis", total_job_runtime_in_seconds=5).fit(
            str(data), job_name="tiny", logs=False
        )


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def test_stopping_a_running_job_stops_its_candidates(home: Path, tmp_path: Path) -> None:
    data = _classification_csv(tmp_path / "cancer.csv")
    automl = AutoML(target_attribute_name="diagnosis", max_candidates=6,
                    total_job_runtime_in_seconds=120)  # fmt: skip
    automl.fit(str(data), job_name="to-stop", wait=False, logs=False)
    training = services().training
    _wait_until(
        lambda: any(not c.candidate_status.is_final for c in automl.list_candidates()),
        60, "a running candidate",
    )  # fmt: skip

    automl_backend().stop_auto_ml_job("to-stop")
    job = services().automl.wait("to-stop", timeout=60)

    assert job.auto_ml_job_status == "Stopped"
    statuses = {c.candidate_name: c.candidate_status for c in automl.list_candidates()}
    assert statuses and all(s.is_final for s in statuses.values())
    assert "Stopped" in statuses.values()
    assert all(training.describe_training_job(n).training_job_status.is_final for n in statuses)


def test_a_job_whose_watcher_was_killed_is_adopted_and_finished_from_its_candidates(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _classification_csv(tmp_path / "cancer.csv")
    script = (
        "from slipway.automl import AutoML\n"
        "AutoML(target_attribute_name='diagnosis', max_candidates=6,"
        " total_job_runtime_in_seconds=120)"
        f".fit({str(data)!r}, job_name='orphan', logs=False)\n"
    )
    watcher = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    try:
        jobs = services().jobs

        def a_candidate_completed() -> bool:
            assert watcher.poll() is None, "the watching process ended on its own"
            try:
                found = services().automl.list_candidates_for_auto_ml_job("orphan")
            except NotFound:
                return False
            return any(c.candidate_status == "Completed" for c in found)

        _wait_until(a_candidate_completed, 60, "a completed candidate")
    finally:
        watcher.send_signal(signal.SIGKILL)
        watcher.wait()
    assert not jobs.get_job(JobKind.AUTOML, "orphan").status.is_final
    monkeypatch.setattr(lifecycle, "ORPHAN_AFTER", dt.timedelta(seconds=2.5))

    _wait_until(lambda: "orphan" in services().automl.adopt_orphans(), 20, "the adoption")
    job = services().automl.wait("orphan", timeout=90)

    assert job.auto_ml_job_status == "Completed", job.failure_reason
    last = job.secondary_status_transitions[-2]
    assert "resumed after the process watching the job ended" in last["StatusMessage"]
    assert job.best_candidate is not None and job.model_package_arn
    candidates = services().automl.list_candidates_for_auto_ml_job("orphan")
    assert all(c.candidate_status.is_final for c in candidates)
