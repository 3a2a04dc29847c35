"""The operator without a cluster: generated CRDs, the objects a resource becomes, handlers."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import pytest
import yaml

from slipway.operator.crds import crd, dump, file_name
from slipway.operator.handlers import reconcile, status_of, stop, sync_status
from slipway.operator.kinds import API_VERSION, KINDS
from slipway.operator.manifests import OperatorConfig, desired_objects, request_of

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
    assert pod["initContainers"][0]["command"][-1] == "HostingDeployment"
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


class RecordingCluster:
    """Stands in for the API server: keeps what was applied, answers gets from it."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.applied: list[str] = []

    def apply(self, obj: dict[str, Any]) -> None:
        self.applied.append(obj["metadata"]["name"])
        self.objects[(obj["kind"], obj["metadata"]["name"])] = obj

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict | None:
        return self.objects.get((kind, name))

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        self.objects.pop((kind, name), None)


class Patch(SimpleNamespace):
    def __init__(self) -> None:
        super().__init__(status={})


def test_handlers_create_once_sync_status_and_stop_on_delete() -> None:
    memo = SimpleNamespace(cluster=RecordingCluster(), config=CONFIG)
    patch = Patch()
    reconcile(body=TRAINING, patch=patch, memo=memo)
    reconcile(body=TRAINING, patch=Patch(), memo=memo)  # a resume: the Job is left alone
    assert memo.cluster.applied == ["slipway-train-churn"]
    assert patch.status["slipwayName"] == "churn-0f1e2d3c"
    assert patch.status["status"] == "InProgress"

    memo.cluster.objects[("Job", "slipway-train-churn")]["status"] = {"succeeded": 1}
    synced = Patch()
    sync_status(body=TRAINING, patch=synced, memo=memo)
    assert synced.status["status"] == "Completed"
    assert synced.status["modelArtifacts"] == {
        "s3ModelArtifacts": "s3://bucket/out/churn-0f1e2d3c/output/model.tar.gz"
    }

    stop(body=TRAINING, memo=memo)
    assert memo.cluster.objects == {}


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
    import kopf

    from slipway.operator.handlers import register

    registry = register(kopf.OperatorRegistry())
    # create, update, resume and delete per kind, and one status timer per kind
    changing = registry._changing.get_all_handlers()
    assert len(changing) == 4 * len(KINDS)
    assert len(registry._spawning.get_all_handlers()) == len(KINDS)
    assert {h.selector.plural for h in changing} == {kind.plural for kind in KINDS.values()}
