"""Studio's job pages, as a user sees them: real jobs run by a real `slipway server`.

Training and tuning jobs are created through the server with the SDK in remote mode and
run real scripts; the page of a running job follows its logs and status live (server-sent
events) and can stop it. Jobs of the other kinds are seeded through the job service.
"""

from __future__ import annotations

import contextlib
import html
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from helpers import slipway_sdk
from slipway.jobs.models import JobKind, JobStatus, SecondaryStatus
from slipway.platform import services
from slipway.settings import get_settings
from slipway.studio.charts import MAX_POINTS
from slipway.training import Estimator
from slipway.tuning import ContinuousParameter, HyperparameterTuner
from studio_support import Page, Studio, figure, needs_chromium, signed_in, studio_server

pytestmark = needs_chromium

# Prints a line every 0.3 s for 3 s: long enough to watch, short enough to wait for.
SLOW_SCRIPT = """
import time
for step in range(10):
    print(f"step {step} loss={1 / (step + 1):.4f}", flush=True)
    time.sleep(0.3)
"""
SLEEPING_SCRIPT = """
import time
print("waiting to be stopped", flush=True)
time.sleep(120)
"""
# More points than a chart gets, and a model file to package.
METRICS_SCRIPT = """
import os
for step in range(3000):
    print(f"loss={1 / (step + 1):.6f}")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as model:
    model.write("weights")
"""
OBJECTIVE_SCRIPT = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
print(f"score={parser.parse_args().alpha:.6f}")
"""
LOSS = [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]
SCORE = [{"Name": "score", "Regex": r"score=([0-9.]+)"}]
OTHER_KINDS = {
    JobKind.TRANSFORM: "score-churn",
    JobKind.MONITORING: "churn-monitor-0001",
    JobKind.AUTOML: "churn-automl",
}
TUNING_JOB = "tune-score"
# A training job row whose spec is not a whole training request: the page still shows it.
OLD_FORMAT_JOB = "imported-job"
TRIALS = 4
# More log lines than a page shows: the page shows the last ones.
LONG_LOG_JOB = "chatty-job"
LONG_LOG_LINES = 10_005


def _seed() -> None:
    """A finished job of each kind that no script here runs, and one of an older format."""
    jobs = services(get_settings()).jobs
    jobs.create_job(JobKind.TRAINING, OLD_FORMAT_JOB, spec={"entry_point": "train.py"})
    jobs.finish(JobKind.TRAINING, OLD_FORMAT_JOB, JobStatus.COMPLETED)
    jobs.create_job(JobKind.TRAINING, LONG_LOG_JOB, spec={"entry_point": "train.py"})
    now = time.time()
    jobs.append_logs(
        JobKind.TRAINING, LONG_LOG_JOB, [(now, f"line {i}") for i in range(1, LONG_LOG_LINES + 1)]
    )
    jobs.finish(JobKind.TRAINING, LONG_LOG_JOB, JobStatus.COMPLETED)
    for kind, name in OTHER_KINDS.items():
        jobs.create_job(kind, name, spec={"Name": name})
        jobs.transition(kind, name, SecondaryStatus.PENDING, "queued")
        jobs.append_logs(kind, name, [(time.time(), f"{name} done")])
        jobs.finish(kind, name, JobStatus.COMPLETED)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with studio_server(tmp_path_factory.mktemp("home"), _seed) as running:
        yield running


def _remote(studio: Studio) -> contextlib.AbstractContextManager[None]:
    """The SDK of this process talks to the server, as a user's notebook would."""
    return slipway_sdk(SLIPWAY_SERVER_URL=studio.url, SLIPWAY_TOKEN=studio.token)


def _estimator(folder: Path, script: str, metrics: list[dict[str, str]]) -> Estimator:
    folder.mkdir(parents=True)
    (folder / "train.py").write_text(script)
    return Estimator(entry_point="train.py", source_dir=folder, metric_definitions=metrics)


def _train(studio: Studio, folder: Path, name: str, script: str, wait: bool = False) -> None:
    with _remote(studio):
        _estimator(folder, script, LOSS).fit(job_name=name, wait=wait, logs=False)


def _api(studio: Studio, path: str, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {studio.token}"}
    response = httpx.get(f"{studio.url}/api/v1{path}", params=params, headers=headers)
    response.raise_for_status()
    return response.json()


def _until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _training_job(studio: Studio, name: str) -> dict[str, Any]:
    return _api(studio, f"/jobs/{name}", kind="TrainingJob")


@pytest.fixture(scope="module")
def trained(studio: Studio, tmp_path_factory: pytest.TempPathFactory) -> str:
    name = "metrics-job"
    _train(studio, tmp_path_factory.mktemp("metrics") / "src", name, METRICS_SCRIPT, wait=True)
    return name


@pytest.fixture(scope="module")
def tuned(studio: Studio, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A finished tuning job of 4 training jobs, 2 at a time; returns its description."""
    estimator = _estimator(tmp_path_factory.mktemp("tuning") / "src", OBJECTIVE_SCRIPT, SCORE)
    tuner = HyperparameterTuner(
        estimator,
        "score",
        {"alpha": ContinuousParameter(0.0, 1.0)},
        metric_definitions=SCORE,
        strategy="Random",
        max_jobs=TRIALS,
        max_parallel_jobs=2,
        random_seed=7,
    )
    with _remote(studio):
        tuner.fit(job_name=TUNING_JOB, wait=True)
    return _api(studio, f"/tuning-jobs/{TUNING_JOB}")


@pytest.fixture
def page(studio: Studio, browser: Any) -> Iterator[Page]:
    with signed_in(studio, browser) as tab:
        yield tab


def _logs_in(page_html: str) -> list[str]:
    found = re.search(r'<pre id="logs"[^>]*>(.*?)</pre>', page_html, re.DOTALL)
    assert found, "the page has no log block"
    return html.unescape(found.group(1)).splitlines()


def test_a_running_jobs_page_streams_new_lines_and_turns_completed_without_reload(
    studio: Studio, page: Page, tmp_path: Path
) -> None:
    name = "live-logs"
    _train(studio, tmp_path / "src", name, SLOW_SCRIPT)
    _until(lambda: _api(studio, f"/jobs/{name}/logs")["Lines"], "the first log line")
    response = page.tab.goto(f"{page.url}/jobs/TrainingJob/{name}")
    initial = _logs_in(response.text())
    page.tab.evaluate("window.notReloaded = true")
    expect(page.tab.locator("#job-status")).to_have_text("Completed", timeout=30_000)
    expect(page.tab.locator("#logs")).to_have_attribute("data-ended", "true")
    page.saved("job-live-logs")
    shown = page.tab.inner_text("#logs").splitlines()
    stored = [line["Message"] for line in _api(studio, f"/jobs/{name}/logs")["Lines"]]
    assert 1 <= len(initial) < 10, initial
    assert shown == stored and len(shown) == 10
    assert "step 9 loss=0.1000" in shown and "step 9 loss=0.1000" not in initial
    assert page.tab.evaluate("window.notReloaded") is True
    assert page.tab.locator("#stop-form").count() == 0
    # The history and the metric chart were re-rendered when the job ended.
    assert page.tab.locator("#transitions tbody td:first-child").all_inner_texts()[-1] == (
        "Completed"
    )
    assert figure(page.tab, "[data-metric=loss]")[0]["n"] == 10


def test_the_log_stream_sends_every_line_then_ends_with_the_final_status(
    studio: Studio, trained: str
) -> None:
    cookies = studio.session_cookies()
    url = f"{studio.url}/jobs/TrainingJob/{trained}/logs/stream"
    with httpx.stream("GET", url, params={"after": 2990}, cookies=cookies) as response:
        kind = response.headers["content-type"]
        body = response.read().decode()
    events = [block for block in body.split("\n\n") if block]
    names = [re.search(r"^event: (\w+)$", e, re.MULTILINE).group(1) for e in events]  # type: ignore[union-attr]
    assert kind.startswith("text/event-stream")
    assert names == ["log"] * 10 + ["status", "end"]
    assert events[0].startswith("id: 2991\n") and '"loss=' in events[0]
    assert '"status": "Completed"' in events[-1]


def test_stop_form_stops_a_running_job_and_refuses_a_post_without_its_csrf_field(
    studio: Studio, page: Page, tmp_path: Path
) -> None:
    name = "sleeper"
    _train(studio, tmp_path / "src", name, SLEEPING_SCRIPT)
    _until(lambda: _training_job(studio, name)["SecondaryStatus"] == "Training", "the script")
    stop_url = f"{studio.url}/jobs/TrainingJob/{name}/stop"
    cookies = studio.session_cookies()
    missing = httpx.post(stop_url, cookies=cookies, data={})
    wrong = httpx.post(stop_url, cookies=cookies, data={"csrf": "0" * 64})
    assert missing.status_code == 403 and wrong.status_code == 403
    assert "CSRF" in wrong.text
    assert _training_job(studio, name)["Status"] == "InProgress"
    tab = page.open(f"/jobs/TrainingJob/{name}", "job-running")
    tab.click("#stop-form button")
    tab.wait_for_url(f"**/jobs/TrainingJob/{name}")
    expect(tab.locator("#job-status")).to_have_text(re.compile("^(Stopping|Stopped)$"))
    expect(tab.locator("#job-status")).to_have_text("Stopped", timeout=30_000)
    page.saved("job-stopped")
    assert _training_job(studio, name)["Status"] == "Stopped"


def test_training_job_page_draws_downsampled_metrics_and_links_component_and_model(
    page: Page, trained: str
) -> None:
    tab = page.open(f"/jobs/TrainingJob/{trained}", "job-training")
    curves = figure(tab, "[data-metric=loss]")
    component = tab.get_attribute("#component-link", "href")
    model = tab.context.request.get(page.url + tab.get_attribute("#model-link", "href"))
    assert curves == [{"type": "scatter", "name": f"{trained}-aws-training-job", "n": MAX_POINTS}]
    assert component == f"/components/{trained}-aws-training-job"
    assert model.status == 200 and model.body()[:2] == b"\x1f\x8b"  # gzip: model.tar.gz
    assert tab.locator("#final-metrics", has_text="loss").count() == 1
    page.open(component, "job-training-component")


def test_tuning_job_page_ranks_its_training_jobs_and_charts_the_objective(
    page: Page, tuned: dict[str, Any]
) -> None:
    tab = page.open(f"/jobs/HyperParameterTuningJob/{TUNING_JOB}", "job-tuning")
    rows = tab.locator("#leaderboard tbody tr")
    values = [float(v) for v in tab.locator("#leaderboard td.objective").all_inner_texts()]
    names = tab.locator("#leaderboard tbody td:nth-child(2) a").all_inner_texts()
    best = tuned["BestTrainingJob"]["TrainingJobName"]
    assert rows.count() == TRIALS
    assert values == sorted(values, reverse=True) and len(set(values)) == TRIALS
    assert names[0] == best and tab.get_attribute("#best-link", "href").endswith(best)
    assert rows.nth(0).get_attribute("class") == "best"
    assert tab.locator("#leaderboard tr.best").count() == 1
    assert figure(tab, "#objective-over-time") == [
        {"type": "scatter", "name": "score", "n": TRIALS},
        {"type": "scatter", "name": "best so far", "n": TRIALS},
    ]
    best_so_far = tab.eval_on_selector("#objective-over-time", "e => e.data[1].y")
    assert best_so_far == sorted(best_so_far) and best_so_far[-1] == pytest.approx(values[0])


def test_a_running_tuning_jobs_page_fills_its_leaderboard_and_chart_live(
    studio: Studio, page: Page, tmp_path: Path
) -> None:
    name = "tune-live"
    script = "import time\ntime.sleep(2)\n" + OBJECTIVE_SCRIPT
    estimator = _estimator(tmp_path / "src", script, SCORE)
    tuner = HyperparameterTuner(
        estimator,
        "score",
        {"alpha": ContinuousParameter(0.0, 1.0)},
        metric_definitions=SCORE,
        strategy="Random",
        max_jobs=2,
        max_parallel_jobs=1,
    )
    with _remote(studio):
        tuner.fit(job_name=name, wait=False)
    tab = page.open(f"/jobs/HyperParameterTuningJob/{name}")
    before = tab.locator("#leaderboard td.objective").all_inner_texts()
    tab.evaluate("window.notReloaded = true")
    expect(tab.locator("#job-status")).to_have_text("Completed", timeout=30_000)
    expect(tab.locator("#logs")).to_have_attribute("data-ended", "true")
    page.saved("job-tuning-live")
    after = tab.locator("#leaderboard td.objective").all_inner_texts()
    assert len([value for value in before if value]) < 2  # the page was opened mid-way
    assert len(after) == 2 and "" not in after
    assert [trace["n"] for trace in figure(tab, "#objective-over-time")] == [2, 2]
    assert tab.evaluate("window.notReloaded") is True


def test_jobs_list_links_every_kind_and_children_link_back_to_their_tuning_job(
    page: Page, trained: str, tuned: dict[str, Any]
) -> None:
    tab = page.open("/jobs", "jobs-all-kinds")
    kinds = set(tab.locator("#jobs tbody td:nth-child(2)").all_inner_texts())
    parents = tab.locator("#jobs td.parent a").all_inner_texts()
    links = tab.locator("#jobs tbody td:first-child a").all()
    assert kinds == {kind.value for kind in JobKind}
    assert parents.count(TUNING_JOB) == TRIALS  # each of its training jobs
    for link in links:
        assert tab.context.request.get(page.url + link.get_attribute("href")).status == 200
    child = tab.locator("#jobs tr", has=tab.locator("td.parent a", has_text=TUNING_JOB)).first
    child.locator("td:first-child a").click()
    tab.wait_for_url("**/jobs/TrainingJob/**")
    page.saved("job-tuning-child")
    tab.click("#parent")
    tab.wait_for_url(f"**/jobs/HyperParameterTuningJob/{TUNING_JOB}")
    for kind, name in [*OTHER_KINDS.items(), (JobKind.TRAINING, OLD_FORMAT_JOB)]:
        page.open(f"/jobs/{kind.value}/{name}", f"job-{kind.value}-{name}")
    assert tab.locator("#area-page").count() == 0  # a training job has no other page
    page.open(f"/jobs/AutoMLJob/{OTHER_KINDS[JobKind.AUTOML]}")
    assert tab.get_attribute("#area-page", "href") == f"/automl/{OTHER_KINDS[JobKind.AUTOML]}"


def test_jobs_list_filters_by_kind_and_status_and_any_means_no_filter(
    page: Page, tuned: dict[str, Any]
) -> None:
    tab = page.open("/jobs")
    tab.select_option("select[name=kind]", "HyperParameterTuningJob")
    tab.click("form.filter button")
    tab.wait_for_url("**kind=HyperParameterTuningJob**")
    tuning_kinds = set(tab.locator("#jobs tbody td:nth-child(2)").all_inner_texts())
    tuning_names = tab.locator("#jobs tbody td:first-child").all_inner_texts()
    page.open("/jobs?q=score&kind=&status=Completed")
    statuses = set(tab.locator("#jobs tbody td:nth-child(3)").all_inner_texts())
    names = tab.locator("#jobs tbody td:first-child").all_inner_texts()
    assert tuning_kinds == {"HyperParameterTuningJob"} and TUNING_JOB in tuning_names
    assert statuses == {"Completed"}
    assert TUNING_JOB in names and all("score" in name for name in names)


def test_a_missing_job_is_a_404_page_naming_it_and_a_bad_kind_a_422_page(
    page: Page,
) -> None:
    missing = page.tab.goto(f"{page.url}/jobs/TrainingJob/no-such-job")
    missing_text = page.tab.inner_text("main")
    bad_kind = page.tab.goto(f"{page.url}/jobs/NotAKind/some-job")
    bad_kind_text = page.tab.inner_text("main")
    bad_filter = page.tab.goto(f"{page.url}/jobs?kind=Nope")
    bad_status = page.tab.goto(f"{page.url}/jobs?status=Sleeping")
    bad_status_text = page.tab.inner_text("main")
    stream = page.tab.goto(f"{page.url}/jobs/TrainingJob/no-such-job/logs/stream")
    assert missing.status == 404 and "no-such-job" in missing_text
    assert bad_kind.status == 422 and "NotAKind" in bad_kind_text
    assert "TrainingJob" in bad_kind_text  # the kinds that exist
    assert bad_filter.status == 422
    assert bad_status.status == 422 and "Sleeping" in bad_status_text
    assert stream.status == 404


def test_a_long_log_shows_its_last_lines_and_says_where_the_rest_is(page: Page) -> None:
    tab = page.open(f"/jobs/TrainingJob/{LONG_LOG_JOB}", "job-long-log")
    shown = tab.inner_text("#logs").splitlines()
    assert len(shown) == 10_000
    assert shown[0] == "line 6" and shown[-1] == f"line {LONG_LOG_LINES}"
    assert "the first 5 are in" in tab.inner_text("#logs-cut")
