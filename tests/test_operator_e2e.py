"""The operator against a real cluster: only where KUBECONFIG names one.

No kube-apiserver can be installed from the package registries this project reaches
(Debian ships etcd and kubectl but no API server; PyPI has no package with one), so
this runs on a developer's cluster (kind, k3s, ...) and is skipped elsewhere.

The controller runs in this process, in a thread, on an embedded store of the test's
own; no pod of slipway's image needs to run: the endpoint's status comes from the store, and
the test plays a job's pod by running the Job's request in-process.
Everything goes into a namespace of its own, deleted at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from serving_support import pack, sklearn_model

pytestmark = pytest.mark.skipif(
    not os.environ.get("KUBECONFIG"),
    reason="needs a Kubernetes cluster: set KUBECONFIG (no API server is installable here)",
)
GROUP, VERSION = "slipway.dev", "v1"


def _until(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    """The CRDs installed, and a namespace of the test's own."""
    from kubernetes import client, config

    from slipway.operator.crds import all_crds
    from slipway.operator.kube import KubeCluster

    config.load_kube_config()
    cluster = KubeCluster()
    for definition in all_crds():
        cluster.apply(definition)
    extensions = client.ApiextensionsV1Api()
    for definition in all_crds():
        name = definition["metadata"]["name"]
        _until(
            lambda n=name: any(
                c.type == "Established" and c.status == "True"
                for c in extensions.read_custom_resource_definition(n).status.conditions or []
            ),
            f"CRD {name} established",
        )
    name = f"slipway-e2e-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api()
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="module")
def store(namespace: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The controller running in a thread, on an embedded store; yields that store."""
    from slipway.operator.handlers import run_operator
    from slipway.operator.kube import KubeCluster
    from slipway.operator.manifests import OperatorConfig
    from slipway.platform import reset, services
    from slipway.settings import reload_settings

    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("SLIPWAY_")]:
            env.delenv(name)
        env.setenv("SLIPWAY_HOME", str(tmp_path_factory.mktemp("home")))
        reload_settings()
        reset()
        found, stop = services(), threading.Event()
        worker = threading.Thread(
            target=run_operator,
            args=(KubeCluster(), found, OperatorConfig(image="slipway:e2e"), [namespace], stop),
        )
        worker.start()
        yield found
        _delete_all(namespace)  # while the controller runs: it removes their finalizers
        stop.set()
        worker.join(60)
        reset()
    reload_settings()


def _delete_all(namespace: str) -> None:
    from slipway.operator.kinds import KINDS

    api = _api()
    for kind in KINDS.values():
        api.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, kind.plural)
    for kind in KINDS.values():
        _until(
            lambda k=kind: (
                not api.list_namespaced_custom_object(GROUP, VERSION, namespace, k.plural)["items"]
            ),
            f"{kind.plural} deleted",
        )


def _api() -> Any:
    from kubernetes import client

    return client.CustomObjectsApi()


def _create(namespace: str, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    from slipway.operator.kinds import KINDS

    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}}
    return _api().create_namespaced_custom_object(
        GROUP, VERSION, namespace, KINDS[kind].plural, {**body, "spec": spec}
    )


def _get(namespace: str, kind: str, name: str) -> dict[str, Any]:
    from slipway.operator.kinds import KINDS

    return _api().get_namespaced_custom_object(GROUP, VERSION, namespace, KINDS[kind].plural, name)


def _edit(namespace: str, kind: str, name: str, spec: dict[str, Any]) -> None:
    from slipway.operator.kinds import KINDS

    _api().patch_namespaced_custom_object(
        GROUP, VERSION, namespace, KINDS[kind].plural, name, {"spec": spec}
    )


def _status(namespace: str, kind: str, name: str) -> dict[str, Any]:
    return _get(namespace, kind, name).get("status") or {}


def _synced(namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    conditions = _status(namespace, kind, name).get("conditions", [])
    return next((c for c in conditions if c["type"] == "Synced"), None)


def test_a_training_job_becomes_a_job_and_a_later_edit_is_refused_in_status(
    namespace: str, store: Any
) -> None:
    from kubernetes import client

    from slipway.operator.manifests import SPEC_ANNOTATION

    created = _create(namespace, "TrainingJob", "churn", {"entryPoint": "train.py", "maxRun": 600})
    batch = client.BatchV1Api()
    job = _until(
        lambda: batch.list_namespaced_job(namespace, label_selector="slipway.dev/name=churn").items,
        "the Job",
    )[0]
    assert job.metadata.owner_references[0].uid == created["metadata"]["uid"]
    ok = _until(lambda: _synced(namespace, "TrainingJob", "churn"), "Synced")
    assert ok["status"] == "True"
    secondary = _until(
        lambda: _status(namespace, "TrainingJob", "churn").get("secondaryStatus"),
        "the status timer",
    )
    assert secondary in ("Starting", "Training", "Failed")  # no slipway image need be there

    _edit(namespace, "TrainingJob", "churn", {"maxRun": 1200})

    def refused() -> dict[str, Any] | None:
        condition = _synced(namespace, "TrainingJob", "churn")
        return condition if condition and condition["status"] == "False" else None

    condition = _until(refused, "the edit refused")
    assert condition["reason"] == "ChangeRefused" and "spec.maxRun" in condition["message"]
    job = batch.read_namespaced_job(job.metadata.name, namespace)
    assert json.loads(job.metadata.annotations[SPEC_ANNOTATION])["maxRun"] == 600


def test_an_edited_hosting_deployment_updates_endpoint_and_deployment(
    namespace: str, store: Any, tmp_path: Path
) -> None:
    from kubernetes import client

    archive = str(pack(sklearn_model(tmp_path / "model"), tmp_path / "model.tar.gz"))
    endpoint = f"e2e-{uuid.uuid4().hex[:6]}"
    spec = {
        "endpointName": endpoint,
        "models": [{"modelName": "iris", "primaryContainer": {"modelDataUrl": archive}}],
        "productionVariants": [{"modelName": "iris", "initialInstanceCount": 1}],
    }
    _create(namespace, "HostingDeployment", "iris", spec)
    apps = client.AppsV1Api()
    deployment = "slipway-endpoint-iris"
    _until(lambda: apps.list_namespaced_deployment(namespace).items, "the Deployment")

    def serving(config: str | None = None) -> dict[str, Any] | None:
        status = _status(namespace, "HostingDeployment", "iris")
        moved = status.get("endpointConfigName") not in (None, config)
        return status if moved and status.get("endpointStatus") == "InService" else None

    first = _until(serving, "the endpoint in service")
    variants = [{"modelName": "iris", "initialInstanceCount": 2, "initialVariantWeight": 0.5}]
    _edit(namespace, "HostingDeployment", "iris", {"productionVariants": variants})
    _until(
        lambda: apps.read_namespaced_deployment(deployment, namespace).spec.replicas == 2,
        "two replicas",
    )
    second = _until(lambda: serving(first["endpointConfigName"]), "the endpoint's new config")
    assert second["endpointConfigName"] == store.serving.get_endpoint(endpoint).endpoint_config_name
    (variant,) = store.serving.get_endpoint_config(second["endpointConfigName"]).production_variants
    assert (variant.initial_instance_count, variant.initial_variant_weight) == (2, 0.5)


SCRIPT = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--depth", type=int)
print(f"loss={abs(parser.parse_args().depth - 4) + 0.5};")
"""


def test_a_tuning_job_shows_its_best_training_job(
    namespace: str, store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes import client

    from slipway.operator.execute import execute

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text(SCRIPT)
    source = pack(tmp_path / "code", tmp_path / "sourcedir.tar.gz")
    spec = {
        "hyperParameterTuningJobConfig": {
            "strategy": "Grid",
            "hyperParameterTuningJobObjective": {"type": "Minimize", "metricName": "loss"},
            "resourceLimits": {"maxNumberOfTrainingJobs": 2},
            "parameterRanges": {
                "categoricalParameterRanges": [{"name": "depth", "values": ["2", "4"]}]
            },
        },
        "trainingJobDefinition": {
            "entryPoint": "train.py",
            "sourceUri": str(source),
            "metricDefinitions": [{"name": "loss", "regex": "loss=([0-9.]+);"}],
        },
    }
    _create(namespace, "HyperparameterTuningJob", "depth", spec)
    job = _until(
        lambda: (
            client.BatchV1Api()
            .list_namespaced_job(namespace, label_selector="slipway.dev/name=depth")
            .items
        ),
        "the Job",
    )[0]
    # Play the Job's pod: run its request, in this process and the operator's store.
    (container,) = job.spec.template.spec.containers
    request = next(e.value for e in container.env if e.name == "SLIPWAY_REQUEST")
    monkeypatch.setenv("SLIPWAY_REQUEST", request)
    on_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        assert execute("HyperparameterTuningJob") == "Completed"
    finally:
        signal.signal(signal.SIGTERM, on_sigterm)

    best = _until(
        lambda: _status(namespace, "HyperparameterTuningJob", "depth").get("bestTrainingJob"),
        "the best training job in status",
    )
    assert best["tunedHyperParameters"] == {"depth": "4"}
    if shutil.which("kubectl"):
        shown = subprocess.run(
            ["kubectl", "get", "hyperparametertuningjobs", "depth", "-n", namespace],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "BEST-TRAINING-JOB" in shown and best["trainingJobName"] in shown
