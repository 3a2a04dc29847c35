"""Studio's AutoML pages, as a user sees them: a real `slipway server` driven by headless
Chromium, over a real (small) AutoML job on the iris table that scikit-learn bundles."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from sklearn.datasets import load_iris

from slipway.automl import AutoML
from studio_support import Page, Studio, needs_chromium, signed_in, studio_server

pytestmark = needs_chromium

JOB = "iris"
STAGES = [
    "Starting",
    "AnalyzingData",
    "FeatureEngineering",
    "ModelTuning",
    "MaxCandidatesReached",
    "Completed",
]
CANDIDATES = 3


def _seed(data: Path, took: dict[str, float]) -> None:
    """One AutoML job of three candidates on the iris table."""
    frame, target = load_iris(return_X_y=True, as_frame=True)
    frame["species"] = target.map(dict(enumerate(["setosa", "versicolor", "virginica"])))
    frame.to_csv(data / "iris.csv", index=False)
    automl = AutoML(
        target_attribute_name="species",
        max_candidates=CANDIDATES,
        # Room for a busy machine: the job ends when its candidates are done, not later.
        total_job_runtime_in_seconds=120,
    )
    started = time.monotonic()
    job = automl.fit(str(data / "iris.csv"), job_name=JOB, logs=False)
    took["seconds"] = time.monotonic() - started
    assert job.auto_ml_job_status == "Completed", job.failure_reason


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    data = tmp_path_factory.mktemp("automl-data")
    took: dict[str, float] = {}
    with studio_server(tmp_path_factory.mktemp("home"), lambda: _seed(data, took)) as running:
        print(f"AutoML seed job took {took['seconds']:.1f} s")
        yield running


@pytest.fixture
def page(studio: Studio, browser: Any) -> Iterator[Page]:
    with signed_in(studio, browser) as tab:
        yield tab


def _best(page: Page) -> dict[str, Any]:
    """The best candidate as the REST API describes it."""
    response = page.tab.context.request.get(f"{page.url}/api/v1/automl-jobs/{JOB}")
    assert response.status == 200
    return response.json()["BestCandidate"]


def test_the_job_list_shows_status_problem_objective_and_best_candidate(page: Page) -> None:
    tab = page.open("/automl", "automl-jobs")
    cells = tab.locator("#automl-jobs tbody tr", has_text=JOB).locator("td").all_inner_texts()
    best = _best(page)["CandidateName"]
    assert cells[:5] == [JOB, "Completed", "Completed", "MulticlassClassification", "Accuracy"]
    assert cells[5].startswith(best)


def test_a_job_shows_its_stages_and_its_problem_explained(page: Page) -> None:
    tab = page.open("/automl")
    tab.click(f"#automl-jobs >> text={JOB}")
    tab.wait_for_url(f"**/automl/{JOB}")
    page.saved("automl-job")
    assert tab.locator("#stages tbody td:first-child").all_inner_texts() == STAGES
    problem = tab.inner_text("#problem-type")
    objective = tab.inner_text("#objective")
    assert problem.startswith("MulticlassClassification: the target is not numeric")
    assert "3 distinct values (setosa, versicolor, virginica)" in problem
    assert objective.startswith("Accuracy (maximize): the default objective")


def test_the_leaderboard_ranks_candidates_and_highlights_the_best(page: Page) -> None:
    tab = page.open(f"/automl/{JOB}")
    rows = tab.locator("#leaderboard tbody tr")
    cells = [row.locator("td").all_inner_texts() for row in rows.all()]
    scores = [float(c[2]) for c in cells]
    best = _best(page)
    highlighted = tab.locator("#leaderboard tr.best")
    assert len(cells) == CANDIDATES
    assert [c[0] for c in cells] == ["1", "2", "3"]
    assert scores == sorted(scores, reverse=True)
    assert {c[3] for c in cells} <= {
        "lightgbm",
        "xgboost",
        "linear",
        "extra_trees",
        "mlp",
        "ensemble",
    }
    assert all(c[4] == "Completed" for c in cells)
    assert highlighted.count() == 1
    assert highlighted.get_attribute("data-candidate") == best["CandidateName"]
    assert float(highlighted.locator("td").nth(2).inner_text()) == max(scores)
    assert "best" in highlighted.locator(".badge").inner_text()
    highlighted.locator("td").nth(5).locator("a").click()
    tab.wait_for_url(f"**/jobs/TrainingJob/{best['CandidateName']}")
    assert tab.inner_text("#job-status") == "Completed"


@pytest.mark.parametrize(
    ("kind", "heading", "screenshot"),
    [
        ("exploration", "Data exploration: AutoML job iris", "automl-notebook-exploration"),
        ("candidates", "Candidate definitions: AutoML job iris", "automl-notebook-candidates"),
    ],
)
def test_a_notebook_renders_as_html_loading_nothing_from_elsewhere(
    page: Page, kind: str, heading: str, screenshot: str
) -> None:
    requested: list[str] = []
    page.tab.on("request", lambda request: requested.append(request.url))
    tab = page.open(f"/automl/{JOB}")
    tab.click(f"#notebooks a[href$='/notebooks/{kind}']")
    tab.wait_for_url(f"**/automl/{JOB}/notebooks/{kind}")
    notebook = tab.frame_locator("#notebook")
    notebook.locator("h1").first.wait_for()
    tab.wait_for_load_state("networkidle")
    page.saved(screenshot)
    assert notebook.locator("h1").first.inner_text().startswith(heading)
    if kind == "exploration":  # executed by the job: its plots and tables are in it
        assert notebook.locator("img[src^='data:image/png']").count() >= 1
        assert notebook.locator("table").count() >= 1
    else:
        for row in tab.context.request.get(
            f"{page.url}/api/v1/automl-jobs/{JOB}/candidates"
        ).json()["Candidates"]:
            assert notebook.locator(f"text={row['CandidateName']}").count() >= 1
    outside = [url for url in requested if not url.startswith(page.url + "/")]
    assert outside == [] and any(url.endswith(f"/notebooks/{kind}/html") for url in requested)


def test_a_rendered_notebook_may_load_nothing_but_its_own_styles_and_images(page: Page) -> None:
    response = page.tab.context.request.get(f"{page.url}/automl/{JOB}/notebooks/exploration/html")
    policy = response.headers["content-security-policy"]
    assert response.status == 200
    assert "default-src 'none'" in policy and "img-src data:" in policy
    assert "<script" not in response.text()


@pytest.mark.parametrize(
    ("kind", "file_name"),
    [
        ("exploration", "SageMakerAutopilotDataExplorationNotebook.ipynb"),
        ("candidates", "SageMakerAutopilotCandidateDefinitionNotebook.ipynb"),
    ],
)
def test_each_notebook_downloads_as_an_ipynb(page: Page, kind: str, file_name: str) -> None:
    tab = page.open(f"/automl/{JOB}/notebooks/{kind}")
    with tab.expect_download() as started:
        tab.click("#download")
    download = started.value
    book = nbformat.read(download.path(), as_version=4)
    assert download.suggested_filename == file_name
    assert any(cell.cell_type == "code" for cell in book.cells)
    nbformat.validate(book)


def test_missing_jobs_and_notebooks_are_404_pages_naming_them(page: Page) -> None:
    for path, named in (
        ("/automl/no-such-job", "'no-such-job'"),
        ("/automl/no-such-job/notebooks/exploration", "'no-such-job'"),
        (f"/automl/{JOB}/notebooks/diary", "'diary'"),
        (f"/automl/{JOB}/notebooks/diary/ipynb", "'diary'"),
    ):
        response = page.tab.goto(page.url + path)
        assert response.status == 404, path
        assert named in page.tab.inner_text("main"), path
    response = page.tab.goto(page.url + "/automl?status=Sleeping")
    assert response.status == 422
    assert "Sleeping" in page.tab.inner_text("main")
