"""Batch transform: a hosted scikit-learn model scores folders of files offline, resumably."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from helpers import free_port, run_server_process
from serving_support import custom_model, pack

_SETTINGS = ("SLIPWAY_HOME", "SLIPWAY_DATABASE_URL", "SLIPWAY_ARTIFACT_URI", "SLIPWAY_SERVER_URL")


def _reload() -> None:
    from slipway.platform import reset
    from slipway.settings import reload_settings

    reload_settings()
    reset()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Embedded mode in a fresh SLIPWAY_HOME."""
    for name in _SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
    _reload()
    yield tmp_path / "home"
    _reload()


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LogisticRegression]:
    """A logistic regression on iris, saved with skops into a model.tar.gz."""
    features, labels = load_iris(return_X_y=True)
    estimator = LogisticRegression(max_iter=500).fit(features, labels)
    folder = tmp_path_factory.mktemp("iris-model")
    skops.io.dump(estimator, folder / "model.skops")
    archive = pack(folder, tmp_path_factory.mktemp("packed") / "model.tar.gz")
    return archive, estimator


def _register(name: str, model_data: Path) -> str:
    from slipway.serving.sdk import Model

    Model(str(model_data), name=name).create()
    return name


def _csv_folder(folder: Path, parts: int = 3, header_id: bool = False) -> list[np.ndarray]:
    """Iris split over ``parts`` CSV files; returns each file's feature rows."""
    features = load_iris(return_X_y=True)[0]
    folder.mkdir(parents=True)
    chunks = np.array_split(features, parts)
    for index, chunk in enumerate(chunks):
        lines = [
            (f"{row_id}," if header_id else "") + ",".join(str(v) for v in row)
            for row_id, row in enumerate(chunk)
        ]
        (folder / f"part-{index}.csv").write_text("\n".join(lines) + "\n")
    return chunks


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_transform_of_a_csv_folder_matches_direct_predictions(
    home: Path, tmp_path: Path, iris_model, strategy: str
) -> None:
    from slipway.transform import Transformer

    archive, estimator = iris_model
    chunks = _csv_folder(tmp_path / "data")
    transformer = Transformer(
        _register("iris", archive), strategy=strategy, assemble_with="Line",
        accept="text/csv", output_path=str(tmp_path / "out"), max_payload=1,
    )  # fmt: skip
    job = transformer.transform(
        str(tmp_path / "data"), content_type="text/csv", split_type="Line", progress=True
    )

    assert job.transform_job_status == "Completed"
    assert transformer.output_path == str(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "part-0.csv.out", "part-1.csv.out", "part-2.csv.out",
    ]  # fmt: skip
    for index, chunk in enumerate(chunks):
        lines = (tmp_path / "out" / f"part-{index}.csv.out").read_text().splitlines()
        assert [int(float(v)) for v in lines] == estimator.predict(chunk).tolist()
    assert job.progress.files_completed == 3
    assert job.progress.records_processed == 150


def test_json_lines_with_filters_and_join_source(home: Path, tmp_path: Path, iris_model) -> None:
    from slipway.transform import Transformer

    archive, estimator = iris_model
    features = load_iris(return_X_y=True)[0][::10]
    data = tmp_path / "data.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "features": row.tolist()}) + "\n"
            for i, row in enumerate(features)
        )
    )
    transformer = Transformer(
        _register("iris-json", archive), assemble_with="Line", output_path=str(tmp_path / "out")
    )
    transformer.transform(
        str(data), content_type="application/jsonlines", split_type="Line",
        input_filter="$.features", join_source="Input", output_filter="$['id','SageMakerOutput']",
    )  # fmt: skip

    records = [json.loads(line) for line in (tmp_path / "out" / "data.jsonl.out").open()]
    expected = estimator.predict(features).tolist()
    assert records == [[f"r{i}", label] for i, label in enumerate(expected)]


def test_csv_join_source_appends_output_to_the_input_row(
    home: Path, tmp_path: Path, iris_model
) -> None:
    from slipway.transform import Transformer

    archive, estimator = iris_model
    chunks = _csv_folder(tmp_path / "data", parts=1, header_id=True)
    transformer = Transformer(
        _register("iris-join", archive), assemble_with="Line", accept="text/csv",
        output_path=str(tmp_path / "out"),
    )  # fmt: skip
    transformer.transform(
        str(tmp_path / "data"), content_type="text/csv", split_type="Line",
        input_filter="$[1:]", join_source="Input",
    )  # fmt: skip
    rows = (tmp_path / "out" / "part-0.csv.out").read_text().splitlines()
    assert rows[0].split(",")[:5] == (
        tmp_path / "data" / "part-0.csv"
    ).open().readline().strip().split(",")
    assert [int(float(row.split(",")[-1])) for row in rows] == estimator.predict(chunks[0]).tolist()

    transformer.transform(
        str(tmp_path / "data"), content_type="text/csv", split_type="Line",
        input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]",
    )  # fmt: skip
    rows = (tmp_path / "out" / "part-0.csv.out").read_text().splitlines()
    assert rows[:2] == [
        f"0,{estimator.predict(chunks[0][:1])[0]}",
        f"1,{estimator.predict(chunks[0][1:2])[0]}",
    ]


def test_transform_job_is_a_trial_component(home: Path, tmp_path: Path, iris_model) -> None:
    from slipway.platform import services
    from slipway.transform import Transformer, TransformJob

    archive, _ = iris_model
    _csv_folder(tmp_path / "data", parts=2)
    transformer = Transformer(_register("iris-tc", archive), assemble_with="Line")
    job = transformer.transform(
        str(tmp_path / "data"), content_type="text/csv", split_type="Line", job_name="scored"
    )

    component = services().experiments.get_trial_component("scored-aws-transform-job")
    assert component.status.primary_status == "Completed"
    assert component.source.source_type == "SageMakerTransformJob"
    assert component.input_artifacts["SageMaker.InputData"].value == str(tmp_path / "data")
    assert component.output_artifacts["SageMaker.TransformOutput"].value == transformer.output_path
    assert job.output_files == [f"{transformer.output_path}/part-{i}.csv.out" for i in range(2)]
    assert TransformJob.load("scored").describe().transform_job_status == "Completed"
    assert [j.transform_job_name for j in TransformJob.list()] == ["scored"]


_COUNTING_MODEL = """
    import time

    COUNTER = {counter!r}

    def model_fn(model_dir):
        return "sum"

    def input_fn(input_data, content_type):
        return [float(v) for v in input_data.strip().split(",")]

    def predict_fn(data, model):
        time.sleep(0.03)
        with open(COUNTER, "a") as counter:
            counter.write("1\\n")
        return sum(data)

    def output_fn(prediction, accept):
        return str(prediction), "text/csv"
"""

_RUN_JOB = """
import sys
from slipway.transform import Transformer

Transformer("slow", strategy="SingleRecord", assemble_with="Line", output_path=sys.argv[2],
            max_concurrent_transforms=1).transform(
    sys.argv[1], content_type="text/csv", split_type="Line", job_name="crashy")
"""


def test_a_job_whose_process_was_killed_resumes_without_redoing_finished_files(
    home: Path, tmp_path: Path
) -> None:
    from slipway.platform import services
    from slipway.transform import TransformJob

    counter = tmp_path / "calls.txt"
    model = custom_model(tmp_path / "slow", _COUNTING_MODEL.format(counter=str(counter)))
    _register("slow", pack(model, tmp_path / "slow.tar.gz"))
    data = tmp_path / "data"
    data.mkdir()
    for index in range(5):
        rows = [f"{index},{row},1" for row in range(15)]
        (data / f"f{index}.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_RUN_JOB), str(data), str(out)],
        env={**os.environ, "SLIPWAY_HOME": str(home)}, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            finished = list(out.glob("*.out")) if out.exists() else []
            if len(finished) >= 2:
                break
            time.sleep(0.05)
        time.sleep(0.2)  # well into the next file: its part file has a marker
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.out")}
    assert 2 <= len(before) < 5
    assert services().transform.describe_transform_job("crashy").transform_job_status == (
        "InProgress"
    )

    _reload()
    assert services().transform.adopt_orphans() == ["crashy"]
    job = TransformJob("crashy").wait(timeout=60)

    assert job.transform_job_status == "Completed"
    assert job.progress.files_completed == 5
    for name, mtime in before.items():
        assert (out / name).stat().st_mtime_ns == mtime  # finished files were not redone
    for index in range(5):
        lines = (out / f"f{index}.csv.out").read_text().splitlines()
        assert [float(v) for v in lines] == [index + row + 1.0 for row in range(15)]
    calls = len(counter.read_text().splitlines())
    assert 75 <= calls <= 76  # at most the batch in flight at the kill is scored twice


def test_stop_ends_a_running_job_stopped(home: Path, tmp_path: Path) -> None:
    from slipway.training.estimator import JobFailed
    from slipway.transform import Transformer, TransformJob

    counter = tmp_path / "calls.txt"
    model = custom_model(tmp_path / "slow", _COUNTING_MODEL.format(counter=str(counter)))
    _register("slow-stop", pack(model, tmp_path / "slow.tar.gz"))
    (tmp_path / "data.csv").write_text("".join(f"{i},1\n" for i in range(200)))
    transformer = Transformer("slow-stop", strategy="SingleRecord", assemble_with="Line")
    transformer.transform(
        str(tmp_path / "data.csv"), content_type="text/csv", split_type="Line", wait=False
    )
    time.sleep(0.5)
    assert transformer.stop_transform_job().transform_job_status == "Stopping"
    with pytest.raises(JobFailed, match="Stopped"):
        transformer.wait(timeout=30)
    job = transformer.latest_transform_job
    assert isinstance(job, TransformJob)
    assert job.describe().transform_job_status == "Stopped"
    assert len(counter.read_text().splitlines()) < 200


def test_bad_input_gives_clear_errors(home: Path, tmp_path: Path, iris_model) -> None:
    from slipway.errors import NotFound, ValidationError
    from slipway.training.estimator import JobFailed
    from slipway.transform import Transformer

    archive, _ = iris_model
    _csv_folder(tmp_path / "data", parts=2)
    data = tmp_path / "data"
    (data / "part-1.csv").write_text("5.1,3.5,1.4,0.2\n4.9,3.0,1.4,0.2\n4.7,oops,1.3,0.2\n")

    with pytest.raises(NotFound, match="nope"):
        Transformer("nope").transform(str(data), content_type="text/csv", split_type="Line")
    model = _register("iris-bad", archive)
    with pytest.raises(ValidationError, match="strategy 'Everything'"):
        Transformer(model, strategy="Everything")
    with pytest.raises(Exception, match=r"JSONPath '\$\[\[1'"):
        Transformer(model).transform(str(data), content_type="text/csv", input_filter="$[[1")
    with pytest.raises(NotFound, match="no input files"):
        Transformer(model).transform(str(tmp_path / "missing"), content_type="text/csv")

    transformer = Transformer(model, strategy="SingleRecord", assemble_with="Line")
    with pytest.raises(JobFailed) as failed:
        transformer.transform(str(data), content_type="text/csv", split_type="Line")
    assert "part-1.csv line 3" in str(failed.value)
    assert "oops" in str(failed.value)


def test_remote_transform_against_a_server(tmp_path: Path, iris_model, monkeypatch) -> None:
    from slipway.transform import Transformer, TransformJob

    archive, estimator = iris_model
    chunks = _csv_folder(tmp_path / "data", parts=2)
    port = free_port()
    server_home = tmp_path / "server-home"
    env = {"SLIPWAY_HOME": str(server_home), "SLIPWAY_SERVER_URL": "", "SLIPWAY_TOKEN": ""}
    args = [str(Path(sys.executable).parent / "slipway"), "server", "--port", str(port)]
    with run_server_process(args, env, port):
        for name in _SETTINGS:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "client-home"))
        monkeypatch.setenv("SLIPWAY_SERVER_URL", f"http://127.0.0.1:{port}")
        _reload()
        try:
            transformer = Transformer(
                _register("iris-remote", archive), assemble_with="Line", accept="text/csv",
                output_path=str(tmp_path / "out"),
            )  # fmt: skip
            job = transformer.transform(
                str(tmp_path / "data"), content_type="text/csv", split_type="Line",
                job_name="remote-job",
            )  # fmt: skip
            listed = [j.transform_job_name for j in TransformJob.list()]
            described = httpx.get(f"http://127.0.0.1:{port}/api/v1/transform-jobs/remote-job")
        finally:
            _reload()
    assert job.transform_job_status == "Completed"
    assert listed == ["remote-job"]
    body = described.json()
    assert body["TransformJobStatus"] == "Completed"
    assert body["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == str(tmp_path / "data")
    assert body["MaxPayloadInMB"] == 6
    for index, chunk in enumerate(chunks):
        lines = (tmp_path / "out" / f"part-{index}.csv.out").read_text().splitlines()
        assert [int(float(v)) for v in lines] == estimator.predict(chunk).tolist()
