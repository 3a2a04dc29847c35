"""Models for the inference and serving tests, trained on scikit-learn's bundled data sets.

Each builder writes a model folder the way a training job would and can pack it as the
``model.tar.gz`` of the reference layout.
"""

from __future__ import annotations

import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer, load_iris

from helpers import free_port, run_server_process

IRIS_ROW = [5.1, 3.5, 1.4, 0.2]


@cache
def iris() -> tuple[np.ndarray, np.ndarray]:
    return load_iris(return_X_y=True)


@cache
def _logistic():
    from sklearn.linear_model import LogisticRegression

    features, labels = iris()
    return LogisticRegression(max_iter=500).fit(features, labels)


def pack(folder: Path, archive: Path) -> Path:
    """``tar czf archive -C folder .``"""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted(folder.iterdir()):
            tar.add(child, arcname=child.name)
    return archive


def sklearn_model(folder: Path, estimator=None) -> Path:
    import skops.io

    folder.mkdir(parents=True, exist_ok=True)
    skops.io.dump(estimator if estimator is not None else _logistic(), folder / "model.skops")
    return folder


def random_forest_model(folder: Path) -> Path:
    from sklearn.ensemble import RandomForestClassifier

    features, labels = iris()
    return sklearn_model(folder, RandomForestClassifier(5, random_state=0).fit(features, labels))


def xgboost_model(folder: Path, suffix: str = "json") -> Path:
    import xgboost

    features, labels = load_breast_cancer(return_X_y=True)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
        xgboost.DMatrix(features, label=labels),
        num_boost_round=10,
    )
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / f"model.{suffix}"))
    return folder


def lightgbm_model(folder: Path) -> Path:
    import lightgbm

    features, labels = iris()
    booster = lightgbm.train(
        {"objective": "regression", "verbose": -1, "num_threads": 1},
        lightgbm.Dataset(features, label=labels.astype(float)),
        num_boost_round=10,
    )
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / "model.txt"))
    return folder


def onnx_model(folder: Path) -> Path:
    from skl2onnx import to_onnx

    features, _ = iris()
    graph = to_onnx(_logistic(), features[:1].astype(np.float32), options={"zipmap": False})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(graph.SerializeToString())
    return folder


def pickle_model(folder: Path) -> Path:
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(_logistic(), folder / "model.joblib")
    return folder


def custom_model(folder: Path, source: str) -> Path:
    """A folder with ``code/inference.py`` holding ``source`` (dedented)."""
    code = folder / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "inference.py").write_text(textwrap.dedent(source))
    return folder


# The reference's four handlers: doubles each number and answers in text.
DOUBLER = """
    import json

    def model_fn(model_dir):
        return {"factor": 2}

    def input_fn(input_data, content_type):
        assert isinstance(input_data, str), type(input_data)
        return json.loads(input_data)

    def predict_fn(data, model):
        return [value * model["factor"] for value in data]

    def output_fn(prediction, accept):
        return json.dumps({"doubled": prediction}), "application/json"
"""


# --- servers --------------------------------------------------------------------------

SLOW_OR_BROKEN = """
    import os
    import signal
    import time

    def model_fn(model_dir):
        return "model"

    def input_fn(input_data, content_type):
        return input_data.strip()

    def predict_fn(data, model):
        if data == "sleep":
            time.sleep(300)
        if data == "raise":
            raise RuntimeError("the model refuses")
        if data == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        return data

    def output_fn(prediction, accept):
        return prediction, "text/plain"
"""


def server_env(home: Path, **settings: str) -> dict[str, str]:
    env = {
        "SLIPWAY_HOME": str(home),
        # Empty values override what the test process may have set.
        "SLIPWAY_DATABASE_URL": "",
        "SLIPWAY_ARTIFACT_URI": "",
        "SLIPWAY_SERVER_URL": "",
        "SLIPWAY_TOKEN": "",
    }
    env.update({f"SLIPWAY_{key.upper()}": value for key, value in settings.items()})
    return env


@contextmanager
def slipway_server(home: Path, workers: int = 1, **settings: str) -> Iterator[tuple[str, Any]]:
    """`slipway server` on 127.0.0.1 over a SQLite home; yields (url, process)."""
    port = free_port()
    args = [sys.executable, "-c", "from slipway.cli import main; main()", "server"]
    args += ["--port", str(port), "--workers", str(workers)]
    with run_server_process(args, server_env(home, **settings), port, timeout=60) as process:
        yield f"http://127.0.0.1:{port}", process


def remote(url: str):
    from slipway._http import HttpClient
    from slipway.serving.client import RemoteServing

    return RemoteServing(HttpClient(url))


def deploy(backend, name: str, model_data: str, *, multi: bool = False, capture=None, **variant):
    """Create model, config and endpoint ``name``; wait until it is InService."""
    mode = "MultiModel" if multi else "SingleModel"
    backend.create_model(name, {"ModelDataUrl": model_data, "Mode": mode})
    backend.create_endpoint_config(
        name, [{"ModelName": name, "VariantName": "AllTraffic", **variant}], capture
    )
    backend.create_endpoint(name, name)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        endpoint = backend.get_endpoint(name)
        if endpoint.endpoint_status not in ("Creating", "Updating"):
            return endpoint
        time.sleep(0.1)
    raise AssertionError(f"endpoint {name} still {endpoint.endpoint_status}")


def boto3_runtime(url: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, read_timeout=30),
    )


def worker_pids(process) -> set[int]:
    """Worker processes of a supervisor (its multiprocessing spawn children)."""
    found = set()
    for task in Path(f"/proc/{process.pid}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"spawn_main" in cmdline:
                found.add(int(pid))
    return found
