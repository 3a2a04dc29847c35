"""Studio, as a user sees it: a real `slipway server` driven by headless Chromium.

The experiment and job pages over seeded trackers with metrics over steps and chart
artifacts, and a training job with a status history and logs; sign-in itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import free_port, run_server_process
from slipway.experiments import Experiment, Tracker, TrialComponent
from slipway.jobs.models import JobKind, JobStatus, SecondaryStatus
from slipway.platform import services
from slipway.settings import get_settings
from slipway.studio.charts import MAX_POINTS, lttb
from studio_support import (
    SCREENSHOTS,
    SLIPWAY,
    Page,
    Studio,
    figure,
    needs_chromium,
    signed_in,
    studio_server,
    watch,
)

LONG_RUN_STEPS = 2500
JOB = "train-churn-1"

pytestmark = needs_chromium


def _run(experiment: Experiment, name: str, learning_rate: float, steps: int) -> Tracker:
    trial = experiment.create_trial(trial_name=name)
    TrialComponent.create(f"{name}-training")
    with Tracker.load(f"{name}-training") as tracker:
        tracker.log_parameters({"learning_rate": learning_rate, "solver": "adam"})
        for step in range(steps):
            tracker.log_metric("loss", 1.0 / (1 + learning_rate * step), iteration_number=step)
        tracker.log_metric("accuracy", 0.7 + learning_rate / 10, iteration_number=0)
    trial.add_trial_component(tracker)
    return tracker


def _seed() -> None:
    """Experiments with trackers over steps and chart artifacts, and a training job."""
    churn = Experiment.create("churn", description="Which customers leave")
    Experiment.create("fraud")
    _run(churn, "churn-slow", 0.1, 30)
    _run(churn, "churn-fast", 0.9, 30)
    _run(churn, "churn-long", 0.5, LONG_RUN_STEPS)
    with Tracker.load("churn-fast-training") as tracker:
        truth = [0, 0, 1, 1, 1, 0, 1, 0]
        tracker.log_confusion_matrix(truth, [0, 1, 1, 1, 0, 0, 1, 0])
        tracker.log_roc_curve(truth, [0.1, 0.6, 0.8, 0.9, 0.4, 0.2, 0.7, 0.3])
        tracker.log_precision_recall(truth, [0.1, 0.6, 0.8, 0.9, 0.4, 0.2, 0.7, 0.3])
    platform = services(get_settings())
    platform.jobs.create_job(JobKind.TRAINING, JOB, spec={"entry_point": "train.py"})
    platform.jobs.transition(JobKind.TRAINING, JOB, SecondaryStatus.TRAINING, "Training")
    platform.jobs.append_logs(JobKind.TRAINING, JOB, [(time.time(), "epoch 1 loss=0.4")])
    platform.jobs.finish(JobKind.TRAINING, JOB, JobStatus.COMPLETED)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with studio_server(tmp_path_factory.mktemp("home"), _seed) as running:
        yield running


@pytest.fixture
def page(studio: Studio, browser: Any) -> Iterator[Page]:
    with signed_in(studio, browser) as tab:
        yield tab


def test_a_page_without_a_token_redirects_to_sign_in_and_the_api_refuses(studio: Studio) -> None:
    page = httpx.get(
        f"{studio.url}/experiments/churn?sort_by=DisplayName", headers={"Accept": "text/html"}
    )
    api = httpx.get(f"{studio.url}/api/v1/experiments")
    forged = httpx.get(
        f"{studio.url}/api/v1/experiments", cookies={"slipway_session": "slw_not-a-token"}
    )
    assert page.status_code == 303
    assert page.headers["location"] == "/signin?next=%2Fexperiments%2Fchurn%3Fsort_by%3DDisplayName"
    assert api.status_code == 401 and api.json()["error"] == "Unauthorized"
    assert forged.status_code == 401


def test_sign_in_sets_an_http_only_same_site_cookie_and_returns_to_the_page(
    studio: Studio, browser: Any
) -> None:
    context = browser.new_context()
    tab = context.new_page()
    errors = watch(tab)
    tab.goto(f"{studio.url}/jobs")
    assert tab.url.startswith(f"{studio.url}/signin?next=")
    tab.fill("input[name=token]", "slw_wrong")
    tab.click("button[type=submit]")
    assert "not valid" in tab.inner_text("#signin-error")
    tab.fill("input[name=token]", studio.token)
    tab.click("button[type=submit]")
    tab.wait_for_url(f"{studio.url}/jobs")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=SCREENSHOTS / "jobs.png", full_page=True)
    (cookie,) = context.cookies()
    api = context.request.get(f"{studio.url}/api/v1/experiments")
    context.close()
    assert cookie["name"] == "slipway_session"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert api.status == 200
    # The wrong token answers 401, which Chromium reports on the console; nothing else.
    assert [e for e in errors if "401" not in e] == []


def test_every_page_loads_without_console_errors(page: Page) -> None:
    page.open("/experiments", "experiments")
    page.open("/experiments/churn", "experiment")
    page.open("/components/churn-fast-training", "component")
    page.open(
        "/compare?experiment=churn&components=churn-slow-training&components=churn-fast-training",
        "compare",
    )
    page.open("/jobs", "jobs")
    page.open(f"/jobs/TrainingJob/{JOB}", "job")
    page.open("/signin", "signin")


def test_experiments_filter_by_name(page: Page) -> None:
    page.tab.fill("input[name=q]", "chu")
    page.tab.click("form.filter button")
    page.tab.wait_for_url("**/experiments?q=chu")
    names = page.tab.locator("#experiments tbody td:first-child").all_inner_texts()
    assert names == ["churn"]


def test_clicking_a_metric_header_sorts_components_by_it(page: Page) -> None:
    page.open("/experiments/churn")
    page.tab.click("th.metric >> text=accuracy")
    page.tab.wait_for_url("**sort_by=Metrics.accuracy.Last**")
    descending = page.tab.locator("#components tbody td:nth-child(2)").all_inner_texts()
    page.tab.click("th.metric >> text=accuracy")
    page.tab.wait_for_url("**sort_order=Ascending**")
    ascending = page.tab.locator("#components tbody td:nth-child(2)").all_inner_texts()
    assert descending == ["churn-fast-training", "churn-long-training", "churn-slow-training"]
    assert ascending == list(reversed(descending))


def test_compare_draws_one_curve_per_selected_component_downsampled(page: Page) -> None:
    page.open("/experiments/churn")
    for checkbox in page.tab.locator("#components input[type=checkbox]").all():
        checkbox.check()
    page.tab.click("#compare")
    page.tab.wait_for_url("**/compare?**")
    page.tab.select_option("select[name=metric]", "loss")
    page.tab.click("form.filter button")
    page.tab.wait_for_url("**metric=loss**")
    page.saved("compare-all")
    curves = figure(page.tab, "#metric-curves")
    scatter = figure(page.tab, "#parameter-scatter")
    by_name = {trace["name"]: trace["n"] for trace in curves}
    assert by_name == {
        "churn-slow-training": 30,
        "churn-fast-training": 30,
        "churn-long-training": MAX_POINTS,
    }
    assert scatter == [{"type": "scatter", "name": "loss (last)", "n": 3}]


def test_component_page_draws_its_chart_artifacts_and_links_downloads(page: Page) -> None:
    tab = page.open("/components/churn-fast-training")
    matrix = figure(tab, "[data-artifact=confusion-matrix]")
    roc = figure(tab, "[data-artifact=roc-curve]")
    pr = figure(tab, "[data-artifact=precision-recall]")
    assert [trace["type"] for trace in matrix] == ["heatmap"]
    assert roc[0]["type"] == "scatter" and pr[0]["type"] == "scatter"
    link = tab.locator("#artifacts a", has_text="confusion-matrix").get_attribute("href")
    download = tab.context.request.get(page.url + link)
    assert download.status == 200 and download.json()["type"] == "ConfusionMatrix"
    assert "churn / churn-fast" in tab.inner_text("#parents")
    assert "learning_rate" in tab.inner_text("#parameters")


def test_jobs_page_lists_jobs_and_a_job_shows_history_and_logs(page: Page) -> None:
    tab = page.open("/jobs")
    row = tab.locator("#jobs tbody tr", has_text=JOB)
    assert "Completed" in row.inner_text() and "TrainingJob" in row.inner_text()
    row.locator("a").click()
    tab.wait_for_url(f"**/jobs/TrainingJob/{JOB}")
    history = tab.locator("#transitions tbody td:first-child").all_inner_texts()
    assert history == ["Starting", "Training", "Completed"]
    assert "epoch 1 loss=0.4" in tab.inner_text("#logs")


def test_studio_is_open_when_no_token_exists(tmp_path: Path) -> None:
    port = free_port()
    command = [SLIPWAY, "server", "--port", str(port)]
    with run_server_process(command, env={"SLIPWAY_HOME": str(tmp_path)}, port=port):
        response = httpx.get(
            f"http://127.0.0.1:{port}/experiments", headers={"Accept": "text/html"}
        )
    assert response.status_code == 200 and "<h1>Experiments</h1>" in response.text


def test_a_missing_entity_is_a_404_page_naming_it(page: Page) -> None:
    response = page.tab.goto(f"{page.url}/experiments/no-such-experiment")
    assert response.status == 404
    assert "no-such-experiment" in page.tab.inner_text("main")


def test_lttb_keeps_the_ends_and_the_peaks() -> None:
    points = [(float(x), 0.0) for x in range(10_000)]
    points[5000] = (5000.0, 100.0)
    kept = lttb(points, 100)
    assert len(kept) == 100
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert (5000.0, 100.0) in kept
