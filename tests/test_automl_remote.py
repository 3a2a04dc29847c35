"""AutoML against a real `slipway server`: the server runs the job, the SDK and the CLI read
it back, and the best candidate, deployed from the SDK, answers raw rows over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from helpers import free_port, run_server_process
from serving_support import boto3_runtime
from slipway.automl import AutoML
from slipway.inference import load_model
from slipway.platform import reset
from slipway.settings import get_settings, reload_settings

SLIPWAY = str(Path(sys.executable).parent / "slipway")
LABELS = {"benign", "malignant"}


def _cancer_with_text_csv(path: Path) -> Path:
    """Numeric columns, a category and a free-text note, as a user's raw table has them."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(0)
    malignant = y.iloc[:160].to_numpy() == 0
    words = np.array(["seen", "today", "follow", "up", "scan", "clear", "report", "noted"])
    frame = X.iloc[:160, :4].copy()
    frame["colour"] = np.where(np.arange(160) % 3 == 0, "red", "blue")
    frame["note"] = [
        " ".join([*rng.choice(words, 4), "irregular margin" if bad else "smooth margin"])
        for bad in malignant
    ]
    frame["diagnosis"] = np.where(malignant, "malignant", "benign")
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    # an SQLite server in its own home; empty values switch off what the client sets later
    env = {"SLIPWAY_HOME": str(tmp_path_factory.mktemp("server-home")), "SLIPWAY_SERVER_URL": "",
           "SLIPWAY_TOKEN": "", "SLIPWAY_DATABASE_URL": "", "SLIPWAY_ARTIFACT_URI": ""}  # fmt: skip
    args = [SLIPWAY, "server", "--host", "127.0.0.1", "--port", str(port)]
    with run_server_process(args, env, port, timeout=60):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def client_home(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The SDK in remote mode, talking to the server, with a home of its own."""
    home = tmp_path_factory.mktemp("client-home")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("SLIPWAY_")]:
            patch.delenv(name)
        patch.setenv("SLIPWAY_HOME", str(home))
        patch.setenv("SLIPWAY_SERVER_URL", server)
        reload_settings()
        reset()
        yield home
    reset()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _cancer_with_text_csv(tmp_path_factory.mktemp("data") / "cancer.csv")


@pytest.fixture(scope="module")
def automl(client_home: Path, data: Path) -> AutoML:
    automl = AutoML(target_attribute_name="diagnosis", max_candidates=2,
                    total_job_runtime_in_seconds=120)  # fmt: skip
    job = automl.fit(str(data), job_name="remote-cancer", logs=False)
    assert job.auto_ml_job_status == "Completed", job.failure_reason
    return automl


def test_remote_job_is_run_by_the_server_and_read_back_through_sdk_and_cli(
    automl: AutoML, server: str, client_home: Path
) -> None:
    candidates = automl.list_candidates()

    assert len(candidates) == 2
    assert automl.best_candidate().candidate_name == candidates[0].candidate_name
    assert automl.describe_auto_ml_job().model_package_arn
    shown = subprocess.run(
        [SLIPWAY, "automl", "show", "remote-cancer", "--json"],
        env={**os.environ, "SLIPWAY_SERVER_URL": server},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    described = json.loads(shown.stdout)
    assert described["AutoMLJobStatus"] == "Completed"
    assert described["BestCandidate"]["CandidateName"] == candidates[0].candidate_name
    # nothing ran in the client's home: the server did the work
    assert not (client_home / "automl").exists()


def test_the_deployed_best_candidate_answers_raw_csv_rows_over_http(
    automl: AutoML, server: str, data: Path
) -> None:
    rows = pd.read_csv(data).drop(columns="diagnosis").iloc[:7]
    body = rows.to_csv(header=False, index=False).encode()
    automl.deploy(endpoint_name="cancer-live")
    runtime = boto3_runtime(server)

    as_json = runtime.invoke_endpoint(
        EndpointName="cancer-live", ContentType="text/csv", Accept="application/json", Body=body
    )
    as_csv = runtime.invoke_endpoint(
        EndpointName="cancer-live", ContentType="text/csv", Accept="text/csv", Body=body
    )

    predictions = json.loads(as_json["Body"].read())["predictions"]
    assert len(predictions) == len(rows) and set(predictions) <= LABELS
    assert as_csv["ContentType"].startswith("text/csv")
    assert as_csv["Body"].read().decode().splitlines() == predictions
    # the server answers what the registered pipeline itself predicts for those raw rows
    url = automl.best_candidate().inference_containers[0].model_data_url
    local, _ = load_model(url).predict(body, "text/csv", "application/json")
    assert json.loads(local)["predictions"] == predictions
