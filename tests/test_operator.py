"""The operator without a cluster: generated CRDs, the objects a resource becomes, handlers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kopf
import kubernetes_validate
import pytest
import yaml
from sklearn.datasets import load_breast_cancer

from serving_support import pack, random_forest_model, sklearn_model
from slipway.operator.changes import synced
from slipway.operator.crds import crd, dump, file_name
from slipway.operator.execute import execute
from slipway.operator.handlers import plan, reconcile
from slipway.operator.kinds import API_VERSION, KINDS
from slipway.operator.manifests import OperatorConfig, desired_objects, request_of, slipway_name
from slipway.operator.status import observed_status, service_status, status_of
from slipway.platform import Services, reset, services
from slipway.settings import get_settings, reload_settings

K8S_VERSION = "1.37.0"
DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
CONFIG = OperatorConfig(image="slipway:test", artifact_uri="s3://bucket/slipway")


def _resource(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": "ml", "uid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "spec": spec}


TRAINING = _resource(
    "TrainingJob",
    "churn",
    {
        "entryPoint": "train.py",
        "sourceUri": "s3://bucket/code/sourcedir.tar.gz",
        "hyperparameters": {"max_depth": 5, "learning_rate": "0.1"},
        "inputDataConfig": {"train": {"uri": "s3://bucket/train/", "contentType": "text/csv"}},
        "outputPath": "s3://bucket/out",
        "maxRun": 600,
        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}},
    },
)
EXAMPLES = [
    TRAINING,
    _resource(
        "HyperparameterTuningJob",
        "churn-tune",
        {
            "hyperParameterTuningJobConfig": {
                "strategy": "Random",
                "hyperParameterTuningJobObjective": {"type": "Minimize", "metricName": "loss"},
                "resourceLimits": {"maxNumberOfTrainingJobs": 4, "maxParallelTrainingJobs": 2},
                "parameterRanges": {
                    "integerParameterRanges": [{"name": "depth", "minValue": "2", "maxValue": "8"}]
                },
            },
            "trainingJobDefinition": {
                "entryPoint": "train.py",
                "metricDefinitions": [{"name": "loss", "regex": "loss=([0-9.]+)"}],
            },
        },
    ),
    _resource(
        "BatchTransformJob",
        "score",
        {
            "modelName": "churn-model",
            "transformInput": {
                "dataSource": {"s3DataSource": {"s3Uri": "s3://bucket/batch/"}},
                "contentType": "text/csv",
            },
            "transformOutput": {"s3OutputPath": "s3://bucket/scored/"},
        },
    ),
    _resource(
        "HostingDeployment",
        "churn-endpoint",
        {
            "endpointName": "churn",
            "models": [
                {
                    "modelName": "churn-model",
                    "primaryContainer": {"modelDataUrl": "s3://bucket/out/model.tar.gz"},
                }
            ],
            "productionVariants": [{"modelName": "churn-model", "initialInstanceCount": 2}],
        },
    ),
    _resource(
        "MonitoringSchedule",
        "churn-monitor",
        {
            "endpointName": "churn",
            "outputUri": "s3://bucket/monitor/",
            "scheduleExpression": "cron(0 */6 ? * * *)",
        },
    ),
    _resource(
        "AutoMLJob",
        "churn-automl",
        {
            "inputDataConfig": [
                {
                    "dataSource": {"s3DataSource": {"s3Uri": "s3://bucket/churn.csv"}},
                    "targetAttributeName": "churned",
                }
            ],
        },
    ),
]


def _walk(node: dict[str, Any], path: str = "") -> None:
    """Kubernetes' structural schema rules, as the API server checks them."""
    assert not {"$ref", "anyOf", "oneOf", "allOf", "$defs", "title"} & set(node), path
    flags = ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string")
    assert "type" in node or any(node.get(f) for f in flags), f"untyped node at {path}"
    assert not ("properties" in node and "additionalProperties" in node), path
    for name, sub in node.get("properties", {}).items():
        assert name[0].islower(), f"{path}.{name} is not lowerCamel"
        _walk(sub, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        _walk(node["additionalProperties"], f"{path}[*]")
    if "items" in node:
        _walk(node["items"], f"{path}[]")


@pytest.mark.parametrize("kind", KINDS)
def test_crd_is_structural_and_valid_for_kubernetes(kind: str) -> None:
    definition = crd(KINDS[kind])
    kubernetes_validate.validate(definition, K8S_VERSION, strict=True)
    version = definition["spec"]["versions"][0]
    _walk(version["schema"]["openAPIV3Schema"])
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]][:2] == [
        "Status",
        "Secondary-Status",
    ]


def test_training_job_crd_follows_the_request_model() -> None:
    spec = crd(KINDS["TrainingJob"])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = spec["properties"]["spec"]
    assert spec["required"] == ["entryPoint"]  # the name comes from the CR when left out
    assert spec["properties"]["maxRun"] == {"maximum": 2419200, "minimum": 1, "type": "integer"}
    channel = spec["properties"]["inputDataConfig"]["additionalProperties"]
    assert channel["required"] == ["uri"]
    assert spec["properties"]["hyperparameters"]["additionalProperties"] == {
        "x-kubernetes-preserve-unknown-fields": True
    }


@pytest.mark.parametrize("kind", KINDS)
def test_committed_crds_equal_the_generated_ones(kind: str) -> None:
    committed = (DEPLOY / "crds" / file_name(KINDS[kind])).read_text()
    assert committed == dump([crd(KINDS[kind])]), "run `slipway operator crds -o deploy/crds`"


@pytest.mark.parametrize("body", EXAMPLES, ids=[b["kind"] for b in EXAMPLES])
def test_every_generated_manifest_is_valid_for_kubernetes(body: dict[str, Any]) -> None:
    objects = desired_objects(body, CONFIG)
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        assert obj["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"]


def test_training_job_becomes_a_job_under_the_container_contract() -> None:
    (job,) = desired_objects(TRAINING, CONFIG)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert job["kind"] == "Job" and job["metadata"]["name"] == "slipway-train-churn"
    assert container["command"] == ["slipway", "operator", "execute", "TrainingJob"]
    assert container["image"] == "slipway:test"
    assert container["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"}}
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SLIPWAY_ARTIFACT_URI"] == "s3://bucket/slipway"
    request = json.loads(env["SLIPWAY_REQUEST"])
    assert request["TrainingJobName"] == "churn-0f1e2d3c"
    assert request["Hyperparameters"] == {"max_depth": 5, "learning_rate": "0.1"}
    assert job["spec"]["activeDeadlineSeconds"] == 900
    assert pod["restartPolicy"] == "Never"


def test_spec_name_wins_over_the_generated_one() -> None:
    body = {**TRAINING, "spec": {**TRAINING["spec"], "trainingJobName": "Churn-Run-7"}}
    assert request_of(body).training_job_name == "Churn-Run-7"


def test_hosting_deployment_becomes_deployment_and_service_serving_the_endpoint() -> None:
    body = next(b for b in EXAMPLES if b["kind"] == "HostingDeployment")
    deployment, service = desired_objects(body, CONFIG)
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    assert "initContainers" not in pod  # the operator keeps the endpoint in the store
    assert pod["containers"][0]["command"][:4] == ["slipway", "endpoints", "serve", "churn"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_monitoring_schedule_becomes_a_cron_job_on_the_same_hours() -> None:
    body = next(b for b in EXAMPLES if b["kind"] == "MonitoringSchedule")
    (cron_job,) = desired_objects(body, CONFIG)
    assert cron_job["kind"] == "CronJob"
    assert cron_job["spec"]["schedule"] == "0 0,6,12,18 * * *"


def test_invalid_spec_is_refused_with_the_models_message() -> None:
    body = {**TRAINING, "spec": {**TRAINING["spec"], "maxRun": 0}}
    with pytest.raises(ValueError, match="MaxRun"):
        desired_objects(body, CONFIG)


def test_job_status_carries_the_failure_reason() -> None:
    failed = {"failed": 1, "conditions": [{"type": "Failed", "message": "BackoffLimitExceeded"}]}
    assert status_of("Job", failed, {}) == {
        "status": "Failed",
        "secondaryStatus": "Failed",
        "failureReason": "BackoffLimitExceeded",
    }
    assert status_of("Deployment", {"readyReplicas": 2}, {"replicas": 2})["status"] == "InService"


def test_deploy_manifests_are_valid_for_kubernetes() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        for document in yaml.safe_load_all((DEPLOY / resource).read_text()):
            kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_the_store_secret_is_a_template_the_server_operator_and_pods_read() -> None:
    secret = yaml.safe_load((DEPLOY / "store-secret.yaml").read_text())
    settings = secret["stringData"]
    for key in ("SLIPWAY_DATABASE_URL", "SLIPWAY_ARTIFACT_URI", "SLIPWAY_TOKEN"):
        assert "change-me" in settings[key], f"{key} must be a placeholder"
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert "store-secret.yaml" in kustomization["resources"]
    name = secret["metadata"]["name"]
    for file in ("server.yaml", "operator.yaml"):
        deployment = next(yaml.safe_load_all((DEPLOY / file).read_text()))
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert {"secretRef": {"name": name}} in container["envFrom"], file
    # The first admin token is the server's alone: no pod that runs user code gets it.
    admin = yaml.safe_load((DEPLOY / "admin-secret.yaml").read_text())
    assert "admin-secret.yaml" in kustomization["resources"]
    assert "change-me" in admin["stringData"]["SLIPWAY_BOOTSTRAP_ADMIN_TOKEN"]
    server = next(yaml.safe_load_all((DEPLOY / "server.yaml").read_text()))
    (container,) = server["spec"]["template"]["spec"]["containers"]
    assert {"secretRef": {"name": admin["metadata"]["name"]}} in container["envFrom"]
    # The pods of custom resources read a Secret of that name in their own namespace.
    (job,) = desired_objects(TRAINING, OperatorConfig())
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": name}}]


def test_cli_prints_the_crds(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from slipway.operator.cli import operator_app

    result = CliRunner().invoke(operator_app, ["crds"])
    assert result.exit_code == 0, result.output
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(result.output)]
    assert names == [kind.crd_name for kind in KINDS.values()]
    written = CliRunner().invoke(operator_app, ["crds", "-o", str(tmp_path)])
    assert written.exit_code == 0 and len(list(tmp_path.glob("*.yaml"))) == len(KINDS)


def test_handlers_are_registered_with_kopf_for_every_kind() -> None:
    from slipway.operator.handlers import register

    registry = register(kopf.OperatorRegistry())
    # create, update, resume and delete per kind, and one status timer per kind
    changing = registry._changing.get_all_handlers()
    assert len(changing) == 4 * len(KINDS)
    assert len(registry._spawning.get_all_handlers()) == len(KINDS)
    assert {h.selector.plural for h in changing} == {kind.plural for kind in KINDS.values()}
    # A registry of its own has no login of kopf's: the operator brings the client's.
    (login,) = registry._activities.get_all_handlers()
    assert login.fn is kopf.login_via_client


# --- reconciling against slipway's services ------------------------------------------


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """The store the operator and its pods share: here, an embedded one of the test's own."""
    for name in [n for n in os.environ if n.startswith("SLIPWAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
    reload_settings()
    reset()
    yield services()
    reset()
    get_settings.cache_clear()


def _edit(body: dict[str, Any], status: dict[str, Any] | None = None, **spec: Any) -> dict:
    """The resource after `kubectl edit`: its spec changed, the status it had kept."""
    return {**body, "spec": {**body["spec"], **spec}, "status": status or body.get("status", {})}


def _created(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects as a first reconcile of ``body`` made them (what the cluster holds)."""
    return desired_objects(body, CONFIG)


def _declared(value: Any, schema: dict[str, Any], path: str = "status") -> None:
    """Every field of a status is in the CRD's schema, so the API server keeps it."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        assert schema["type"] == "object", path
        for key, item in value.items():
            sub = schema.get("properties", {}).get(key) or schema.get("additionalProperties")
            assert isinstance(sub, dict), f"{path}.{key} is not in the CRD and would be pruned"
            _declared(item, sub, f"{path}.{key}")
    elif isinstance(value, list):
        assert schema["type"] == "array", path
        for item in value:
            _declared(item, schema["items"], f"{path}[]")
    else:
        expected = {str: "string", bool: "boolean", int: "integer", float: "number"}
        assert schema["type"] in (expected[type(value)], "number"), f"{path}: {value!r}"


def _status_schema(kind: str) -> dict[str, Any]:
    version = crd(KINDS[kind])["spec"]["versions"][0]
    return version["schema"]["openAPIV3Schema"]["properties"]["status"]


def test_a_job_spec_changed_after_submission_is_refused_naming_the_fields(
    store: Services,
) -> None:
    created = _created(TRAINING)
    resumed = plan(TRAINING, created, created, store)
    assert resumed.refused is None and resumed.apply == []  # the Job is left as it is
    assert resumed.status["conditions"][0]["status"] == "True"

    edited = _edit(TRAINING, maxRun=1200, hyperparameters={"max_depth": 7, "learning_rate": "0.1"})
    decided = plan(edited, desired_objects(edited, CONFIG), created, store)
    assert decided.apply == [] and decided.refused is not None
    assert decided.refused.fields == ("spec.hyperparameters.max_depth", "spec.maxRun")
    (condition,) = synced(edited, decided.refused)
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Synced",
        "False",
        "ChangeRefused",
    )
    assert condition["message"].startswith("spec.hyperparameters.max_depth, spec.maxRun cannot")
    assert "'churn-0f1e2d3c'" in condition["message"]
    _declared({"conditions": [condition]}, _status_schema("TrainingJob"))

    # Put back, the spec is what was submitted: applied again, nothing to change.
    assert plan(_edit(edited, **TRAINING["spec"]), created, created, store).refused is None


def test_an_invalid_spec_is_a_permanent_error_reported_in_status() -> None:
    patch = SimpleNamespace(status={})
    body = _edit(TRAINING, maxRun=0)
    # An invalid spec is refused before the cluster or the store is reached.
    with pytest.raises(kopf.PermanentError, match="MaxRun"):
        reconcile(body=body, patch=patch, memo=SimpleNamespace(config=CONFIG))
    (condition,) = patch.status["conditions"]
    assert condition["status"] == "False" and condition["reason"] == "InvalidSpec"
    assert "MaxRun" in condition["message"]


MONITOR = next(b for b in EXAMPLES if b["kind"] == "MonitoringSchedule")


def test_a_schedule_takes_the_changes_it_allows_and_refuses_the_rest(store: Services) -> None:
    first = plan(MONITOR, _created(MONITOR), [None], store)
    name = first.status["slipwayName"]
    assert store.monitor.describe_monitoring_schedule(name).endpoint_name == "churn"

    hourly = _edit(MONITOR, first.status, scheduleExpression="cron(0 * ? * * *)")
    decided = plan(hourly, desired_objects(hourly, CONFIG), _created(MONITOR), store)
    assert decided.refused is None
    (cron_job,) = decided.apply  # a CronJob is applied again, on the new hours
    assert cron_job["spec"]["schedule"] == "0 * * * *"
    stored = store.monitor.describe_monitoring_schedule(name).monitoring_schedule_config
    assert stored.schedule_expression == "cron(0 * ? * * *)"

    moved = _edit(hourly, outputUri="s3://bucket/elsewhere/")
    refused = plan(moved, desired_objects(moved, CONFIG), _created(hourly), store).refused
    assert refused is not None and refused.fields == ("spec.outputUri",)
    assert "scheduleExpression" in refused.message  # it says what can change
    stored = store.monitor.describe_monitoring_schedule(name).monitoring_schedule_config
    assert stored.output_uri == "s3://bucket/monitor/"


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Two versions of a model, as two training jobs would have packed them."""
    folder = tmp_path_factory.mktemp("models")
    first = pack(sklearn_model(folder / "a"), folder / "a" / "model.tar.gz")
    second = pack(random_forest_model(folder / "b"), folder / "b" / "model.tar.gz")
    return str(first), str(second)


def _hosting(model_url: str, **variant: Any) -> dict[str, Any]:
    return _resource(
        "HostingDeployment",
        "churn-endpoint",
        {
            "endpointName": "churn",
            "models": [{"modelName": "churn", "primaryContainer": {"modelDataUrl": model_url}}],
            "productionVariants": [{"modelName": "churn", **variant}],
        },
    )


def _serving(store: Services, body: dict[str, Any]) -> dict[str, Any]:
    """Reconcile, let the endpoint settle, and read the status the timer would set."""
    decided = plan(body, desired_objects(body, CONFIG), _created(body), store)
    assert decided.refused is None
    store.serving.wait_for_endpoint("churn", timeout=60)
    deployment = {**decided.apply[0], "status": {"readyReplicas": 5}}
    known = service_status(store, {**body, "status": decided.status})
    return {**decided.status, **observed_status(body, deployment, known)}


def test_an_edited_hosting_deployment_moves_its_endpoint_to_a_new_config(
    store: Services, archives: tuple[str, str]
) -> None:
    first = _hosting(archives[0], initialInstanceCount=1)
    created = _serving(store, first)
    assert created["status"] == "InService" and created["endpointStatus"] == "InService"
    assert created["endpointUrl"] == "http://slipway-endpoint-churn-endpoint.ml.svc/invocations"

    # A new model version, more instances and another weight: a new config, swapped in.
    edited = _hosting(archives[1], initialInstanceCount=3, initialVariantWeight=0.5)
    decided = plan(edited, desired_objects(edited, CONFIG), _created(first), store)
    deployment, _ = decided.apply
    assert deployment["spec"]["replicas"] == 3
    assert decided.status["endpointStatus"] == "Updating"
    # While it updates, reconciling again is a temporary error kopf retries; let it settle.
    store.serving.wait_for_endpoint("churn", timeout=60)
    updated = _serving(store, edited)
    assert updated["endpointConfigName"] != created["endpointConfigName"]
    assert updated["status"] == "InService" and "failureReason" not in updated
    config = store.serving.get_endpoint_config(updated["endpointConfigName"])
    (variant,) = config.production_variants
    assert variant.model_name == updated["modelNames"]["churn"] != created["modelNames"]["churn"]
    assert (variant.initial_instance_count, variant.initial_variant_weight) == (3, 0.5)
    assert (
        store.serving.get_model(variant.model_name).primary_container.model_data_url
        == (archives[1])
    )
    _declared(updated, _status_schema("HostingDeployment"))

    # Reconciling the same spec again (a restart) finds everything made already.
    again = plan(edited, desired_objects(edited, CONFIG), _created(edited), store)
    assert again.status["endpointConfigName"] == updated["endpointConfigName"]
    assert again.status["endpointStatus"] == "InService"


def test_a_failed_endpoint_is_made_anew_from_the_fixed_spec(
    store: Services, archives: tuple[str, str], tmp_path: Path
) -> None:
    broken = _serving(store, _hosting(str(tmp_path / "missing" / "model.tar.gz")))
    assert broken["status"] == "Failed" and broken["endpointStatus"] == "Failed"
    assert "missing" in broken["failureReason"]

    fixed = _serving(store, _hosting(archives[0]))
    assert fixed["status"] == "InService" and fixed["endpointStatus"] == "InService"
    assert store.serving.get_endpoint("churn").failure_reason is None


def _multi_model(prefix: str) -> dict[str, Any]:
    container = {"mode": "MultiModel", "modelDataUrl": prefix}
    return _resource(
        "HostingDeployment",
        "churn-endpoint",
        {
            "endpointName": "churn",
            "models": [{"modelName": "many", "primaryContainer": container}],
            "productionVariants": [{"modelName": "many", "initialInstanceCount": 2}],
        },
    )


def test_a_multi_model_endpoint_moves_to_the_models_new_prefix(
    store: Services, archives: tuple[str, str]
) -> None:
    first_prefix, second_prefix = (str(Path(a).parent) for a in archives)
    first = _serving(store, _multi_model(first_prefix))
    second = _serving(store, _multi_model(second_prefix))
    assert second["endpointStatus"] == "InService"
    assert second["endpointConfigName"] != first["endpointConfigName"]
    endpoint = store.serving.get_endpoint("churn")
    assert endpoint.endpoint_config_name == second["endpointConfigName"]
    model = store.serving.get_model(second["modelNames"]["many"])
    assert model.primary_container.model_data_url == second_prefix


def test_an_endpoint_keeps_its_name_and_serves_only_the_models_of_its_spec(
    store: Services, archives: tuple[str, str]
) -> None:
    created = _serving(store, _hosting(archives[0]))
    renamed = _edit(_hosting(archives[0]), created, endpointName="churn-two")
    refused = plan(renamed, desired_objects(renamed, CONFIG), _created(renamed), store).refused
    assert refused is not None and refused.fields == ("spec.endpointName",)
    assert "'churn'" in refused.message

    stray = _edit(_hosting(archives[0]), created, productionVariants=[{"modelName": "other"}])
    refused = plan(stray, desired_objects(stray, CONFIG), _created(stray), store).refused
    assert refused is not None and refused.reason == "InvalidSpec"
    assert "'other'" in refused.message and "spec.models" in refused.message


SCRIPT = """
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--depth", type=int)
args = parser.parse_args()
print(f"loss={abs(args.depth - 4) + 0.5};")
"""


def _pod_runs(body: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """Run what the resource's pod runs, with its request, in this process and store."""
    (job,) = desired_objects(body, CONFIG)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    monkeypatch.setenv("SLIPWAY_REQUEST", env["SLIPWAY_REQUEST"])
    on_sigterm = signal.getsignal(signal.SIGTERM)  # a pod's stops its job; not pytest's
    try:
        return execute(body["kind"])
    finally:
        signal.signal(signal.SIGTERM, on_sigterm)


def _source(tmp_path: Path, script: str) -> str:
    """The script's folder packed as sourcedir.tar.gz, as the SDK uploads it."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text(script)
    return str(pack(tmp_path / "code", tmp_path / "sourcedir.tar.gz"))


def test_a_training_job_reports_where_the_service_put_its_model(
    store: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = "import os\nopen(os.path.join(os.environ['SM_MODEL_DIR'], 'm.txt'), 'w').write('1')\n"
    body = _resource("TrainingJob", "tiny", {"entryPoint": "train.py", "sourceUri": ""})
    body["spec"]["sourceUri"] = _source(tmp_path, script)
    assert _pod_runs(body, monkeypatch) == "Completed"

    known = service_status(store, body)
    described = store.training.describe_training_job(slipway_name(body))
    model = known["modelArtifacts"]["s3ModelArtifacts"]
    assert model == described.model_artifacts["S3ModelArtifacts"]
    assert model.endswith("model.tar.gz")
    owned = {**_created(body)[0], "status": {"succeeded": 1}}
    _declared(observed_status(body, owned, known), _status_schema("TrainingJob"))


def test_a_pod_whose_job_fails_exits_non_zero(tmp_path: Path) -> None:
    # Kubernetes marks the Job failed only when its pod's command exits non-zero.
    body = _resource("TrainingJob", "crash", {"entryPoint": "train.py", "sourceUri": ""})
    body["spec"]["sourceUri"] = _source(tmp_path, "raise SystemExit('no data')\n")
    (job,) = desired_objects(body, CONFIG)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    request = next(e["value"] for e in container["env"] if e["name"] == "SLIPWAY_REQUEST")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(SLIPWAY_HOME=str(tmp_path / "home"), SLIPWAY_REQUEST=request)
    slipway = str(Path(sys.executable).parent / "slipway")
    done = subprocess.run(
        [slipway, "operator", "execute", "TrainingJob"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.strip() == "TrainingJob: Failed"


def test_a_tuning_job_reports_its_best_training_job(
    store: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path, SCRIPT)
    body = _resource(
        "HyperparameterTuningJob",
        "depth",
        {
            "hyperParameterTuningJobConfig": {
                "strategy": "Grid",
                "hyperParameterTuningJobObjective": {"type": "Minimize", "metricName": "loss"},
                "resourceLimits": {"maxNumberOfTrainingJobs": 3},
                "parameterRanges": {
                    "categoricalParameterRanges": [{"name": "depth", "values": ["2", "4", "7"]}]
                },
            },
            "trainingJobDefinition": {
                "entryPoint": "train.py",
                "sourceUri": source,
                "metricDefinitions": [{"name": "loss", "regex": "loss=([0-9.]+);"}],
            },
        },
    )
    assert service_status(store, body) == {}  # not known until the pod records it
    assert _pod_runs(body, monkeypatch) == "Completed"

    known = service_status(store, body)
    best = known["bestTrainingJob"]
    assert best["tunedHyperParameters"] == {"depth": "4"}
    assert best["finalHyperParameterTuningJobObjectiveMetric"]["value"] == 0.5
    assert best["trainingJobStatus"] == "Completed"
    assert known["trainingJobStatusCounters"]["completed"] == 3
    owned = {**_created(body)[0], "status": {"succeeded": 1}}
    status = observed_status(body, owned, known)
    assert status["status"] == "Completed" and status["bestTrainingJob"] == best
    _declared(status, _status_schema("HyperparameterTuningJob"))
    columns = crd(KINDS["HyperparameterTuningJob"])["spec"]["versions"][0]
    paths = [c["jsonPath"] for c in columns["additionalPrinterColumns"]]
    assert ".status.bestTrainingJob.trainingJobName" in paths


def test_an_automl_job_reports_its_best_candidate(
    store: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    features, labels = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = features.iloc[:150, :4].assign(diagnosis=labels.iloc[:150].map({0: "bad", 1: "ok"}))
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    body = _resource(
        "AutoMLJob",
        "cancer",
        {
            "inputDataConfig": [
                {
                    "dataSource": {"s3DataSource": {"s3Uri": str(tmp_path / "cancer.csv")}},
                    "targetAttributeName": "diagnosis",
                }
            ],
            "autoMLJobConfig": {"completionCriteria": {"maxCandidates": 2}},
        },
    )
    assert _pod_runs(body, monkeypatch) == "Completed"

    known = service_status(store, body)
    best = known["bestCandidate"]
    # F1 is maximised: the best is the first of the candidates by objective, descending.
    top = store.automl.list_candidates_for_auto_ml_job(slipway_name(body))[0]
    assert best["candidateName"] == top.candidate_name
    assert best["finalAutoMLJobObjectiveMetric"]["metricName"] == "F1"
    owned = {**_created(body)[0], "status": {"succeeded": 1}}
    status = observed_status(body, owned, known)
    _declared(status, _status_schema("AutoMLJob"))
    columns = crd(KINDS["AutoMLJob"])["spec"]["versions"][0]["additionalPrinterColumns"]
    assert ".status.bestCandidate.candidateName" in [c["jsonPath"] for c in columns]
