"""The model registry as its users drive it: the SDK, the REST API and the CLI.

SDK tests run twice (the `backend` fixture): in-process on SQLite, and through a real
server on PostgreSQL. That server's database is shared by the session, so group names
carry the `unique` suffix. Models come from real training jobs (`Estimator.fit`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import free_port, run_server_process, run_slipway
from serving_support import IRIS_ROW, pack, sklearn_model
from slipway.errors import AlreadyExists, Conflict, NotFound, ValidationError
from slipway.experiments import TrialComponent
from slipway.platform import serving_backend
from slipway.registry import (
    ModelPackage,
    ModelPackageGroup,
    approve,
    latest_approved,
    register_model,
    reject,
    update_approval,
)
from slipway.registry._user import os_user
from slipway.registry.deploy import PACKAGE_TAG
from slipway.settings import get_settings
from slipway.training.estimator import Estimator, JobFailed

SLIPWAY = str(Path(sys.executable).parent / "slipway")
TRAIN_SCRIPT = """\
import os

with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as model:
    model.write("weights")
print("loss=0.25")
print("accuracy=0.875")
"""
FAILING_SCRIPT = 'raise SystemExit("the data is missing")\n'
METRICS = [
    {"Name": "loss", "Regex": "loss=([0-9.]+)"},
    {"Name": "accuracy", "Regex": "accuracy=([0-9.]+)"},
]


def _train(folder: Path, name: str, script: str = TRAIN_SCRIPT) -> Path:
    """Run a training job on a one-file data set; returns the data set's path."""
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "train.py").write_text(script)
    data = folder / "train.csv"
    data.write_text("x,y\n1,2\n")
    estimator = Estimator("train.py", source_dir=folder / "src", metric_definitions=METRICS)
    estimator.fit({"train": str(data)}, logs=False, job_name=name)
    return data


@pytest.fixture(scope="module")
def _jobs_by_mode() -> dict[str, tuple[str, Path]]:
    return {}


@pytest.fixture
def training_job(
    backend: Any, _jobs_by_mode: dict[str, tuple[str, Path]], tmp_path_factory, unique: str
) -> tuple[str, Path]:
    """A Completed training job of the current mode (trained once per mode): name, data."""
    mode = get_settings().server_url or "embedded"
    if mode not in _jobs_by_mode:
        name = f"registry-job-{unique}"
        _jobs_by_mode[mode] = (name, _train(tmp_path_factory.mktemp("job"), name))
    return _jobs_by_mode[mode]


@pytest.fixture
def model_file(tmp_path: Path) -> str:
    """Stored model data that both modes can read (the server runs on this machine)."""
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"not really a tarball")
    return str(path)


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real scikit-learn model.tar.gz that an endpoint can serve."""
    folder = tmp_path_factory.mktemp("iris")
    return str(pack(sklearn_model(folder / "model"), folder / "model.tar.gz"))


def _versions(packages: Any) -> list[int]:
    return [p.model_package_version for p in packages]


# --- registering ------------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
def test_registering_a_training_job_records_its_model_lineage_and_metrics(
    training_job: tuple[str, Path], unique: str
) -> None:
    job, data = training_job
    package = register_model(
        f"churn-{unique}", from_job=job, framework="sklearn", content_types=["text/csv"]
    )
    component = TrialComponent.load(f"{job}-aws-training-job")

    assert package.model_package_version == 1
    assert package.model_package_arn == f"arn:slipway:model-package/churn-{unique}/1"
    assert package.model_package_status == "Completed"
    assert package.model_approval_status == "PendingManualApproval"
    assert package.model_data_url.endswith(f"/{job}/output/model.tar.gz")
    assert package.model_data_url == component.output_artifacts["SageMaker.ModelArtifact"].value
    assert package.lineage.training_job_name == job
    assert package.lineage.training_job_arn == f"arn:slipway:training-job/{job}"
    assert package.lineage.trial_component_name == component.trial_component_name
    assert {k: a.value for k, a in package.lineage.input_artifacts.items()} == {"train": str(data)}
    assert package.metrics == {"loss": 0.25, "accuracy": 0.875}
    assert package.metadata_properties.generated_by == f"arn:slipway:training-job/{job}"
    assert package.inference_specification.containers[0].framework == "sklearn"
    assert package.inference_specification.supported_content_types == ["text/csv"]
    assert package.created_by == os_user()
    assert ModelPackageGroup.load(f"churn-{unique}").created_by == os_user()


@pytest.mark.usefixtures("backend")
def test_versions_are_numbered_in_order_and_listed_newest_first(
    unique: str, model_file: str
) -> None:
    group = f"ranker-{unique}"
    registered = [register_model(group, model_file, metrics={"ndcg": n}) for n in (0.1, 0.2, 0.3)]

    newest_first = _versions(ModelPackage.list(group))
    by_version = _versions(ModelPackage.list(group, sort_by="Version", sort_order="Ascending"))
    loaded = ModelPackage.load(f"arn:slipway:model-package/{group}/2")

    assert _versions(registered) == [1, 2, 3]
    assert newest_first == [3, 2, 1]
    assert by_version == [1, 2, 3]
    assert loaded.metrics == {"ndcg": 0.2}


def test_listing_pages_follow_next_token(backend: Any, unique: str, model_file: str) -> None:
    from slipway.platform import registry_backend

    group = f"paged-{unique}"
    for _ in range(3):
        register_model(group, model_file)
    registry = registry_backend()

    first = registry.list_model_packages(group_name=group, sort_by="Version", max_results=2)
    second = registry.list_model_packages(
        group_name=group, sort_by="Version", next_token=first.next_token
    )

    assert _versions(first.items) == [3, 2]
    assert _versions(second.items) == [1]
    assert second.next_token is None


@pytest.mark.usefixtures("backend")
def test_group_can_be_created_explicitly_but_only_once(unique: str) -> None:
    created = ModelPackageGroup.create(f"fraud-{unique}", description="card fraud scores")

    with pytest.raises(AlreadyExists, match=f"'fraud-{unique}' exists already"):
        ModelPackageGroup.create(f"fraud-{unique}")
    listed = [g.model_package_group_name for g in ModelPackageGroup.list(name_contains=unique)]

    assert created.model_package_group_arn == f"arn:slipway:model-package-group/fraud-{unique}"
    assert created.model_package_group_description == "card fraud scores"
    assert listed == [f"fraud-{unique}"]
    assert list(created.model_packages()) == []


# --- approval ---------------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
def test_approval_changes_record_status_comment_who_and_when(unique: str, model_file: str) -> None:
    before = dt.datetime.now(dt.UTC)
    package = register_model(f"pricing-{unique}", model_file)
    package.approve("beats the baseline on the holdout set")
    package.reject("drifted in production")
    update_approval(f"pricing-{unique}", 1, "PendingManualApproval", "retrain and look again")
    repeated = update_approval(f"pricing-{unique}", 1, "PendingManualApproval")

    history = repeated.approval_history
    assert [c.model_approval_status for c in history] == [
        "PendingManualApproval",
        "Approved",
        "Rejected",
        "PendingManualApproval",
    ]
    assert [c.approval_description for c in history[1:]] == [
        "beats the baseline on the holdout set",
        "drifted in production",
        "retrain and look again",
    ]
    assert {c.changed_by for c in history} == {os_user()}
    times = [c.change_time for c in history]
    assert times == sorted(times)
    assert before <= times[0] <= dt.datetime.now(dt.UTC)
    assert repeated.approval_description == "retrain and look again"
    assert repeated.last_modified_by == os_user()
    assert repeated.last_modified_time == times[-1]


@pytest.mark.usefixtures("backend")
def test_latest_approved_is_the_highest_approved_version(unique: str, model_file: str) -> None:
    group = f"churn-{unique}"
    for _ in range(3):
        register_model(group, model_file)
    approve(group, 1)
    approve(group, 2)
    reject(group, 3, "worse recall")

    first = latest_approved(group).model_package_version
    reject(group, 2, "leaks the label")
    second = ModelPackageGroup.load(group).latest_approved().model_package_version
    reject(group, 1)

    assert (first, second) == (2, 1)
    with pytest.raises(NotFound, match=f"'{group}' has no Approved version"):
        latest_approved(group)


@pytest.mark.usefixtures("backend")
def test_list_filters_by_group_approval_status_and_training_job(
    training_job: tuple[str, Path], unique: str, model_file: str
) -> None:
    job, _ = training_job
    register_model(f"a-{unique}", model_file)
    register_model(f"a-{unique}", from_job=job)
    register_model(f"b-{unique}", from_job=job, approval_status="Approved")

    in_a = _versions(ModelPackage.list(f"a-{unique}"))
    approved_in_b = _versions(ModelPackage.list(f"b-{unique}", approval_status="Approved"))
    pending_in_b = _versions(ModelPackage.list(f"b-{unique}", "PendingManualApproval"))
    from_job = {
        (p.model_package_group_name, p.model_package_version)
        for p in ModelPackage.list(training_job_name=job)
    }

    assert in_a == [2, 1]
    assert approved_in_b == [1]
    assert pending_in_b == []
    assert {(f"a-{unique}", 2), (f"b-{unique}", 1)} <= from_job
    assert (f"a-{unique}", 1) not in from_job


# --- deleting ---------------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
def test_group_with_versions_is_deleted_only_when_forced(unique: str, model_file: str) -> None:
    group = f"old-{unique}"
    register_model(group, model_file)
    register_model(group, model_file)

    with pytest.raises(Conflict, match="still has 2 version"):
        ModelPackageGroup.load(group).delete()
    ModelPackage.load(group, 2).delete()
    after_delete = register_model(group, model_file).model_package_version
    ModelPackageGroup.load(group).delete(force=True)

    assert after_delete == 3  # a deleted version's number is never handed out again
    with pytest.raises(NotFound, match=f"'{group}' not found"):
        ModelPackageGroup.load(group)


# --- bad input --------------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("bad_name", ["bad_name", "-leading-hyphen", "x" * 64])
def test_bad_group_name_is_refused_naming_it_and_nothing_is_created(
    bad_name: str, model_file: str
) -> None:
    with pytest.raises(ValidationError, match=repr(bad_name[:40])):
        register_model(bad_name, model_file)

    assert list(ModelPackageGroup.list(name_contains="leading-hyphen")) == []


@pytest.mark.usefixtures("backend")
def test_registering_an_unknown_job_is_refused_naming_it(unique: str) -> None:
    with pytest.raises(NotFound, match=f"'no-such-job-{unique}' not found"):
        register_model(f"g-{unique}", from_job=f"no-such-job-{unique}")

    with pytest.raises(NotFound):
        ModelPackageGroup.load(f"g-{unique}")


@pytest.mark.usefixtures("backend")
def test_registering_a_job_that_did_not_complete_is_refused(unique: str, tmp_path: Path) -> None:
    with pytest.raises(JobFailed):
        _train(tmp_path, f"failed-{unique}", FAILING_SCRIPT)

    with pytest.raises(Conflict, match=f"'failed-{unique}' is Failed, not Completed"):
        register_model(f"g-{unique}", from_job=f"failed-{unique}")
    with pytest.raises(NotFound):
        ModelPackageGroup.load(f"g-{unique}")


@pytest.mark.usefixtures("backend")
def test_model_data_that_is_missing_or_on_the_web_is_refused_naming_it(
    unique: str, tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.tar.gz")

    with pytest.raises(ValidationError, match=f"'{missing}' does not exist"):
        register_model(f"g-{unique}", missing)
    with pytest.raises(ValidationError, match="the scheme 'https'"):
        register_model(f"g-{unique}", "https://example.com/model.tar.gz")
    with pytest.raises(NotFound):
        ModelPackageGroup.load(f"g-{unique}")


@pytest.mark.usefixtures("backend")
def test_bad_approval_updates_are_refused_naming_the_value(unique: str, model_file: str) -> None:
    group = f"g-{unique}"
    register_model(group, model_file)

    with pytest.raises(ValidationError, match="'Approvedd' is not valid"):
        update_approval(group, 1, "Approvedd")
    with pytest.raises(ValidationError, match="1024"):
        approve(group, 1, "x" * 1025)
    with pytest.raises(NotFound, match=f"'{group}' has no version 9"):
        approve(group, 9)
    with pytest.raises(NotFound, match=f"'{group}' has no version 9"):
        ModelPackage.load(group, 9)
    with pytest.raises(ValidationError, match="'zero' is not valid"):
        ModelPackage.load(group, "zero")

    unchanged = ModelPackage.load(group, 1)
    assert unchanged.model_approval_status == "PendingManualApproval"
    assert len(unchanged.approval_history) == 1
    assert approve(group, 1, "x" * 1024).model_approval_status == "Approved"


# --- concurrency ------------------------------------------------------------------------

_WORKERS, _THREADS, _EACH = 3, 2, 3
# A worker process: opens the store, says it is ready, waits for the go file, then
# registers versions from several threads at once and prints the numbers it got.
_WORKER = """
import os, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slipway.platform import registry_backend
from slipway.registry import register_model

group, model, go, threads, each = sys.argv[1:]
registry_backend()
Path(f"{go}.ready-{os.getpid()}").touch()
while not Path(go).exists():
    time.sleep(0.01)
with ThreadPoolExecutor(int(threads)) as pool:
    futures = [pool.submit(register_model, group, model) for _ in range(int(threads) * int(each))]
print(*(future.result().model_package_version for future in futures))
"""


def _wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker processes did not start in time"
        time.sleep(0.01)


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_concurrent_registrations_get_distinct_consecutive_versions(
    store: str, request: pytest.FixtureRequest, tmp_path: Path, model_file: str, unique: str
) -> None:
    from slipway.store.db import Database

    url = (
        request.getfixturevalue("fresh_postgres_database")
        if store == "postgresql"
        else f"sqlite:///{tmp_path / 'registry.db'}"
    )
    database = Database(url)
    database.upgrade()  # once, before the workers race to use it
    database.dispose()
    env = {name: v for name, v in os.environ.items() if not name.startswith("SLIPWAY_")}
    env |= {
        "SLIPWAY_HOME": str(tmp_path / "home"),
        "SLIPWAY_DATABASE_URL": url,
        "SLIPWAY_ARTIFACT_URI": str(tmp_path / "artifacts"),
    }
    go_file = tmp_path / "go"
    args = [f"race-{unique}", model_file, str(go_file), str(_THREADS), str(_EACH)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, *args], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(_WORKERS)
    ]
    _wait_for(
        lambda: (
            len(list(tmp_path.glob("go.ready-*"))) == _WORKERS
            or any(worker.poll() is not None for worker in workers)
        )
    )
    go_file.touch()  # all at once, so that they race
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]

    assert [worker.returncode for worker in workers] == [0] * _WORKERS
    versions = sorted(int(v) for output in outputs for v in output.split())
    assert versions == list(range(1, _WORKERS * _THREADS * _EACH + 1))


# --- deploying --------------------------------------------------------------------------


def _nothing_deployed(name: str) -> None:
    serving = serving_backend()
    with pytest.raises(NotFound):
        serving.get_endpoint(name)
    with pytest.raises(NotFound):
        serving.get_endpoint_config(name)
    assert serving.list_models(name_contains=name).items == []


@pytest.mark.usefixtures("backend")
def test_an_approved_version_deploys_to_an_endpoint_that_predicts(
    unique: str, iris_model: str
) -> None:
    group, name = f"deploy-{unique}", f"ep-{unique}"
    package = register_model(group, iris_model)
    package.approve("beats the baseline")

    predictor = package.deploy(name, initial_instance_count=2)
    serving = serving_backend()
    endpoint = serving.get_endpoint(name)

    assert predictor.predict([IRIS_ROW]) in ([0], [0.0])
    assert endpoint.endpoint_status == "InService"
    assert endpoint.production_variants[0].current_instance_count == 2
    tag = (PACKAGE_TAG, f"arn:slipway:model-package/{group}/1")
    for tags in (endpoint.tags, serving.get_model(name).tags):
        assert [(t.key, t.value) for t in tags] == [tag]
    assert serving.get_model(name).primary_container.model_data_url == iris_model
    with pytest.raises(AlreadyExists, match=f"endpoint '{name}' exists already"):
        package.deploy(name)


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_a_version_that_is_not_approved_is_refused_and_nothing_is_created(
    status: str, unique: str, model_file: str
) -> None:
    group, name = f"unapproved-{unique}", f"ep-{unique}"
    package = register_model(group, model_file, approval_status=status)

    with pytest.raises(Conflict, match=f"{group} version 1 is {status}, not Approved"):
        package.deploy(name)

    _nothing_deployed(name)


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    ("name", "instances", "named"),
    [
        ("no spaces", 1, "'no spaces'"),
        ("x" * 64, 1, "63"),
        ("ep-{unique}", 500, "initial_instance_count.*500"),
        ("ep-{unique}", 0, "initial_instance_count.*got 0"),
    ],
)
def test_a_bad_endpoint_name_or_instance_count_is_refused_naming_it(
    name: str, instances: int, named: str, unique: str, model_file: str
) -> None:
    name = name.format(unique=unique)
    package = register_model(f"bad-deploy-{unique}", model_file, approval_status="Approved")

    with pytest.raises(ValidationError, match=named):
        package.deploy(name, instances)

    _nothing_deployed(f"ep-{unique}")


# --- REST -------------------------------------------------------------------------------


def test_rest_api_speaks_the_reference_names_and_errors(
    slipway_server: str, unique: str, model_file: str
) -> None:
    api = httpx.Client(base_url=f"{slipway_server}/api/v1", timeout=30)
    group = f"rest-{unique}"
    body = {
        "ModelPackageGroupName": group,
        "InferenceSpecification": {
            "Containers": [{"ModelDataUrl": model_file, "Framework": "xgboost"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        "ModelMetrics": {"Metrics": [{"MetricName": "auc", "Value": 0.91}]},
    }

    created = api.post("/model-packages", json=body, headers={"X-Slipway-User": "alice"})
    approved = api.patch(
        f"/model-packages/{group}/1",
        json={"ModelApprovalStatus": "Approved", "ApprovalDescription": "ok"},
    )
    listed = api.get("/model-packages", params={"group_name": group, "approval_status": "Approved"})
    latest = api.get(f"/model-package-groups/{group}/latest-approved")
    bad_status = api.patch(f"/model-packages/{group}/1", json={"ModelApprovalStatus": "Bogus"})
    bad_name = api.post("/model-packages", json={**body, "ModelPackageGroupName": "a_b"})
    missing = api.get(f"/model-packages/{group}/7")

    assert created.status_code == 201, created.text
    assert created.json()["ModelPackageArn"] == f"arn:slipway:model-package/{group}/1"
    assert created.json()["CreatedBy"] == "alice"
    assert created.json()["InferenceSpecification"]["SupportedResponseMIMETypes"] == [
        "application/json"
    ]
    assert approved.json()["ApprovalHistory"][-1]["ChangedBy"] == "anonymous"
    assert [p["ModelPackageVersion"] for p in listed.json()["Items"]] == [1]
    assert latest.json()["ModelApprovalStatus"] == "Approved"
    assert bad_status.status_code == 422
    assert bad_status.json()["error"] == "ValidationError"
    assert "'Bogus'" in bad_status.json()["message"]
    assert bad_name.status_code == 422
    assert "'a_b'" in bad_name.json()["message"]
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "NotFound",
        "message": f"model package group '{group}' has no version 7; list its versions "
        f"with `slipway models list --group {group}`",
    }


def _in_service(api: httpx.Client, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (endpoint := api.get(f"/endpoints/{name}").json())["EndpointStatus"] == "Creating":
        assert time.monotonic() < deadline, endpoint
        time.sleep(0.1)
    return endpoint


def test_rest_deploys_an_approved_version_whose_endpoint_answers_over_http(
    slipway_server: str, unique: str, iris_model: str
) -> None:
    api = httpx.Client(base_url=f"{slipway_server}/api/v1", timeout=30)
    group, name = f"rest-deploy-{unique}", f"ep-{unique}"
    body = {
        "ModelPackageGroupName": group,
        "InferenceSpecification": {"Containers": [{"ModelDataUrl": iris_model}]},
    }
    api.post("/model-packages", json=body).raise_for_status()
    path, deploy = f"/model-packages/{group}/1/deploy", {"EndpointName": name}

    pending = api.post(path, json=deploy)
    api.patch(f"/model-packages/{group}/1", json={"ModelApprovalStatus": "Approved"})
    too_many = api.post(path, json={**deploy, "InitialInstanceCount": 500})
    not_a_number = api.post(path, json={**deploy, "InitialInstanceCount": "many"})
    created = api.post(path, json={**deploy, "InitialInstanceCount": 2})
    endpoint = _in_service(api, name)
    answer = httpx.post(f"{slipway_server}/endpoints/{name}/invocations", json=[IRIS_ROW])

    assert pending.status_code == 409
    assert pending.json() == {
        "error": "Conflict",
        "message": f"model package {group} version 1 is PendingManualApproval, not "
        "Approved; approve it before deploying it",
    }
    assert too_many.status_code == 422 and "500" in too_many.json()["message"]
    assert not_a_number.status_code == 422
    assert "InitialInstanceCount" in not_a_number.json()["message"]
    assert created.status_code == 201, created.text
    assert created.json()["EndpointName"] == name
    arn = f"arn:slipway:model-package/{group}/1"
    assert created.json()["Tags"] == [{"Key": PACKAGE_TAG, "Value": arn}]
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert answer.status_code == 200, answer.text
    assert answer.json() in ([0], [0.0])


def test_on_a_server_with_tokens_the_token_name_is_who_acted(
    tmp_path: Path, model_file: str
) -> None:
    from slipway.auth.service import TokenService
    from slipway.store.db import Database

    database = Database(f"sqlite:///{tmp_path / 'slipway.db'}")
    database.upgrade()
    token = TokenService(database).create_token("release-bot").token
    database.dispose()
    port = free_port()
    command = [SLIPWAY, "server", "--port", str(port)]
    body = {
        "ModelPackageGroupName": "churn",
        "InferenceSpecification": {"Containers": [{"ModelDataUrl": model_file}]},
    }
    env = {"SLIPWAY_HOME": str(tmp_path), "SLIPWAY_DATABASE_URL": "", "SLIPWAY_SERVER_URL": ""}
    with run_server_process(command, env=env, port=port):
        url = f"http://127.0.0.1:{port}/api/v1/model-packages"
        claimed = {"X-Slipway-User": "mallory"}
        anonymous = httpx.post(url, json=body, headers=claimed)
        signed = httpx.post(url, json=body, headers={**claimed, "Authorization": f"Bearer {token}"})

    assert anonymous.status_code == 401
    assert signed.status_code == 201, signed.text
    assert signed.json()["CreatedBy"] == "release-bot"
    assert signed.json()["ApprovalHistory"][0]["ChangedBy"] == "release-bot"


# --- CLI --------------------------------------------------------------------------------


def _slipway(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the `slipway` command in this process with its settings (the `backend` fixture's)."""
    current = {name: value for name, value in os.environ.items() if name.startswith("SLIPWAY_")}
    result = run_slipway(*args, **(current | env))
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _json(*args: str) -> Any:
    result = _slipway(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.usefixtures("backend")
def test_cli_registers_a_job_lists_approves_and_shows_lineage(
    training_job: tuple[str, Path], unique: str
) -> None:
    job, _ = training_job
    group = f"cli-{unique}"

    registered = _json("models", "register", "--from-job", job, "--group", group)
    table = _slipway("models", "list", "--group", group)
    approved = _slipway("models", "approve", group, "1", "--comment", "ship it")
    shown = _slipway("models", "show", group, "1")

    assert registered["ModelPackageArn"] == f"arn:slipway:model-package/{group}/1"
    assert registered["Lineage"]["TrainingJobName"] == job
    for expected in (group, "PendingManualApproval", job, "loss=0.25"):
        assert expected in table.stdout
    assert approved.stdout.startswith(f"{group} version 1 is Approved (by {os_user()} at ")
    for expected in ("Lineage", f"{job}-aws-training-job", "train.csv", "ship it", "Approved"):
        assert expected in shown.stdout


def test_cli_deploys_an_approved_version_that_a_server_then_serves_over_http(
    tmp_path: Path, iris_model: str
) -> None:
    home = {
        "SLIPWAY_HOME": str(tmp_path),
        "SLIPWAY_DATABASE_URL": "",
        "SLIPWAY_ARTIFACT_URI": "",
        "SLIPWAY_SERVER_URL": "",
    }
    register = ["models", "register", "-g", "iris", "--model-data", iris_model]
    deploy = ["models", "deploy", "iris", "1", "--endpoint", "iris-prod"]

    registered = _slipway(*register, "--status", "Approved", **home)
    deployed = _slipway(*deploy, "--instances", "2", **home)
    again = _slipway(*deploy, **home)
    port = free_port()
    with run_server_process([SLIPWAY, "server", "--port", str(port)], env=home, port=port):
        url = f"http://127.0.0.1:{port}"
        answer = httpx.post(f"{url}/endpoints/iris-prod/invocations", json=[IRIS_ROW])
        endpoint = httpx.get(f"{url}/api/v1/endpoints/iris-prod").json()

    assert registered.returncode == 0, registered.stderr
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout == "endpoint 'iris-prod' is InService, serving iris version 1\n"
    assert again.returncode == 1
    assert again.stderr == (
        "slipway: endpoint 'iris-prod' exists already; pick another name for the new one\n"
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() in ([0], [0.0])
    assert endpoint["ProductionVariants"][0]["CurrentInstanceCount"] == 2


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["models", "show", "cli-missing-group"], "'cli-missing-group' not found"),
        (
            ["models", "deploy", "cli-missing-group", "1", "--endpoint", "cli-ep"],
            "'cli-missing-group' not found",
        ),
        (["models", "deploy", "g", "1", "--endpoint", "no spaces"], "'no spaces'"),
        (["models", "deploy", "g", "1", "--endpoint", "e", "--instances", "many"], "'many'"),
        (["models", "deploy", "g", "1", "--endpoint", "e", "--instances", "0"], "got '0'"),
        (["models", "approve", "cli-missing-group", "first"], "version 'first' is not valid"),
        (["models", "list", "--status", "Shipped"], "'Shipped' is not valid"),
    ],
)
def test_cli_bad_input_exits_1_with_one_line_naming_it(
    command: list[str], named: str, tmp_path: Path
) -> None:
    # Embedded on an empty store: the messages come from the service in either mode.
    result = _slipway(*command, SLIPWAY_HOME=str(tmp_path), SLIPWAY_SERVER_URL="")

    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("slipway: ")
    assert named in lines[0]
