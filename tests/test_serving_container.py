"""`slipway endpoints serve`: one endpoint under the inference container contract."""

from __future__ import annotations

import json
import sys

import httpx
import pytest

from helpers import free_port, run_server_process
from serving_support import IRIS_ROW, pack, server_env, sklearn_model
from slipway.serving.service import ServingService
from slipway.settings import Settings
from slipway.store.db import open_database


def _deploy(home, name: str, model_data: str, mode: str) -> None:
    settings = Settings(home=home)
    service = ServingService(open_database(settings.resolved_database_url), settings)
    service.create_model(name, {"ModelDataUrl": model_data, "Mode": mode})
    service.create_endpoint_config(name, [{"ModelName": name}])
    service.create_endpoint(name, name)
    assert service.wait_for_endpoint(name).endpoint_status == "InService"


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("container-home")
    models = tmp_path_factory.mktemp("models")
    prefix = models / "prefix"
    prefix.mkdir()
    pack(sklearn_model(models / "iris"), prefix / "iris.tar.gz")
    _deploy(home, "single", str(prefix / "iris.tar.gz"), "SingleModel")
    _deploy(home, "multi", str(prefix), "MultiModel")
    servers = {}
    ports = {name: free_port() for name in ("single", "multi")}
    cli = [sys.executable, "-c", "from slipway.cli import main; main()", "endpoints", "serve"]
    env = server_env(home)
    with (
        run_server_process([*cli, "single", "--port", str(ports["single"]), "--workers", "1"],
                           env, ports["single"], health_path="/ping", timeout=60),
        run_server_process([*cli, "multi", "--port", str(ports["multi"]), "--workers", "2"],
                           env, ports["multi"], health_path="/ping", timeout=60),
    ):  # fmt: skip
        for name, port in ports.items():
            servers[name] = f"http://127.0.0.1:{port}"
        yield servers, prefix


def test_ping_and_invocations_follow_the_container_contract(container):
    servers, _ = container
    ping = httpx.get(f"{servers['single']}/ping")
    assert ping.status_code == 200 and ping.content == b""
    response = httpx.post(
        f"{servers['single']}/invocations",
        content=json.dumps([IRIS_ROW]),
        headers={"Content-Type": "application/json", "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.text == "0"
    assert response.headers["content-type"] == "text/csv"


def test_invocations_of_a_multi_model_container_take_the_target_model(container):
    servers, _ = container
    response = httpx.post(
        f"{servers['multi']}/invocations",
        content=b"5.1,3.5,1.4,0.2",
        headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Target-Model": "iris.tar.gz"},
        timeout=30,
    )
    assert response.json() == [0]


def test_model_management_api_loads_lists_invokes_and_unloads(container):
    servers, prefix = container
    url = servers["multi"]
    load = {"model_name": "m1", "url": str(prefix / "iris.tar.gz")}
    assert httpx.post(f"{url}/models", json=load).status_code == 200
    assert httpx.post(f"{url}/models", json=load).status_code == 409
    listed = httpx.get(f"{url}/models").json()
    assert {"modelName": "m1", "modelUrl": load["url"]} in listed["models"]
    assert httpx.get(f"{url}/models/m1").json()["modelName"] == "m1"
    for _ in range(4):  # both workers answer, loading from the shared table as needed
        invoked = httpx.post(
            f"{url}/models/m1/invoke",
            content=b"6.7,3.0,5.2,2.3",
            headers={"Content-Type": "text/csv"},
        )
        assert invoked.json() == [2]
    assert httpx.delete(f"{url}/models/m1").status_code == 200
    assert httpx.get(f"{url}/models/m1").status_code == 404
    assert httpx.delete(f"{url}/models/m1").status_code == 404
    gone = httpx.post(f"{url}/models/m1/invoke", content=b"1,2,3,4")
    assert gone.status_code == 404
    missing = {"model_name": "m2", "url": str(prefix / "absent.tar.gz")}
    refused = httpx.post(f"{url}/models", json=missing)
    assert refused.status_code == 404
    assert httpx.get(f"{url}/models/m2").status_code == 404


def test_model_list_is_paged(container):
    servers, prefix = container
    url = servers["multi"]
    for index in range(3):
        load = {"model_name": f"p{index}", "url": str(prefix / "iris.tar.gz")}
        assert httpx.post(f"{url}/models", json=load).status_code == 200
    first = httpx.get(f"{url}/models", params={"limit": 2}).json()
    assert len(first["models"]) == 2 and "nextPageToken" in first
    rest = httpx.get(
        f"{url}/models", params={"limit": 2, "next_page_token": first["nextPageToken"]}
    ).json()
    names = {m["modelName"] for m in first["models"] + rest["models"]}
    assert {"p0", "p1", "p2"} <= names
