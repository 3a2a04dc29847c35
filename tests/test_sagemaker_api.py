"""The SageMaker control plane with the real, unmodified boto3 client against `slipway server`.

One server on PostgreSQL for the module, with authentication on: an editor's and a
viewer's access key, made by `slipway token create NAME --access-key`. Tests keep apart
by unique names.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.auth
import httpx
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from helpers import fresh_database, run_slipway_server

pytestmark = pytest.mark.postgres

SLIPWAY = str(Path(sys.executable).with_name("slipway"))


@dataclass
class Keys:
    access_key_id: str
    secret_access_key: str


@dataclass
class Server:
    url: str
    admin_token: str
    editor: Keys
    viewer: Keys


def _create_access_key(database_url: str, home: Path, name: str, role: str) -> Keys:
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_DATABASE_URL": database_url}
    env |= {"SLIPWAY_SERVER_URL": "", "SLIPWAY_TOKEN": ""}
    command = [SLIPWAY, "token", "create", name, "--role", role, "--access-key"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    lines = dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    return Keys(lines["aws_access_key_id"], lines["aws_secret_access_key"])


@pytest.fixture(scope="module")
def server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("sagemaker-home")
    with fresh_database(postgres_url) as database_url:
        admin = subprocess.run(
            [SLIPWAY, "token", "create", "admin", "--role", "admin"],
            env={**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_DATABASE_URL": database_url,
                 "SLIPWAY_SERVER_URL": "", "SLIPWAY_TOKEN": ""},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        editor = _create_access_key(database_url, home, "scientist", "editor")
        viewer = _create_access_key(database_url, home, "auditor", "viewer")
        with run_slipway_server(database_url, home) as (url, _):
            yield Server(url, admin.stdout.strip(), editor, viewer)


def _client(url: str, keys: Keys | None = None, **config: Any) -> Any:
    keys = keys or Keys("AKIDEXAMPLE", "not-a-secret")
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="module")
def sagemaker(server: Server) -> Any:
    return _client(server.url, server.editor)


@pytest.fixture
def name() -> Callable[[str], str]:
    run = uuid.uuid4().hex[:8]
    return lambda kind: f"{kind}-{run}"


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = raised.value.response
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return status, response["Error"]["Code"], response["Error"]["Message"]


# --- experiments, trials, trial components -------------------------------------------------


def test_experiment_is_created_described_updated_listed_and_deleted(sagemaker: Any, name) -> None:
    experiment = name("churn")
    arn = sagemaker.create_experiment(
        ExperimentName=experiment, Description="first try", Tags=[{"Key": "team", "Value": "a"}]
    )["ExperimentArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:experiment/{experiment}"

    sagemaker.update_experiment(ExperimentName=experiment, DisplayName="Churn-v2")
    described = sagemaker.describe_experiment(ExperimentName=experiment)
    assert described["ExperimentArn"] == arn
    assert described["DisplayName"] == "Churn-v2"
    assert described["Description"] == "first try"
    assert isinstance(described["CreationTime"], dt.datetime)

    listed = sagemaker.list_experiments(SortBy="CreationTime", SortOrder="Descending")
    assert experiment in [e["ExperimentName"] for e in listed["ExperimentSummaries"]]

    assert sagemaker.delete_experiment(ExperimentName=experiment)["ExperimentArn"] == arn
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_experiment(ExperimentName=experiment)


def test_trials_and_components_are_associated_listed_and_removed(sagemaker: Any, name) -> None:
    experiment, trial, component = name("exp"), name("trial"), name("tc")
    sagemaker.create_experiment(ExperimentName=experiment)
    trial_arn = sagemaker.create_trial(TrialName=trial, ExperimentName=experiment)["TrialArn"]
    assert trial_arn.endswith(f":experiment-trial/{trial}")
    sagemaker.create_trial_component(
        TrialComponentName=component,
        Status={"PrimaryStatus": "InProgress"},
        StartTime=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        Parameters={"lr": {"NumberValue": 0.1}, "kernel": {"StringValue": "rbf"}},
        InputArtifacts={"train": {"Value": "s3://bucket/train.csv", "MediaType": "text/csv"}},
    )
    sagemaker.update_trial_component(
        TrialComponentName=component,
        Status={"PrimaryStatus": "Completed", "Message": "done"},
        ParametersToRemove=["kernel"],
    )
    sagemaker.update_trial(TrialName=trial, DisplayName="renamed")
    associated = sagemaker.associate_trial_component(TrialComponentName=component, TrialName=trial)
    assert associated["TrialArn"] == trial_arn

    described = sagemaker.describe_trial_component(TrialComponentName=component)
    assert described["Status"] == {"PrimaryStatus": "Completed", "Message": "done"}
    assert described["Parameters"] == {"lr": {"NumberValue": 0.1}}
    assert described["StartTime"] == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    assert described["InputArtifacts"]["train"]["Value"] == "s3://bucket/train.csv"
    assert sagemaker.describe_trial(TrialName=trial)["DisplayName"] == "renamed"
    listed = sagemaker.list_trial_components(ExperimentName=experiment)
    assert [c["TrialComponentName"] for c in listed["TrialComponentSummaries"]] == [component]
    by_component = sagemaker.list_trials(TrialComponentName=component)["TrialSummaries"]
    assert [t["TrialName"] for t in by_component] == [trial]

    # AWS's order of removal: a component leaves its trials before it is deleted.
    with pytest.raises(sagemaker.exceptions.ResourceInUse):
        sagemaker.delete_trial_component(TrialComponentName=component)
    sagemaker.disassociate_trial_component(TrialComponentName=component, TrialName=trial)
    sagemaker.delete_trial_component(TrialComponentName=component)
    sagemaker.delete_trial(TrialName=trial)
    assert sagemaker.list_trials(ExperimentName=experiment)["TrialSummaries"] == []
    sagemaker.delete_experiment(ExperimentName=experiment)


def test_search_finds_components_by_parameter_and_metric_expression(sagemaker: Any, name) -> None:
    for lr in (0.1, 0.2, 0.3):
        sagemaker.create_trial_component(
            TrialComponentName=name(f"lr{int(lr * 10)}"), Parameters={"lr": {"NumberValue": lr}}
        )
    found = sagemaker.search(
        Resource="ExperimentTrialComponent",
        SearchExpression={
            "Filters": [
                {"Name": "TrialComponentName", "Operator": "Contains", "Value": name("")},
                {"Name": "Parameters.lr", "Operator": "GreaterThan", "Value": "0.15"},
            ]
        },
        SortBy="Parameters.lr",
        SortOrder="Ascending",
    )
    names = [r["TrialComponent"]["TrialComponentName"] for r in found["Results"]]
    assert names == [name("lr2"), name("lr3")]


def test_pages_follow_next_token_until_the_last(sagemaker: Any, name) -> None:
    experiment = name("paged")
    for i in range(5):
        sagemaker.create_experiment(ExperimentName=f"{experiment}-{i}")
    expression = {
        "Filters": [{"Name": "ExperimentName", "Operator": "Contains", "Value": experiment}]
    }
    first = sagemaker.search(
        Resource="Experiment", SearchExpression=expression, MaxResults=2, SortBy="Name",
        SortOrder="Ascending",
    )  # fmt: skip
    assert len(first["Results"]) == 2 and first["NextToken"]

    pages = sagemaker.get_paginator("search").paginate(
        Resource="Experiment", SearchExpression=expression, SortBy="Name", SortOrder="Ascending",
        PaginationConfig={"PageSize": 2},
    )  # fmt: skip
    sizes, names = [], []
    for page in pages:
        sizes.append(len(page["Results"]))
        names += [r["Experiment"]["ExperimentName"] for r in page["Results"]]
    assert sizes == [2, 2, 1]
    assert names == [f"{experiment}-{i}" for i in range(5)]


# --- training jobs -------------------------------------------------------------------------

TRAIN_SCRIPT = b"""
import os
print("loss=0.25;", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as out:
    out.write("trained")
"""


def _run_training_job(server: Server, job: str) -> None:
    """A script-mode job made through slipway's REST API, finished by the time it returns."""
    from slipway.training.client import remote_training
    from slipway.training.models import CreateTrainingJob

    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as tar:
        member = tarfile.TarInfo("train.py")
        member.size = len(TRAIN_SCRIPT)
        tar.addfile(member, io.BytesIO(TRAIN_SCRIPT))
    training = remote_training(server.url, server.admin_token)
    source = training.upload_source(job, [tarball.getvalue()])
    request = CreateTrainingJob(
        training_job_name=job, entry_point="train.py", source_uri=source,
        metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9.]+);"}],
    )  # fmt: skip
    training.create_training_job(request)
    # boto3's own waiter polls DescribeTrainingJob until the job ends.
    waiter = _client(server.url, server.editor).get_waiter("training_job_completed_or_stopped")
    waiter.wait(TrainingJobName=job, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def test_a_training_job_is_described_and_listed(server: Server, sagemaker: Any, name) -> None:
    job = name("fit")
    _run_training_job(server, job)

    described = sagemaker.describe_training_job(TrainingJobName=job)
    assert described["TrainingJobArn"].endswith(f":training-job/{job}")
    assert described["TrainingJobStatus"] == "Completed"
    assert described["SecondaryStatus"] == "Completed"
    assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith("model.tar.gz")
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 24 * 3600}
    assert described["FinalMetricDataList"][0]["MetricName"] == "loss"
    assert described["FinalMetricDataList"][0]["Value"] == 0.25
    assert described["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] == "loss"
    listed = sagemaker.list_training_jobs(NameContains=job, StatusEquals="Completed")
    assert [j["TrainingJobName"] for j in listed["TrainingJobSummaries"]] == [job]
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_training_job(TrainingJobName=name("never-ran"))


def test_a_list_member_not_acted_on_yet_is_refused_not_ignored(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.list_training_jobs(SortBy="Name")
    assert _error(raised)[1] == "ValidationException" and "'SortBy'" in _error(raised)[2]


# --- errors in AWS's shape -----------------------------------------------------------------


def test_creating_an_existing_experiment_is_resource_in_use(sagemaker: Any, name) -> None:
    sagemaker.create_experiment(ExperimentName=name("twice"))
    with pytest.raises(sagemaker.exceptions.ResourceInUse) as raised:
        sagemaker.create_experiment(ExperimentName=name("twice"))
    assert name("twice") in _error(raised)[2]


def test_missing_trial_is_resource_not_found(sagemaker: Any, name) -> None:
    with pytest.raises(sagemaker.exceptions.ResourceNotFound) as raised:
        sagemaker.describe_trial(TrialName=name("absent"))
    assert _error(raised)[0] == 400
    assert name("absent") in _error(raised)[2]


def test_a_name_outside_the_pattern_is_a_validation_exception_naming_the_member(
    sagemaker: Any,
) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.create_experiment(ExperimentName="not a name!")
    status, code, message = _error(raised)
    assert (status, code) == (400, "ValidationException")
    assert "'not a name!' at 'ExperimentName'" in message and "pattern" in message


def test_the_server_checks_what_an_unchecking_client_sends(server: Server) -> None:
    unchecked = _client(server.url, server.editor, parameter_validation=False)
    with pytest.raises(ClientError) as raised:
        unchecked.list_experiments(MaxResults=500)
    assert _error(raised)[1] == "ValidationException"
    assert "'MaxResults'" in _error(raised)[2] and "less than or equal to 100" in _error(raised)[2]
    with pytest.raises(ClientError) as raised:
        unchecked.create_trial(TrialName="t-without-experiment")
    assert _error(raised)[1] == "ValidationException"
    assert "'ExperimentName'" in _error(raised)[2] and "must not be null" in _error(raised)[2]
    with pytest.raises(ClientError) as raised:
        unchecked.search(Resource="Spaceship")
    assert "enum" in _error(raised)[2] and "'Resource'" in _error(raised)[2]


def test_a_not_yet_implemented_operation_is_unknown_operation(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.list_notebook_instances()
    assert _error(raised)[1] == "UnknownOperationException"
    assert "ListNotebookInstances" in _error(raised)[2]


# --- who may call ------------------------------------------------------------------------


def test_unsigned_request_is_refused(server: Server) -> None:
    unsigned = _client(server.url, signature_version=botocore.UNSIGNED)
    with pytest.raises(ClientError) as raised:
        unsigned.list_experiments()
    assert _error(raised)[:2] == (403, "MissingAuthenticationTokenException")


def test_wrong_secret_is_refused_as_an_invalid_signature(server: Server) -> None:
    forged = _client(server.url, Keys(server.editor.access_key_id, "x" * 40))
    with pytest.raises(ClientError) as raised:
        forged.list_experiments()
    assert _error(raised)[:2] == (403, "InvalidSignatureException")


def test_unknown_access_key_is_refused(server: Server) -> None:
    with pytest.raises(ClientError) as raised:
        _client(server.url).list_experiments()
    assert _error(raised)[:2] == (403, "UnrecognizedClientException")
    assert "AKIDEXAMPLE" in _error(raised)[2]


def test_a_signature_older_than_fifteen_minutes_is_refused(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: stale)
    with pytest.raises(ClientError) as raised:
        _client(server.url, server.editor).list_experiments()
    assert _error(raised)[:2] == (403, "InvalidSignatureException")
    assert "Signature expired" in _error(raised)[2]


def test_a_body_changed_after_signing_is_refused(server: Server) -> None:
    signed = _client(server.url, server.editor)

    def tamper(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b"10", b"20")  # same length: only the signature

    signed.meta.events.register_last("before-send.sagemaker.ListExperiments", tamper)
    with pytest.raises(ClientError) as raised:
        signed.list_experiments(MaxResults=10)
    assert _error(raised)[:2] == (403, "InvalidSignatureException")


def test_an_access_key_made_through_the_server_signs_requests(server: Server, name) -> None:
    env = {**os.environ, "SLIPWAY_SERVER_URL": server.url, "SLIPWAY_TOKEN": server.admin_token}
    command = [SLIPWAY, "token", "create", name("remote"), "--role", "viewer", "--access-key"]
    printed = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    keys = dict(line.split(" = ", 1) for line in printed.splitlines() if " = " in line)
    client = _client(server.url, Keys(keys["aws_access_key_id"], keys["aws_secret_access_key"]))
    assert "ExperimentSummaries" in client.list_experiments()


def test_the_runtime_checks_the_signature_of_an_invocation(
    server: Server, tmp_path: Path, name
) -> None:
    from serving_support import deploy, pack, sklearn_model
    from slipway._http import HttpClient
    from slipway.serving.client import RemoteServing

    endpoint = name("iris")
    model = pack(sklearn_model(tmp_path / "iris"), tmp_path / "iris.tar.gz")
    deploy(RemoteServing(HttpClient(server.url, server.admin_token)), endpoint, str(model))

    def invoke(keys: Keys) -> Any:
        runtime = boto3.client(
            "sagemaker-runtime", endpoint_url=server.url, region_name="us-east-1",
            aws_access_key_id=keys.access_key_id, aws_secret_access_key=keys.secret_access_key,
            config=Config(retries={"max_attempts": 1}),
        )  # fmt: skip
        answer = runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"
        )
        return orjson.loads(answer["Body"].read())

    assert invoke(server.editor) == [0]
    with pytest.raises(ClientError) as raised:
        invoke(Keys(server.editor.access_key_id, "x" * 40))
    assert _error(raised)[:2] == (403, "InvalidSignatureException")
    # A token used as the access key id once passed with any secret at all.
    with pytest.raises(ClientError) as raised:
        invoke(Keys(server.admin_token, "any secret"))
    assert _error(raised)[:2] == (403, "UnrecognizedClientException")
    with pytest.raises(ClientError) as raised:
        invoke(server.viewer)
    assert _error(raised)[0] == 403 and "viewer" in _error(raised)[2]


def test_a_viewer_may_read_but_not_create(server: Server, name) -> None:
    viewer = _client(server.url, server.viewer)
    assert "ExperimentSummaries" in viewer.list_experiments()
    with pytest.raises(ClientError) as raised:
        viewer.create_experiment(ExperimentName=name("not-allowed"))
    status, code, message = _error(raised)
    assert (status, code) == (403, "AccessDeniedException")
    assert "viewer" in message


def test_studio_still_answers_get_on_the_root(server: Server) -> None:
    answer = httpx.get(server.url + "/", headers={"Accept": "text/html"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")


# --- responses as the API defines them ----------------------------------------------------


def _undefined_members(shape: Any, value: Any, where: str = "") -> list[str]:
    """Members of a raw JSON answer that its shape lacks, and timestamps that are no numbers."""
    kind = shape.type_name
    if kind == "structure":
        found = [f"{where}.{k}" for k in value if k not in shape.members]
        for key, item in value.items():
            if key in shape.members:
                found += _undefined_members(shape.members[key], item, f"{where}.{key}")
        return found
    if kind == "list":
        return [p for i, item in enumerate(value) for p in _undefined_members(shape.member, item)]
    if kind == "map":
        return [p for item in value.values() for p in _undefined_members(shape.value, item, where)]
    if kind == "timestamp" and not isinstance(value, int | float):
        return [f"{where} is not epoch seconds: {value!r}"]
    return []


def test_every_implemented_operation_answers_its_output_shape(server: Server, name) -> None:
    from slipway.sagemaker.api import OPERATIONS

    checked: dict[str, list[str]] = {}

    def check(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        assert http_response.status_code == 200, parsed
        raw = orjson.loads(http_response.content)
        problems = _undefined_members(model.output_shape, raw)
        report = ParamValidator().validate(raw, model.output_shape)
        if report.has_errors():
            problems.append(report.generate_report())
        checked[model.name] = problems

    client = _client(server.url, server.editor)
    client.meta.events.register("after-call.sagemaker", check)
    experiment, trial, component = name("shape"), name("shape-trial"), name("shape-tc")
    client.create_experiment(ExperimentName=experiment, Tags=[{"Key": "k", "Value": "v"}])
    client.update_experiment(ExperimentName=experiment, Description="d")
    client.describe_experiment(ExperimentName=experiment)
    client.list_experiments()
    client.create_trial(TrialName=trial, ExperimentName=experiment)
    client.update_trial(TrialName=trial, DisplayName="t")
    client.describe_trial(TrialName=trial)
    client.list_trials(ExperimentName=experiment)
    client.create_trial_component(
        TrialComponentName=component, Parameters={"a": {"NumberValue": 1}},
        OutputArtifacts={"model": {"Value": "s3://b/model.tar.gz"}},
        StartTime=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    client.update_trial_component(TrialComponentName=component, DisplayName="c")
    client.associate_trial_component(TrialComponentName=component, TrialName=trial)
    client.describe_trial_component(TrialComponentName=component)
    client.list_trial_components(TrialName=trial)
    for resource in ("Experiment", "ExperimentTrial", "ExperimentTrialComponent"):
        client.search(Resource=resource, MaxResults=3)
    client.disassociate_trial_component(TrialComponentName=component, TrialName=trial)
    client.delete_trial_component(TrialComponentName=component)
    client.delete_trial(TrialName=trial)
    client.delete_experiment(ExperimentName=experiment)
    job = name("shape-job")
    _run_training_job(server, job)
    client.describe_training_job(TrainingJobName=job)
    client.list_training_jobs(NameContains=job)

    assert set(checked) == set(OPERATIONS)
    assert {op: problems for op, problems in checked.items() if problems} == {}
