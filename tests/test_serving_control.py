"""Models, endpoint configs and endpoints: the same rules embedded and through a server."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from serving_support import IRIS_ROW, pack, pickle_model, sklearn_model
from slipway.errors import AlreadyExists, Conflict, NotFound, ValidationError

_SETTINGS = ("SLIPWAY_HOME", "SLIPWAY_DATABASE_URL", "SLIPWAY_ARTIFACT_URI", "SLIPWAY_SERVER_URL")


def _reload() -> None:
    from slipway.platform import reset
    from slipway.settings import reload_settings

    reload_settings()
    reset()


@pytest.fixture(params=["embedded", pytest.param("remote", marks=pytest.mark.postgres)])
def serving(request: pytest.FixtureRequest, tmp_path: Path):
    """The serving backend of each SDK mode, and a folder for model files."""
    from slipway.platform import serving_backend

    url = request.getfixturevalue("slipway_server") if request.param == "remote" else None
    with pytest.MonkeyPatch.context() as env:
        for name in _SETTINGS:
            env.delenv(name, raising=False)
        env.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
        if url:
            env.setenv("SLIPWAY_SERVER_URL", url)
        _reload()
        yield serving_backend(), tmp_path
    _reload()


@pytest.fixture(scope="module")
def iris_archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("iris")
    return str(pack(sklearn_model(folder / "model"), folder / "model.tar.gz"))


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _settled(backend, name: str):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        endpoint = backend.get_endpoint(name)
        if endpoint.endpoint_status not in ("Creating", "Updating"):
            return endpoint
        time.sleep(0.1)
    raise AssertionError(f"endpoint {name} did not settle")


def _endpoint(backend, archive: str, name: str | None = None) -> str:
    name = name or _name("ep")
    backend.create_model(name, {"ModelDataUrl": archive})
    backend.create_endpoint_config(name, [{"ModelName": name}])
    backend.create_endpoint(name, name)
    return name


def test_endpoint_is_created_in_service_and_described_in_the_reference_shape(serving, iris_archive):
    backend, _ = serving
    name = _endpoint(backend, iris_archive)
    assert backend.get_endpoint(name).endpoint_status in ("Creating", "InService")
    endpoint = _settled(backend, name)
    wire = endpoint.to_wire()
    assert wire["EndpointStatus"] == "InService"
    assert wire["EndpointConfigName"] == name
    assert wire["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert "CreationTime" in wire and "LastModifiedTime" in wire
    model = backend.get_model(name).to_wire()
    assert model["PrimaryContainer"] == {"ModelDataUrl": iris_archive, "Mode": "SingleModel",
                                         "Environment": {}}  # fmt: skip
    result = backend.invoke_endpoint(name, json.dumps([IRIS_ROW]).encode(), "application/json")
    assert json.loads(result.body) == [0]
    assert result.invoked_variant == "AllTraffic"


def test_names_are_unique_and_references_must_exist(serving, iris_archive):
    backend, _ = serving
    name = _name("dup")
    backend.create_model(name, {"ModelDataUrl": iris_archive})
    with pytest.raises(AlreadyExists, match=name):
        backend.create_model(name, {"ModelDataUrl": iris_archive})
    with pytest.raises(NotFound, match="model 'absent-model'"):
        backend.create_endpoint_config(_name("cfg"), [{"ModelName": "absent-model"}])
    with pytest.raises(NotFound, match="endpoint config 'absent-config'"):
        backend.create_endpoint(_name("ep"), "absent-config")
    with pytest.raises(NotFound, match="slipway endpoints list"):
        backend.get_endpoint("absent-endpoint")


def test_bad_values_are_refused_with_what_was_wrong(serving, iris_archive):
    backend, _ = serving
    with pytest.raises(ValidationError, match="model name"):
        backend.create_model("bad_name!", {"ModelDataUrl": iris_archive})
    model = _name("m")
    backend.create_model(model, {"ModelDataUrl": iris_archive})
    twice = [{"ModelName": model, "VariantName": "a"}, {"ModelName": model, "VariantName": "a"}]
    with pytest.raises(ValidationError, match="repeats"):
        backend.create_endpoint_config(_name("cfg"), twice)
    with pytest.raises(ValidationError, match="InitialSamplingPercentage"):
        backend.create_endpoint_config(
            _name("cfg"),
            [{"ModelName": model}],
            {"InitialSamplingPercentage": 150, "DestinationS3Uri": "/tmp/x",
             "CaptureOptions": [{"CaptureMode": "Input"}]},
        )  # fmt: skip


def test_an_untrusted_pickle_fails_the_endpoint_with_the_reason(serving):
    backend, folder = serving
    archive = str(pack(pickle_model(folder / "p"), folder / "p.tar.gz"))
    name = _endpoint(backend, archive)
    endpoint = _settled(backend, name)
    assert endpoint.endpoint_status == "Failed"
    assert "trusted_model_sources" in endpoint.failure_reason
    with pytest.raises(Conflict, match="Failed"):
        backend.update_endpoint(name, name)


def test_update_swaps_the_config_and_a_failed_update_keeps_the_old_one(serving, iris_archive):
    backend, folder = serving
    name = _name("up")
    _endpoint(backend, iris_archive, name)
    _settled(backend, name)
    other = _name("cfg")
    backend.create_endpoint_config(other, [{"ModelName": name, "VariantName": "Blue"}])
    backend.update_endpoint(name, other)
    endpoint = _settled(backend, name)
    assert endpoint.endpoint_config_name == other
    assert endpoint.production_variants[0].variant_name == "Blue"
    broken = _name("broken")
    (folder / "empty").mkdir()
    backend.create_model(broken, {"ModelDataUrl": str(folder / "empty")})
    backend.create_endpoint_config(broken, [{"ModelName": broken}])
    backend.update_endpoint(name, broken)
    endpoint = _settled(backend, name)
    assert endpoint.endpoint_status == "InService"
    assert endpoint.endpoint_config_name == other
    assert "failed" in endpoint.failure_reason and "no model found" in endpoint.failure_reason


def test_listings_filter_sort_and_page(serving, iris_archive):
    backend, _ = serving
    stem = _name("list")
    for index in range(3):
        _endpoint(backend, iris_archive, f"{stem}-{index}")
    first = backend.list_endpoints(name_contains=stem, sort_by="Name", sort_order="Ascending",
                                   max_results=2)  # fmt: skip
    assert [e.endpoint_name for e in first.items] == [f"{stem}-0", f"{stem}-1"]
    rest = backend.list_endpoints(name_contains=stem, sort_by="Name", sort_order="Ascending",
                                  max_results=2, next_token=first.next_token)  # fmt: skip
    assert [e.endpoint_name for e in rest.items] == [f"{stem}-2"] and rest.next_token is None
    for index in range(3):
        _settled(backend, f"{stem}-{index}")
    in_service = backend.list_endpoints(name_contains=stem, status_equals="InService")
    assert len(in_service.items) == 3
    with pytest.raises(ValidationError, match="SortBy"):
        backend.list_models(sort_by="Size")


def test_deleted_endpoint_is_gone(serving, iris_archive):
    backend, _ = serving
    name = _endpoint(backend, iris_archive)
    _settled(backend, name)
    backend.delete_endpoint(name)
    with pytest.raises(NotFound):
        backend.get_endpoint(name)
    with pytest.raises(NotFound):
        backend.invoke_endpoint(name, b"1,2,3,4", "text/csv")
    backend.delete_endpoint_config(name)
    backend.delete_model(name)


def test_rest_api_speaks_pascal_case_and_refuses_bad_bodies(slipway_server, iris_archive):
    name = _name("rest")
    api = f"{slipway_server}/api/v1"
    created = httpx.post(
        f"{api}/models",
        json={"ModelName": name, "PrimaryContainer": {"ModelDataUrl": iris_archive}},
    )
    assert created.status_code == 201
    assert created.json()["PrimaryContainer"]["Mode"] == "SingleModel"
    bad = httpx.post(f"{api}/endpoint-configs", json={"EndpointConfigName": name})
    assert bad.status_code == 422
    assert bad.json()["error"] == "ValidationError"
    assert httpx.get(f"{api}/endpoints/nope").json()["error"] == "NotFound"


def test_cli_creates_invokes_lists_and_deletes_an_endpoint(tmp_path, iris_archive, monkeypatch):
    from slipway.cli import _mount_capabilities, app

    for name in _SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
    _reload()
    _mount_capabilities()
    runner = CliRunner()
    created = runner.invoke(app, ["endpoints", "create", "cli-ep", "--model-data", iris_archive])
    assert created.exit_code == 0, created.output
    assert "InService" in created.output
    invoked = runner.invoke(
        app, ["endpoints", "invoke", "cli-ep", "--body", "5.1,3.5,1.4,0.2", "--content-type",
              "text/csv"],
    )  # fmt: skip
    assert invoked.exit_code == 0, invoked.output
    assert json.loads(invoked.stdout) == [0]
    listed = runner.invoke(app, ["endpoints", "list", "--json"])
    assert [e["EndpointName"] for e in json.loads(listed.stdout)] == ["cli-ep"]
    assert runner.invoke(app, ["endpoints", "delete", "cli-ep"]).exit_code == 0
    _reload()
