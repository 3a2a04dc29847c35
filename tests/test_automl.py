"""AutoML end to end on tiny data: stages, inferred problem, candidates as trials,
notebooks executed, the best candidate registered, deployed and invoked with raw rows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from slipway.automl import AutoML
from slipway.automl.notebooks import execute
from slipway.errors import ValidationError
from slipway.inference import load_model
from slipway.platform import reset, services
from slipway.settings import get_settings, reload_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in [n for n in os.environ if n.startswith("SLIPWAY_")]:
        monkeypatch.delenv(name)
    folder = tmp_path / "home"
    monkeypatch.setenv("SLIPWAY_HOME", str(folder))
    monkeypatch.setenv("SLIPWAY_JOB_STOP_GRACE_SECONDS", "2")
    reload_settings()
    reset()
    yield folder
    reset()
    get_settings.cache_clear()


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
