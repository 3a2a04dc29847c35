"""A long metric history read from a real server on PostgreSQL, a bounded page at a time.

The whole history once came back in one answer, built in memory at once: 500,000 points
took the server's worker to almost 900 MB. Now each answer is one page, and following the
pages returns every point once, in order, while the worker stays small.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import fresh_database, peak_memory_growth, run_slipway_server
from serving_support import worker_pids
from slipway._http import HttpClient
from slipway.experiments.client import RemoteExperiments
from slipway.experiments.models import MAX_METRIC_POINTS, MetricPoint

COMPONENT = "long-run"
POINTS = 300_000
BATCH = 100_000
# A page is 25,000 points; the whole history in one answer took the worker 260 MB more.
MAX_GROWTH = 64 * 2**20


@pytest.fixture(scope="module")
def server(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    """A server of this module's own, whose one worker's memory the tests watch."""
    with (
        fresh_database(postgres_url) as database_url,
        run_slipway_server(database_url, Path(tmp_path_factory.mktemp("home"))) as (url, process),
    ):
        client = RemoteExperiments(HttpClient(url))
        client.create_trial_component(COMPONENT)
        for start in range(0, POINTS, BATCH):
            client.log_metrics(COMPONENT, [_point(i) for i in range(start, start + BATCH)])
        (worker,) = worker_pids(process)
        yield url, worker


def _point(i: int) -> MetricPoint:
    # Every hundredth point has no step: those read back after all the stepped ones.
    step = None if i % 100 == 0 else i
    return MetricPoint(metric_name="loss", value=i, timestamp=1e9 + i, iteration_number=step)


def test_following_the_pages_returns_every_point_once_in_order_in_bounded_pages(
    server: tuple[str, int],
) -> None:
    url, worker = server
    path = f"{url}/api/v1/trial-components/{COMPONENT}/metrics/loss"

    def read_all() -> list[dict]:
        answers, token = [], None
        while True:
            answers.append(httpx.get(path, params={"next_token": token}, timeout=120).json())
            if not (token := answers[-1].get("NextToken")):
                return answers

    answers, growth = peak_memory_growth(worker, read_all)

    assert growth < MAX_GROWTH, f"the worker grew by {growth:,} bytes"
    assert max(len(answer["Items"]) for answer in answers) == MAX_METRIC_POINTS
    values = [point["Value"] for answer in answers for point in answer["Items"]]
    stepped = [i for i in range(POINTS) if i % 100]
    assert values == stepped + list(range(0, POINTS, 100))
    # The SDK follows the pages itself.
    series = RemoteExperiments(HttpClient(url)).get_metric_series(COMPONENT, "loss")
    assert [point.value for point in series] == values


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("max_results=abc", "max_results"),
        ("max_results=0", "max_results 0"),
        ("max_results=1000000", "max_results 1000000"),
        ("next_token=forged", "'forged'"),
    ],
)
def test_a_bad_page_request_is_a_4xx_naming_the_value(
    server: tuple[str, int], query: str, named: str
) -> None:
    url, _ = server
    answer = httpx.get(f"{url}/api/v1/trial-components/{COMPONENT}/metrics/loss?{query}")

    assert answer.status_code == 422
    assert answer.json()["error"] == "ValidationError"
    assert named in answer.json()["message"]
