"""Studio, as a user sees it: a real `slipway server` driven by headless Chromium.

The experiment and job pages over seeded trackers with metrics over steps and chart
artifacts, and a training job with a status history and logs; sign-in itself.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import free_port, run_server_process
from slipway.experiments import Experiment, Tracker, TrialComponent
from slipway.experiments.expressions import encode_token
from slipway.experiments.models import Source
from slipway.jobs.models import JobKind, JobStatus, SecondaryStatus
from slipway.platform import services
from slipway.settings import get_settings
from slipway.studio.charts import MAX_POINTS, histogram, lttb
from slipway.studio.data import MAX_ROWS
from slipway.training.service import SOURCE_TYPE, source_arn, trial_component_name
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
CUSTOMERS = 150

pytestmark = needs_chromium


def _run(experiment: Experiment, name: str, learning_rate: float, steps: int) -> Tracker:
    trial = experiment.create_trial(trial_name=name)
    TrialComponent.create(f"{name}-training")
    with Tracker.load(f"{name}-training") as tracker:
        tracker.log_parameters({"learning_rate": learning_rate, "solver": "adam", "epochs": steps})
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
        tracker.log_table(
            "feature-importance", {"feature": ["tenure", "monthly"], "importance": [0.6, 0.4]}
        )
    _log_data_artifacts("churn-fast-training")
    platform = services(get_settings())
    platform.jobs.create_job(
        JobKind.TRAINING, JOB, spec={"TrainingJobName": JOB, "EntryPoint": "train.py"}
    )
    platform.jobs.transition(JobKind.TRAINING, JOB, SecondaryStatus.TRAINING, "Training")
    platform.jobs.append_logs(JobKind.TRAINING, JOB, [(time.time(), "epoch 1 loss=0.4")])
    platform.jobs.finish(JobKind.TRAINING, JOB, JobStatus.COMPLETED)
    # The component a training job records, with the job as its source.
    platform.experiments.create_trial_component(
        trial_component_name(JOB),
        source=Source(source_arn=source_arn(JOB), source_type=SOURCE_TYPE),
    )


def customers() -> pd.DataFrame:
    """The table logged as CSV and parquet: numbers with gaps, text and flags."""
    rng = np.random.default_rng(7)
    monthly = rng.normal(60, 15, CUSTOMERS).round(2)
    monthly[::10] = np.nan
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, CUSTOMERS),
            "monthly": monthly,
            "plan": rng.choice(["basic", "plus", "pro"], CUSTOMERS),
            "churned": rng.random(CUSTOMERS) < 0.3,
        }
    )


def _log_data_artifacts(component: str) -> None:
    """A CSV, the same table as parquet, an image, and a CSV longer than Studio reads."""
    with tempfile.TemporaryDirectory() as folder, Tracker.load(component) as tracker:
        files = Path(folder)
        customers().to_csv(files / "customers.csv", index=False)
        customers().to_parquet(files / "customers.parquet")
        pd.DataFrame({"row": range(MAX_ROWS + 5)}).to_csv(files / "long.csv", index=False)
        Image.new("RGB", (40, 30), "teal").save(files / "importance.png")
        for name in ("customers.csv", "customers.parquet", "long.csv"):
            tracker.log_artifact(files / name)
        tracker.log_artifact(files / "importance.png", media_type="image/png")


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


def test_sign_in_sets_an_opaque_http_only_strict_cookie_and_returns_to_the_page(
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
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["value"] != studio.token and cookie["expires"] > 0
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
    page.open(f"/components/{trial_component_name(JOB)}", "component-of-a-job")
    page.open(f"/data?uri={quote(_artifact_uri(page, 'customers.csv'))}", "data-preview")
    page.open("/jobs", "jobs")
    page.open(f"/jobs/TrainingJob/{JOB}", "job")
    page.open("/signin", "signin")


def test_experiments_filter_by_name(page: Page) -> None:
    page.tab.fill("input[name=q]", "chu")
    page.tab.click("form.filter button")
    page.tab.wait_for_url("**/experiments?q=chu**")
    names = page.tab.locator("#experiments tbody td:first-child").all_inner_texts()
    assert names == ["churn"]


def test_experiments_filter_by_a_search_expression(page: Page) -> None:
    expression = {"Filters": [{"Name": "Description", "Operator": "Contains", "Value": "leave"}]}
    page.tab.fill("input[name=q]", "")
    page.tab.fill("input[name=expression]", json.dumps(expression))
    page.tab.click("form.filter button")
    page.tab.wait_for_url("**/experiments?**expression=**")
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
    logged = tab.locator("[data-logged-table=feature-importance] tr").all_inner_texts()
    assert "churn / churn-fast" in tab.inner_text("#lineage")
    assert [row.split("\t") for row in logged] == [
        ["feature", "importance"],
        ["tenure", "0.6"],
        ["monthly", "0.4"],
    ]
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


# --- experiments: columns, search expressions, parallel coordinates, previews --------------


def _artifact_uri(page: Page, name: str) -> str:
    """The stored URI of one of churn-fast-training's artifacts, read from the REST API."""
    response = page.tab.context.request.get(
        f"{page.url}/api/v1/trial-components/churn-fast-training"
    )
    return response.json()["OutputArtifacts"][name]["Value"]


def _headers(tab: Any, kind: str) -> list[str]:
    # Without the arrow that marks the sorted column.
    texts = tab.locator(f"#components th.{kind}").all_inner_texts()
    return [text.strip(" ▲▼") for text in texts]


def _rows(tab: Any) -> list[str]:
    return tab.locator("#components tbody td:nth-child(2)").all_inner_texts()


def test_the_user_chooses_the_table_columns_and_sorting_keeps_them(page: Page) -> None:
    tab = page.open("/experiments/churn")
    assert _headers(tab, "parameter") == ["epochs", "learning_rate", "solver"]
    assert _headers(tab, "metric") == ["accuracy (last)", "loss (last)"]
    tab.click("#columns summary")
    tab.uncheck("#columns input[value='Parameters.epochs']")
    tab.uncheck("#columns input[value='Parameters.solver']")
    tab.uncheck("#columns input[value='Metrics.loss']")
    tab.click("#columns button")
    tab.wait_for_url("**column=Parameters.learning_rate**")
    page.saved("experiment-columns")
    chosen = (_headers(tab, "parameter"), _headers(tab, "metric"))
    tab.click("th.parameter >> text=learning_rate")
    tab.wait_for_url("**sort_by=Parameters.learning_rate**")
    assert chosen == (["learning_rate"], ["accuracy (last)"])
    assert (_headers(tab, "parameter"), _headers(tab, "metric")) == chosen
    assert _rows(tab) == ["churn-fast-training", "churn-long-training", "churn-slow-training"]
    # A later page keeps them too, and so does its way back to the first.
    tab = page.open(f"{tab.url.removeprefix(page.url)}&token={encode_token(1)}")
    assert (_headers(tab, "parameter"), _headers(tab, "metric")) == chosen
    assert _rows(tab) == ["churn-long-training", "churn-slow-training"]
    assert "column=Metrics.accuracy" in tab.locator(".pager a").get_attribute("href")


def test_the_table_filters_by_a_search_expression_and_by_name(page: Page) -> None:
    tab = page.open("/experiments/churn?column=Metrics.accuracy")
    expression = {
        "Filters": [{"Name": "Metrics.accuracy.Last", "Operator": "GreaterThan", "Value": "0.72"}]
    }
    tab.fill("input[name=expression]", json.dumps(expression))
    tab.click("form.experiment-search button")
    tab.wait_for_url("**expression=**")
    by_expression = sorted(_rows(tab))
    tab.fill("input[name=q]", "long")
    tab.click("form.experiment-search button")
    tab.wait_for_url("**q=long**")
    page.saved("experiment-filtered")
    assert by_expression == ["churn-fast-training", "churn-long-training"]
    assert _rows(tab) == ["churn-long-training"]
    assert _headers(tab, "metric") == ["accuracy (last)"]
    assert json.loads(tab.input_value("input[name=expression]")) == expression


def test_the_search_box_takes_filters_written_as_text(page: Page) -> None:
    tab = page.open("/experiments/churn?column=Metrics.accuracy")
    typed = "Metrics.accuracy.Last GreaterThan 0.72 AND DisplayName Contains long"
    tab.fill("input[name=expression]", typed)
    tab.click("form.experiment-search button")
    tab.wait_for_url("**expression=**")
    assert _rows(tab) == ["churn-long-training"]
    assert tab.input_value("input[name=expression]") == typed


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/experiments/churn?expression=" + quote('{"Filters": ['), '{"Filters": ['),
        (
            "/experiments/churn?expression="
            + quote('{"Filters": [{"Name": "Metrics.accuracy", "Operator": "GreaterThan"}]}'),
            "Metrics.accuracy",
        ),
        ("/experiments/churn?column=Hyper.lr", "Hyper.lr"),
        ("/experiments?expression=" + quote('{"Filters": [{"Name": "Colour"}]}'), "Colour"),
        ("/experiments/churn?expression=" + quote("Metrics.accuracy.Last Above 0.7"), "Above"),
        ("/experiments?expression=" + quote("Colour"), "Name Operator Value"),
    ],
)
def test_a_bad_filter_is_a_400_page_that_names_it_and_keeps_the_form(
    page: Page, path: str, named: str
) -> None:
    response = page.tab.goto(page.url + path)
    assert response.status == 400
    assert named in page.tab.inner_text("#filter-error")
    assert page.tab.locator("form.experiment-search input[name=expression]").count() == 1


def test_compare_draws_parallel_coordinates_over_the_chosen_parameters(page: Page) -> None:
    components = "&".join(f"components=churn-{run}-training" for run in ("slow", "fast", "long"))
    tab = page.open(f"/compare?experiment=churn&metric=loss&{components}")
    parallel = "e => e.data.map(t => ({type: t.type, axes: t.dimensions.map(d => d.label)}))"
    everything = tab.eval_on_selector("#parallel-coordinates", parallel)
    tab.uncheck("fieldset.axes input[value=epochs]")
    tab.click("form.filter button")
    tab.wait_for_url("**axis=learning_rate**")
    page.saved("compare-parallel")
    chosen = tab.eval_on_selector("#parallel-coordinates", parallel)
    assert everything == [{"type": "parcoords", "axes": ["epochs", "learning_rate", "loss (last)"]}]
    assert chosen == [{"type": "parcoords", "axes": ["learning_rate", "loss (last)"]}]


def test_component_page_previews_tables_and_images(page: Page) -> None:
    tab = page.open("/components/churn-fast-training", "component-previews")
    headers = {
        name: tab.locator(f"[data-table-artifact='{name}'] th").all_inner_texts()
        for name in ("customers.csv", "customers.parquet")
    }
    rows = tab.locator("[data-table-artifact='customers.parquet'] tbody tr").count()
    image = tab.locator("img[data-artifact='importance.png']")
    size = image.evaluate("i => i.complete && [i.naturalWidth, i.naturalHeight]")
    assert headers == {name: ["tenure", "monthly", "plan", "churned"] for name in headers}
    assert rows == 10
    assert size == [40, 30]


def test_a_job_component_links_the_job_that_produced_it(page: Page) -> None:
    tab = page.open(f"/components/{trial_component_name(JOB)}")
    tab.click("#producing-job a")
    tab.wait_for_url(f"**/jobs/TrainingJob/{JOB}")
    assert "Training" in tab.inner_text("#transitions")


def _stats(tab: Any) -> dict[str, list[str]]:
    rows = tab.locator("#column-stats tbody tr").all()
    return {
        row.locator("td").first.inner_text(): row.locator("td").all_inner_texts()[1:]
        for row in rows
    }


@pytest.mark.parametrize("artifact", ["customers.csv", "customers.parquet"])
def test_data_preview_shows_first_rows_column_statistics_and_histograms(
    page: Page, artifact: str
) -> None:
    tab = page.open("/components/churn-fast-training")
    tab.click(f"#artifacts tr:has-text('{artifact}') a.preview")
    tab.wait_for_url("**/data?uri=**")
    page.saved(f"data-{artifact.replace('.', '-')}")
    expected = customers()
    stats = _stats(tab)
    bars = {
        chart.get_attribute("data-column"): chart.evaluate(
            "e => e.data.map(t => [t.type, t.y.reduce((a, b) => a + b, 0)])"
        )
        for chart in tab.locator(".chart.histogram").all()
    }
    assert tab.locator("#rows tbody tr").count() == 20
    assert f"{CUSTOMERS} rows" in tab.inner_text("#rows-read")
    monthly = expected["monthly"]
    assert stats["monthly"] == [
        "float64",
        str(monthly.isna().sum()),
        str(monthly.nunique()),
        f"{monthly.min():.6g}",
        f"{monthly.mean():.6g}",
        f"{monthly.max():.6g}",
    ]
    assert stats["plan"][1:3] == ["0", "3"]
    assert stats["churned"][3:] == ["", "", ""]
    assert bars == {
        "tenure": [["bar", CUSTOMERS]],
        "monthly": [["bar", int(monthly.notna().sum())]],
    }


def test_data_preview_reads_at_most_max_rows_and_says_so(page: Page) -> None:
    tab = page.open(f"/data?uri={quote(_artifact_uri(page, 'long.csv'))}")
    assert f"first {MAX_ROWS:,} rows" in tab.inner_text("#rows-read")
    assert _stats(tab)["row"][:3] == ["int64", "0", str(MAX_ROWS)]


def test_data_preview_of_a_missing_or_non_table_artifact_names_it(page: Page) -> None:
    chart = _artifact_uri(page, "confusion-matrix")
    missing = chart.replace("confusion-matrix", "no-such-table.csv")
    answers = {}
    for uri in (chart, missing, ""):
        response = page.tab.goto(f"{page.url}/data?uri={quote(uri)}")
        answers[uri] = (response.status, page.tab.inner_text("main"))
    assert answers[chart][0] == 400 and chart in answers[chart][1]
    assert answers[missing][0] == 404 and missing in answers[missing][1]
    assert answers[""][0] == 400 and "/data?uri=" in answers[""][1]


def test_histogram_bars_count_every_finite_value() -> None:
    values = np.array([1.0, 2.0, 2.0, np.nan, 3.0, np.inf, 10.0])
    (trace,) = histogram("x", values)["data"]
    assert trace["type"] == "bar" and sum(trace["y"]) == 5
    assert min(trace["x"]) > 1.0 and max(trace["x"]) < 10.0
