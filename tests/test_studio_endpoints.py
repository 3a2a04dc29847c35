"""Studio's endpoint pages against a real server and Chromium: status, variants, the
models a multi-model endpoint loaded, request rate and latency charts, a test request.

Endpoints serve real scikit-learn models; traffic is sent over HTTP to the server's
runtime, as any client sends it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving_support import IRIS_ROW, deploy, pack, random_forest_model, sklearn_model
from slipway.platform import services
from slipway.serving.metrics import sample
from slipway.settings import get_settings
from slipway.studio.traffic import MIN_SPACING_SECONDS, Totals
from studio_support import Page, Studio, figure, needs_chromium, signed_in, studio_server

pytestmark = needs_chromium

# Integrates a plotly step trace: the sum of each interval's rate times its length.
AREA = """e => {
  const t = e.data[0];
  const x = t.x.map(s => Date.parse(s.replace(" ", "T") + "Z"));
  let total = 0;
  for (let i = 0; i + 1 < x.length; i++) total += (t.y[i] || 0) * (x[i + 1] - x[i]) / 1000;
  return total;
}"""


def _seed(folder: Path) -> None:
    """A single-model endpoint per test that counts traffic, two weighted variants, a
    multi-model endpoint with two models under its prefix, and one that failed."""
    serving = services(get_settings()).serving
    single = str(pack(sklearn_model(folder / "logistic"), folder / "logistic.tar.gz"))
    forest = str(pack(random_forest_model(folder / "forest"), folder / "forest.tar.gz"))
    for name in ("iris-live", "iris-form"):
        deploy(serving, name, single)
    prefix = folder / "prefix"
    prefix.mkdir()
    (prefix / "a.tar.gz").write_bytes(Path(single).read_bytes())
    (prefix / "b.tar.gz").write_bytes(Path(forest).read_bytes())
    deploy(serving, "many", str(prefix), multi=True, MaxModels=4)
    serving.create_model("logistic", {"ModelDataUrl": single})
    serving.create_model("forest", {"ModelDataUrl": forest})
    variants = [
        {"VariantName": "blue", "ModelName": "logistic", "InitialVariantWeight": 3},
        {"VariantName": "green", "ModelName": "forest", "InitialVariantWeight": 1,
         "InitialInstanceCount": 2},
    ]  # fmt: skip
    serving.create_endpoint_config("two-variants", variants)
    serving.create_endpoint("two-variants", "two-variants")
    serving.wait_for_endpoint("two-variants")
    (folder / "empty").mkdir()
    deploy(serving, "broken", str(folder / "empty"))


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    folder = tmp_path_factory.mktemp("models")
    with studio_server(tmp_path_factory.mktemp("home"), lambda: _seed(folder)) as running:
        yield running


@pytest.fixture
def page(studio: Studio, browser: Any) -> Iterator[Page]:
    with signed_in(studio, browser) as tab:
        yield tab


def _invoke(studio: Studio, name: str, body: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{studio.url}/endpoints/{name}/invocations",
        content=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {studio.token}",
            **headers,
        },
    )


def _cells(tab: Any, selector: str) -> list[list[str]]:
    return [row.locator("td").all_inner_texts() for row in tab.locator(selector).all()]


def test_endpoint_pages_load_without_console_errors(page: Page) -> None:
    page.open("/endpoints", "endpoints")
    page.open("/endpoint/iris-live", "endpoint")
    page.open("/endpoint/many", "endpoint-multi-model")
    page.open("/endpoint/two-variants", "endpoint-two-variants")
    page.open("/endpoint/broken", "endpoint-failed")


def test_the_list_shows_each_endpoint_with_its_status_and_filters_by_it(page: Page) -> None:
    tab = page.open("/endpoints")
    status = {row[0]: row[1] for row in _cells(tab, "#endpoints tbody tr")}
    assert status == {
        "iris-live": "InService",
        "iris-form": "InService",
        "many": "InService",
        "two-variants": "InService",
        "broken": "Failed",
    }
    tab.select_option("select[name=status]", "Failed")
    tab.click("form.filter button")
    tab.wait_for_url("**/endpoints?status=Failed")
    assert [row[0] for row in _cells(tab, "#endpoints tbody tr")] == ["broken"]
    tab.click("#endpoints a")
    tab.wait_for_url("**/endpoint/broken")
    assert "no model found" in tab.inner_text("#failure-reason")


def test_variants_show_their_models_weights_and_instance_counts(page: Page) -> None:
    tab = page.open("/endpoint/two-variants")
    rows = {row[0]: row for row in _cells(tab, "#variants tbody tr")}
    assert rows["blue"][1] == "logistic" and rows["green"][1] == "forest"
    assert [rows["blue"][4], rows["blue"][5], rows["blue"][6]] == ["1", "3.0", "75%"]
    assert [rows["green"][4], rows["green"][5], rows["green"][6]] == ["2", "1.0", "25%"]


def test_charts_show_the_request_rate_and_latency_of_the_traffic_sent(
    page: Page, studio: Studio
) -> None:
    page.open("/endpoint/iris-live")
    answers = [_invoke(studio, "iris-live", json.dumps([IRIS_ROW])) for _ in range(5)]
    answers.append(_invoke(studio, "iris-live", "not json"))
    assert [a.status_code for a in answers] == [200] * 5 + [400]
    time.sleep(MIN_SPACING_SECONDS)
    tab = page.open("/endpoint/iris-live", "endpoint-traffic")

    (totals,) = _cells(tab, "#traffic-totals tbody tr")
    assert totals[:5] == ["AllTraffic", "iris-live", "6", "1", "0"]
    assert float(totals[5]) > 0 and float(totals[7]) >= float(totals[6]) > 0
    rate = figure(tab, "#request-rate")
    latency = figure(tab, "#latency")
    assert [t["name"] for t in rate] == ["invocations", "4xx errors", "5xx errors"]
    assert [t["name"] for t in latency] == ["mean", "p50", "p95"]
    assert all(t["n"] >= 3 for t in rate + latency)
    assert tab.eval_on_selector("#request-rate", AREA) == pytest.approx(6, abs=0.01)
    errors = tab.eval_on_selector("#request-rate", AREA.replace("data[0]", "data[1]"))
    assert errors == pytest.approx(1, abs=0.01)
    means = tab.eval_on_selector("#latency", "e => e.data[0].y.filter(v => v !== null)")
    assert means and all(value > 0 for value in means)


def test_the_test_request_form_shows_the_answer_its_status_and_latency(page: Page) -> None:
    tab = page.open("/endpoint/iris-form")
    tab.fill("textarea[name=body]", json.dumps([IRIS_ROW, IRIS_ROW]))
    tab.click("#test-request button")
    tab.wait_for_url("**/endpoint/iris-form/test")
    page.saved("endpoint-test-request")
    assert tab.inner_text("#test-status") == "200"
    assert json.loads(tab.inner_text("#test-body")) in ([0, 0], [0.0, 0.0])
    assert float(tab.inner_text("#test-latency").removesuffix(" ms")) > 0
    # The form keeps what was sent, so the next request starts from it.
    assert json.loads(tab.input_value("textarea[name=body]")) == [IRIS_ROW, IRIS_ROW]

    tab.fill("textarea[name=body]", "[[1, 2")
    tab.click("#test-request button")
    tab.wait_for_load_state("load")
    assert tab.inner_text("#test-status") == "400"
    assert "ModelError" in tab.inner_text("#test-body") or "JSON" in tab.inner_text("#test-body")
    (totals,) = _cells(tab, "#traffic-totals tbody tr")
    assert totals[2:4] == ["2", "1"]


def test_a_multi_model_endpoint_shows_the_models_it_loaded(page: Page, studio: Studio) -> None:
    for target in ("a.tar.gz", "a.tar.gz", "b.tar.gz"):
        answer = _invoke(
            studio, "many", json.dumps([IRIS_ROW]), **{"X-Amzn-SageMaker-Target-Model": target}
        )
        assert answer.status_code == 200, answer.text
    tab = page.open("/endpoint/many", "endpoint-multi-model-loaded")
    assert tab.inner_text(".loaded[data-variant=AllTraffic]").startswith("2 model(s) loaded")
    loaded = tab.locator(".loaded-models[data-variant=AllTraffic] li").all_inner_texts()
    assert loaded == ["a.tar.gz", "b.tar.gz"]
    rows = _cells(tab, ".target-models[data-variant=AllTraffic] tbody tr")
    assert [row[:2] for row in rows] == [["a.tar.gz", "2"], ["b.tar.gz", "1"]]

    tab.fill("input[name=target_model]", "b.tar.gz")
    tab.fill("textarea[name=body]", json.dumps([IRIS_ROW]))
    tab.click("#test-request button")
    tab.wait_for_url("**/endpoint/many/test")
    assert tab.inner_text("#test-status") == "200"
    rows = _cells(tab, ".target-models[data-variant=AllTraffic] tbody tr")
    assert [row[:2] for row in rows] == [["a.tar.gz", "2"], ["b.tar.gz", "2"]]


def _invocations(studio: Studio, endpoint: str) -> float:
    headers = {"Authorization": f"Bearer {studio.token}"}
    text = httpx.get(f"{studio.url}/metrics", headers=headers).text
    return sample(text, "slipway_invocations_total", endpoint=endpoint)


def test_a_test_request_without_the_csrf_field_is_refused_and_not_sent(
    page: Page, studio: Studio
) -> None:
    page.open("/endpoint/iris-form")
    before = _invocations(studio, "iris-form")
    answer = page.tab.context.request.post(
        f"{page.url}/endpoint/iris-form/test",
        form={"content_type": "application/json", "body": json.dumps([IRIS_ROW])},
    )
    assert answer.status == 403
    assert _invocations(studio, "iris-form") == before


def test_a_missing_endpoint_is_a_404_page_naming_it(page: Page) -> None:
    tab = page.open("/endpoint/iris-form")
    csrf = tab.locator("#test-request input[name=csrf]").input_value()
    answer = tab.context.request.post(
        f"{page.url}/endpoint/no-such-endpoint/test", form={"csrf": csrf, "body": "[]"}
    )
    response = tab.goto(f"{page.url}/endpoint/no-such-endpoint")
    assert response.status == 404
    assert "no-such-endpoint" in tab.inner_text("main")
    assert answer.status == 404 and "no-such-endpoint" in answer.text()


def test_the_chart_window_can_be_chosen_among_the_offered_ones(page: Page) -> None:
    tab = page.open("/endpoint/iris-live")
    tab.click("a[href$='minutes=60']")
    tab.wait_for_url("**/endpoint/iris-live?minutes=60")
    page.saved(None)
    for bad in ("7", "soon"):
        response = tab.goto(f"{page.url}/endpoint/iris-live?minutes={bad}")
        assert response.status == 422
        assert f"minutes '{bad}' is not a chart window" in tab.inner_text("main")


def test_a_bad_status_filter_is_a_clear_error(page: Page) -> None:
    response = page.tab.goto(f"{page.url}/endpoints?status=Sleeping")
    assert response.status == 422
    assert "Sleeping" in page.tab.inner_text("main")


def test_latency_quantiles_interpolate_within_a_bucket_as_prometheus_does() -> None:
    earlier = Totals(4, 0, 0, 0.2, 4, {0.01: 4.0, 0.1: 4.0, 1.0: 4.0, math.inf: 4.0})
    later = Totals(14, 1, 0, 1.2, 14, {0.01: 4.0, 0.1: 14.0, 1.0: 14.0, math.inf: 14.0})
    interval = later.since(earlier)
    assert (interval.invocations, interval.errors_4xx) == (10, 1)
    assert interval.mean_seconds == pytest.approx(0.1)
    assert interval.quantile(0.5) == pytest.approx(0.01 + 0.09 * 0.5)
    assert interval.quantile(0.95) == pytest.approx(0.01 + 0.09 * 0.95)
    slow = Totals(1, 0, 0, 90.0, 1, {60.0: 0.0, math.inf: 1.0})
    assert slow.quantile(0.5) == 60.0  # beyond the largest bound: that bound
    # Counters that went back (a restarted server) count from zero again.
    assert earlier.since(later) is earlier
    assert Totals().quantile(0.5) is None and Totals().mean_seconds is None
