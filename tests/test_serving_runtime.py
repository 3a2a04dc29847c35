"""Endpoints on a real `slipway server` (two workers), called with boto3 and tritonclient.

One server serves the module: starting one costs seconds. The tests that break workers
(a hanging prediction, a dying worker) run last, and check the server heals.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import botocore.exceptions
import httpx
import numpy as np
import pytest

from serving_support import (
    IRIS_ROW,
    SLOW_OR_BROKEN,
    boto3_runtime,
    custom_model,
    deploy,
    pack,
    remote,
    sklearn_model,
    slipway_server,
    worker_pids,
    xgboost_model,
)
from slipway.serving.metrics import sample

LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("serving-home")
    models = tmp_path_factory.mktemp("models")
    prefix = models / "prefix"
    prefix.mkdir()
    pack(sklearn_model(models / "iris"), prefix / "a.tar.gz")
    pack(xgboost_model(models / "xgb"), prefix / "b.tar.gz")
    pack(custom_model(models / "broken", SLOW_OR_BROKEN), prefix / "broken.tar.gz")
    (prefix / "garbage.tar.gz").write_bytes(b"\x1f\x8b not an archive")
    capture = models / "capture"
    with slipway_server(
        home, workers=2, max_invocation_bytes=str(LIMIT), capture_flush_interval="0.3"
    ) as (url, process):
        backend = remote(url)
        deploy(backend, "iris", str(prefix / "a.tar.gz"))
        deploy(backend, "broken", str(prefix / "broken.tar.gz"), InvocationTimeoutSeconds=1.0)
        deploy(
            backend,
            "many",
            str(prefix),
            multi=True,
            capture={
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": str(capture),
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
            },
        )
        yield {"url": url, "prefix": prefix, "capture": capture, "process": process}


@pytest.fixture(scope="module")
def runtime(server):
    return boto3_runtime(server["url"])


def _metrics(url: str) -> str:
    return httpx.get(f"{url}/metrics").text


def test_boto3_invokes_a_single_model_endpoint(runtime):
    response = runtime.invoke_endpoint(
        EndpointName="iris",
        ContentType="text/csv",
        Accept="application/json",
        CustomAttributes="trace=42",
        Body=b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3",
    )
    assert json.loads(response["Body"].read()) == [0, 2]
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["CustomAttributes"] == "trace=42"


def test_boto3_invokes_models_of_a_multi_model_endpoint(runtime):
    iris = runtime.invoke_endpoint(
        EndpointName="many",
        TargetModel="a.tar.gz",
        ContentType="application/json",
        Accept="text/csv",
        Body=json.dumps({"instances": [IRIS_ROW]}),
    )
    assert iris["Body"].read() == b"0"
    xgb = runtime.invoke_endpoint(
        EndpointName="many",
        TargetModel="b.tar.gz",
        ContentType="text/csv",
        Body=",".join(["0.1"] * 30),
    )
    probabilities = json.loads(xgb["Body"].read())
    assert len(probabilities) == 1 and 0 <= probabilities[0] <= 1


def _error(call) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value


def test_unknown_endpoint_and_model_are_404_validation_errors(runtime):
    error = _error(lambda: runtime.invoke_endpoint(EndpointName="nope", Body=b"1"))
    assert isinstance(error, runtime.exceptions.ValidationError)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "nope" in error.response["Error"]["Message"]
    error = _error(
        lambda: runtime.invoke_endpoint(
            EndpointName="many", TargetModel="missing.tar.gz", ContentType="text/csv", Body=b"1"
        )
    )
    assert isinstance(error, runtime.exceptions.ValidationError)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "missing.tar.gz" in error.response["Error"]["Message"]


def test_malformed_csv_is_a_400_naming_the_line(runtime):
    error = _error(
        lambda: runtime.invoke_endpoint(
            EndpointName="iris", ContentType="text/csv", Body=b"1,2,3,4\n5,6,7\n"
        )
    )
    assert isinstance(error, runtime.exceptions.ValidationError)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "line 2" in error.response["Error"]["Message"]


def test_a_model_that_raises_is_a_model_error_and_others_keep_serving(runtime):
    error = _error(
        lambda: runtime.invoke_endpoint(
            EndpointName="many", TargetModel="broken.tar.gz", ContentType="text/csv", Body=b"raise"
        )
    )
    assert isinstance(error, runtime.exceptions.ModelError)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error.response["OriginalStatusCode"] == 500
    assert "the model refuses" in error.response["OriginalMessage"]
    assert "Received server error (500) from model" in error.response["Error"]["Message"]
    unloadable = _error(
        lambda: runtime.invoke_endpoint(
            EndpointName="many", TargetModel="garbage.tar.gz", ContentType="text/csv", Body=b"1"
        )
    )
    assert isinstance(unloadable, runtime.exceptions.ModelError)
    assert "cannot unpack" in unloadable.response["OriginalMessage"]
    fine = runtime.invoke_endpoint(
        EndpointName="many", TargetModel="a.tar.gz", ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"
    )
    assert json.loads(fine["Body"].read()) == [0]


def test_bodies_over_the_limit_get_413(server, runtime):
    rows = b"\n".join([b"5.1,3.5,1.4,0.2"] * (LIMIT // 15 + 10))
    error = _error(
        lambda: runtime.invoke_endpoint(EndpointName="iris", ContentType="text/csv", Body=rows)
    )
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert str(LIMIT) in error.response["Error"]["Message"]


def test_unsupported_content_type_is_refused_with_415(server):
    response = httpx.post(
        f"{server['url']}/endpoints/iris/invocations",
        content=b"hello",
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert response.headers["x-amzn-errortype"] == "ValidationError"
    assert "text/plain" in response.json()["Message"]


def test_metrics_count_invocations_and_multi_model_figures(server, runtime):
    for _ in range(3):
        runtime.invoke_endpoint(
            EndpointName="many", TargetModel="a.tar.gz", ContentType="text/csv", Body=b"1,2,3,4"
        )
    text = _metrics(server["url"])
    labels = {"endpoint": "many", "variant": "AllTraffic"}
    assert sample(text, "slipway_invocations_total", model="a.tar.gz", **labels) >= 3
    assert sample(text, "slipway_invocation_latency_seconds_count", model="a.tar.gz") >= 3
    assert sample(text, "slipway_model_cache_hit_total", **labels) >= 2
    assert sample(text, "slipway_model_cache_miss_total", **labels) >= 1
    assert sample(text, "slipway_loaded_model_count", **labels) >= 1
    assert sample(text, "slipway_model_loading_time_seconds_count", **labels) >= 1
    assert sample(text, "slipway_model_loading_wait_time_seconds_count", **labels) >= 1
    assert "slipway_model_unloading_time_seconds" in text
    assert sample(text, "slipway_invocation_4xx_errors_total", endpoint="iris") >= 1


def test_data_capture_writes_reference_json_lines(server, runtime):
    runtime.invoke_endpoint(
        EndpointName="many",
        TargetModel="a.tar.gz",
        ContentType="text/csv",
        Accept="application/json",
        Body=b"6.7,3.0,5.2,2.3",
        InferenceId="inference-7",
    )
    folder = Path(server["capture"]) / "many" / "AllTraffic"
    deadline = time.monotonic() + 10
    lines: list[dict] = []
    while time.monotonic() < deadline and not any(
        line.get("eventMetadata", {}).get("inferenceId") == "inference-7" for line in lines
    ):
        time.sleep(0.2)
        lines = [
            json.loads(line) for f in folder.rglob("*.jsonl") for line in f.read_text().splitlines()
        ]
    record = next(r for r in lines if r["eventMetadata"].get("inferenceId") == "inference-7")
    assert record["eventVersion"] == "0"
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": "6.7,3.0,5.2,2.3",
        "encoding": "CSV",
    }
    output = record["captureData"]["endpointOutput"]
    assert output["mode"] == "OUTPUT" and output["encoding"] == "BASE64"
    assert output["observedContentType"] == "application/json"
    assert record["eventMetadata"]["inferenceTime"].endswith("Z")
    path = next(folder.rglob("*.jsonl")).relative_to(folder)
    assert len(path.parts) == 5  # yyyy/mm/dd/hh/<file>.jsonl
    assert path.parts[0].isdigit() and len(path.parts[0]) == 4


def test_tritonclient_reads_health_metadata_and_infers(server):
    import tritonclient.http as triton

    host = server["url"].removeprefix("http://")
    client = triton.InferenceServerClient(f"{host}/endpoints/iris")
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("iris")
    metadata = client.get_model_metadata("iris")
    assert metadata["platform"] == "sklearn"
    assert metadata["inputs"][0]["shape"] == [-1, 4]
    rows = np.array([IRIS_ROW, [6.7, 3.0, 5.2, 2.3]], dtype=np.float64)
    for binary in (True, False):
        tensor = triton.InferInput("input-0", list(rows.shape), "FP64")
        tensor.set_data_from_numpy(rows, binary_data=binary)
        result = client.infer("iris", [tensor])
        assert result.as_numpy(metadata["outputs"][0]["name"]).tolist() == [0, 2]
    many = triton.InferenceServerClient(f"{host}/endpoints/many")
    tensor = triton.InferInput("input-0", [1, 4], "FP64")
    tensor.set_data_from_numpy(rows[:1])
    assert many.infer("a.tar.gz", [tensor]).as_numpy("output-0").tolist() == [0]
    with pytest.raises(triton.InferenceServerException) as caught:
        many.infer("missing.tar.gz", [tensor])
    assert caught.value.status() == "404"


def test_sdk_predictor_in_remote_mode_matches_boto3(server, monkeypatch):
    from slipway.platform import reset
    from slipway.serving import CSVSerializer, Predictor
    from slipway.settings import reload_settings

    monkeypatch.setenv("SLIPWAY_SERVER_URL", server["url"])
    reload_settings()
    reset()
    try:
        predictor = Predictor("iris", serializer=CSVSerializer())
        assert predictor.predict([IRIS_ROW]) == [0]
        assert predictor.endpoint().endpoint_status == "InService"
    finally:
        monkeypatch.delenv("SLIPWAY_SERVER_URL")
        reload_settings()
        reset()


# --- failures (last: they replace workers) ---------------------------------------------


def _invoke(url: str, endpoint: str, body: bytes, timeout: float = 30) -> httpx.Response:
    return httpx.post(
        f"{url}/endpoints/{endpoint}/invocations",
        content=body,
        headers={"Content-Type": "text/csv"},
        timeout=timeout,
    )


def _replaced(process, old: set[int], timeout: float = 30) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = worker_pids(process)
        if len(now) == len(old) and now != old:
            return now
        time.sleep(0.2)
    raise AssertionError(f"workers {old} were not replaced; now {worker_pids(process)}")


def _all_answer(url: str, count: int = 20) -> None:
    for _ in range(count):
        response = _invoke(url, "iris", b"5.1,3.5,1.4,0.2")
        assert response.status_code == 200, response.text


def test_a_hanging_prediction_is_cut_at_the_timeout_and_its_worker_replaced(server):
    url, process = server["url"], server["process"]
    before = worker_pids(process)
    assert len(before) == 2
    started = time.monotonic()
    response = _invoke(url, "broken", b"sleep")
    assert time.monotonic() - started < 10
    assert response.status_code == 424
    assert response.headers["x-amzn-errortype"] == "ModelError"
    assert response.json()["OriginalStatusCode"] == 504
    assert "within 1 s" in response.json()["OriginalMessage"]
    _replaced(process, before)
    _all_answer(url)
    assert _invoke(url, "broken", b"fine").text == "fine"


def test_a_worker_that_dies_is_restarted_while_the_endpoint_keeps_answering(server):
    url, process = server["url"], server["process"]
    before = worker_pids(process)
    with pytest.raises(httpx.TransportError):
        _invoke(url, "broken", b"die")
    _all_answer(url)  # the other worker answers meanwhile
    after = _replaced(process, before)
    assert len(after & before) == 1
    _all_answer(url)
