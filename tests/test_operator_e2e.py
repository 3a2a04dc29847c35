"""The operator against a real cluster: only where KUBECONFIG names one.

No kube-apiserver can be installed from the package registries this project reaches
(Debian ships etcd and kubectl but no API server; PyPI has no package with one), so
this runs on a developer's cluster (kind, k3s, ...) and is skipped elsewhere.
"""

from __future__ import annotations

import os
import uuid

import pytest

pytestmark = pytest.mark.skipif(
    not os.environ.get("KUBECONFIG"),
    reason="needs a Kubernetes cluster: set KUBECONFIG (no API server is installable here)",
)


def test_crds_install_and_a_training_job_becomes_an_owned_job() -> None:
    from kubernetes import client, config

    from slipway.operator.crds import all_crds
    from slipway.operator.handlers import reconcile
    from slipway.operator.kinds import API_VERSION
    from slipway.operator.kube import KubeCluster
    from slipway.operator.manifests import OperatorConfig

    config.load_kube_config()
    cluster = KubeCluster()
    for definition in all_crds():
        cluster.apply(definition)
    namespace = "default"
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    custom = client.CustomObjectsApi()
    body = custom.create_namespaced_custom_object(
        "slipway.dev",
        "v1",
        namespace,
        "trainingjobs",
        {
            "apiVersion": API_VERSION,
            "kind": "TrainingJob",
            "metadata": {"name": name},
            "spec": {"entryPoint": "train.py"},
        },
    )
    try:
        patch = type("Patch", (), {"status": {}})()
        memo = type("Memo", (), {"cluster": cluster, "config": OperatorConfig()})()
        reconcile(body=body, patch=patch, memo=memo)
        job = client.BatchV1Api().read_namespaced_job(f"slipway-train-{name}", namespace)
        assert job.metadata.owner_references[0].uid == body["metadata"]["uid"]
    finally:
        custom.delete_namespaced_custom_object("slipway.dev", "v1", namespace, "trainingjobs", name)
