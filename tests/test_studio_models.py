"""Studio's model registry pages against a real server and Chromium: groups, versions,
approval with a comment, and the approve-and-deploy flow ending in a real prediction.

The registered model is real: a training job fits a scikit-learn classifier on iris,
saves it with skops and the version is registered from that job, with its lineage.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving_support import IRIS_ROW, iris, pack, sklearn_model
from slipway.registry import ModelPackageGroup, register_model
from slipway.studio.common import PAGE_SIZE
from slipway.training.estimator import Estimator
from studio_support import Page, Studio, needs_chromium, signed_in, studio_server

pytestmark = needs_chromium

GROUP = "iris"
JOB = "iris-train-1"
TRAIN_SCRIPT = """\
import os

import numpy as np
import skops.io
from sklearn.linear_model import LogisticRegression

data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "iris.csv"), delimiter=",")
model = LogisticRegression(max_iter=500).fit(data[:, 1:], data[:, 0])
skops.io.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.skops"))
print(f"accuracy={model.score(data[:, 1:], data[:, 0]):.4f}")
"""
EMPTY_GROUPS = PAGE_SIZE + 2


def _seed(folder: Path) -> None:
    """A version from a real training job (with lineage), one from stored data, and
    enough empty groups to need a second page."""
    (folder / "src").mkdir()
    (folder / "src" / "train.py").write_text(TRAIN_SCRIPT)
    (folder / "data").mkdir()
    features, labels = iris()
    rows = [[float(label), *row] for label, row in zip(labels, features, strict=True)]
    (folder / "data" / "iris.csv").write_text("\n".join(",".join(map(str, r)) for r in rows))
    estimator = Estimator(
        "train.py",
        source_dir=folder / "src",
        metric_definitions=[{"Name": "accuracy", "Regex": "accuracy=([0-9.]+)"}],
    )
    estimator.fit({"train": str(folder / "data")}, logs=False, job_name=JOB)
    register_model(GROUP, from_job=JOB, framework="sklearn", description="LogisticRegression")
    archive = pack(sklearn_model(folder / "stored"), folder / "stored.tar.gz")
    register_model(GROUP, str(archive), metrics={"accuracy": 0.5})
    for index in range(EMPTY_GROUPS):
        ModelPackageGroup.create(f"group-{index:02d}")


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    folder = tmp_path_factory.mktemp("seed")
    with studio_server(tmp_path_factory.mktemp("home"), lambda: _seed(folder)) as running:
        yield running


@pytest.fixture
def page(studio: Studio, browser: Any) -> Iterator[Page]:
    with signed_in(studio, browser) as tab:
        yield tab


def _api(studio: Studio, path: str) -> Any:
    headers = {"Authorization": f"Bearer {studio.token}"}
    response = httpx.get(f"{studio.url}/api/v1{path}", headers=headers)
    response.raise_for_status()
    return response.json()


def test_model_pages_load_without_console_errors(page: Page) -> None:
    page.open("/models", "models")
    page.open(f"/models/{GROUP}", "model-group")
    page.open(f"/models/{GROUP}/1", "model-version")


def test_groups_are_paginated_on_the_server(page: Page) -> None:
    tab = page.open("/models")
    first = tab.locator("#groups tbody td:first-child").all_inner_texts()
    tab.click("a[rel=next]")
    tab.wait_for_url("**/models?token=*")
    second = tab.locator("#groups tbody td:first-child").all_inner_texts()
    assert len(first) == PAGE_SIZE
    assert sorted(first + second) == sorted(
        [GROUP] + [f"group-{i:02d}" for i in range(EMPTY_GROUPS)]
    )


def test_a_group_lists_its_versions_with_metrics_source_job_and_model_data(page: Page) -> None:
    tab = page.open(f"/models/{GROUP}")
    rows = [row.locator("td").all_inner_texts() for row in tab.locator("#versions tbody tr").all()]
    header = tab.locator("#versions thead th").all_inner_texts()
    assert header == [
        "Version",
        "Status",
        "Approval",
        "Created",
        "accuracy",
        "Source job",
        "Model data",
    ]
    (two, one) = rows
    assert one[:3] == ["1", "Completed", "PendingManualApproval"]
    assert float(one[4]) > 0.9 and one[5] == JOB and one[6].endswith("model.tar.gz")
    assert two[:3] == ["2", "Completed", "PendingManualApproval"]
    assert two[4] == "0.5" and two[5] == "" and two[6].endswith("stored.tar.gz")
    tab.click(f"#versions a:text('{JOB}')")
    tab.wait_for_url(f"**/jobs/TrainingJob/{JOB}")


def test_a_version_shows_its_inference_spec_metrics_and_lineage(page: Page) -> None:
    tab = page.open(f"/models/{GROUP}/1")
    assert "sklearn" in tab.inner_text("#containers")
    assert "model.tar.gz" in tab.inner_text("#containers")
    assert "accuracy" in tab.inner_text("#model-metrics")
    assert f"slipway models deploy {GROUP} 1 --endpoint" in tab.inner_text("#deploy-cli")
    lineage = tab.inner_text("#lineage")
    assert JOB in lineage and "iris.csv" not in lineage and "/data" in lineage
    component = tab.locator("#lineage a").nth(1)
    component.click()
    tab.wait_for_url("**/components/*")
    assert tab.inner_text("h1")


def test_approve_then_deploy_then_the_endpoint_predicts(page: Page, studio: Studio) -> None:
    tab = page.open(f"/models/{GROUP}/1")
    assert tab.locator("#deploy").is_disabled()
    tab.fill("input[name=comment]", "accuracy is good enough")
    tab.click("#approve")
    tab.wait_for_url(f"**/models/{GROUP}/1")
    assert tab.inner_text("#approval-status") == "Approved"
    latest = tab.locator("#approval-history tbody tr").last.locator("td").all_inner_texts()
    assert latest[:3] == ["Approved", "accuracy is good enough", "studio-test"]
    page.saved("model-version-approved")

    tab.fill("input[name=endpoint_name]", "iris-prod")
    tab.fill("input[name=instance_count]", "2")
    tab.click("#deploy")
    tab.wait_for_url("**/endpoint/iris-prod")
    # The page refreshes itself while the endpoint is Creating.
    tab.locator("#endpoint-status.status-InService").wait_for(timeout=60_000)
    assert tab.inner_text("#endpoint-package") == f"{GROUP} version 1"
    assert tab.locator("#variants tbody td").nth(4).inner_text() == "2"
    page.saved("endpoint-deployed")

    answer = httpx.post(
        f"{studio.url}/endpoints/iris-prod/invocations",
        content=json.dumps([IRIS_ROW]),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {studio.token}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() in ([0], [0.0])


def test_reject_records_the_comment_and_a_rejected_version_cannot_be_deployed(
    page: Page, studio: Studio
) -> None:
    tab = page.open(f"/models/{GROUP}/2")
    tab.fill("input[name=comment]", "trained on too little data")
    tab.click("#reject")
    tab.wait_for_url(f"**/models/{GROUP}/2")
    assert tab.inner_text("#approval-status") == "Rejected"
    version = _api(studio, f"/model-packages/{GROUP}/2")
    assert version["ApprovalDescription"] == "trained on too little data"
    assert version["ApprovalHistory"][-1]["ChangedBy"] == "studio-test"

    csrf = tab.locator("#deploy-form input[name=csrf]").input_value()
    answer = tab.context.request.post(
        f"{page.url}/models/{GROUP}/2/deploy",
        form={"csrf": csrf, "endpoint_name": "iris-rejected", "instance_count": "1"},
    )
    assert answer.status == 409
    assert f"{GROUP} version 2 is Rejected, not Approved" in answer.text()
    assert (
        httpx.get(
            f"{studio.url}/api/v1/endpoints/iris-rejected",
            headers={"Authorization": f"Bearer {studio.token}"},
        ).status_code
        == 404
    )
    assert _api(studio, "/models?name_contains=iris-rejected")["Items"] == []


def test_bad_deploy_settings_are_a_clear_error_and_leave_nothing_behind(
    page: Page, studio: Studio
) -> None:
    httpx.patch(
        f"{studio.url}/api/v1/model-packages/{GROUP}/1",
        json={"ModelApprovalStatus": "Approved"},
        headers={"Authorization": f"Bearer {studio.token}"},
    ).raise_for_status()
    tab = page.open(f"/models/{GROUP}/1")
    csrf = tab.locator("#deploy-form input[name=csrf]").input_value()
    post = tab.context.request.post
    once = {"csrf": csrf, "endpoint_name": "iris-twice", "instance_count": "1"}
    first = post(f"{page.url}/models/{GROUP}/1/deploy", form=once, max_redirects=0)
    again = post(f"{page.url}/models/{GROUP}/1/deploy", form=once)
    assert first.status == 303 and first.headers["location"] == "/endpoint/iris-twice"
    assert again.status == 409 and "endpoint &#39;iris-twice&#39; exists already" in again.text()
    too_many = post(
        f"{page.url}/models/{GROUP}/1/deploy",
        form={"csrf": csrf, "endpoint_name": "iris-big", "instance_count": "500"},
    )
    bad_name = post(
        f"{page.url}/models/{GROUP}/1/deploy",
        form={"csrf": csrf, "endpoint_name": "no spaces", "instance_count": "1"},
    )
    assert too_many.status == 422 and "500" in too_many.text()
    assert bad_name.status == 422 and "no spaces" in bad_name.text()
    assert _api(studio, "/models?name_contains=iris-big")["Items"] == []


def test_versions_filter_by_approval_status(page: Page, studio: Studio) -> None:
    headers = {"Authorization": f"Bearer {studio.token}"}
    for version, status in ((1, "Approved"), (2, "Rejected")):
        httpx.patch(
            f"{studio.url}/api/v1/model-packages/{GROUP}/{version}",
            json={"ModelApprovalStatus": status},
            headers=headers,
        ).raise_for_status()
    tab = page.open(f"/models/{GROUP}")
    shown = {}
    for status in ("Approved", "Rejected", "PendingManualApproval"):
        tab.select_option("select[name=approval]", status)
        tab.click("form.filter button")
        tab.wait_for_url(f"**/models/{GROUP}?approval={status}")
        shown[status] = tab.locator("#versions tbody td:first-child").all_inner_texts()
    assert shown == {
        "Approved": ["1"],
        "Rejected": ["2"],
        "PendingManualApproval": ["No versions that are PendingManualApproval."],
    }
    response = tab.goto(f"{page.url}/models/{GROUP}?approval=Maybe")
    assert response.status == 422 and "Maybe" in tab.inner_text("main")


def test_a_form_without_the_right_csrf_field_is_refused_and_changes_nothing(
    page: Page, studio: Studio
) -> None:
    page.open(f"/models/{GROUP}")
    before = _api(studio, f"/model-packages/{GROUP}/2")["ModelApprovalStatus"]
    post = page.tab.context.request.post
    url = f"{page.url}/models/{GROUP}/2/approval"
    missing = post(url, form={"decision": "Approved", "comment": "sneaky"})
    wrong = post(url, form={"csrf": "0" * 64, "decision": "Approved", "comment": "sneaky"})
    assert missing.status == 403 and wrong.status == 403
    assert "CSRF" in wrong.text()
    after = _api(studio, f"/model-packages/{GROUP}/2")
    assert after["ModelApprovalStatus"] == before
    assert all(c.get("ApprovalDescription") != "sneaky" for c in after["ApprovalHistory"])


def test_a_bad_decision_is_refused_naming_it(page: Page) -> None:
    tab = page.open(f"/models/{GROUP}/2")
    csrf = tab.locator("#approval-form input[name=csrf]").input_value()
    answer = tab.context.request.post(
        f"{page.url}/models/{GROUP}/2/approval", form={"csrf": csrf, "decision": "Maybe"}
    )
    assert answer.status == 422 and "Maybe" in answer.text()


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/models/no-such-group", "no-such-group"),
        (f"/models/{GROUP}/99", "no version 99"),
        ("/models/no-such-group/1", "no-such-group"),
    ],
)
def test_a_missing_group_or_version_is_a_404_page_naming_it(
    page: Page, path: str, named: str
) -> None:
    response = page.tab.goto(page.url + path)
    assert response.status == 404
    assert named in page.tab.inner_text("main")


def test_a_version_that_is_not_a_number_is_a_clear_error(page: Page) -> None:
    response = page.tab.goto(f"{page.url}/models/{GROUP}/latest")
    assert response.status == 422
    assert "'latest'" in page.tab.inner_text("main")
