"""Markup that cannot run and pages that cannot be framed, against a real server and Chromium.

Every free-text string that a user or an endpoint's caller controls is seeded with markup
that runs script if a page shows it raw: a <script> element, and a quote that breaks out
of an attribute into an element with an event handler. Names with a fixed pattern
(experiments, jobs, endpoints...) cannot carry it. Each page that shows such strings must
show them as text, and no script of theirs may run; every response carries the security
headers, and no other site can frame Studio.
"""

from __future__ import annotations

import datetime as dt
import html as markup
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pandas as pd
import pytest
from markupsafe import escape
from PIL import Image

from serving_support import custom_model, deploy, pack
from slipway.automl import AutoML
from slipway.experiments import Experiment, Tracker, TrialComponent
from slipway.jobs.models import JobKind, JobStatus, SecondaryStatus
from slipway.monitor import DatasetFormat, DefaultModelMonitor
from slipway.monitor import report as monitor_report
from slipway.platform import services
from slipway.registry.sdk import ModelPackageGroup, register_model, update_approval
from slipway.settings import get_settings
from slipway.training.service import trial_component_name
from studio_support import Page, Studio, needs_chromium, signed_in, studio_server

pytestmark = needs_chromium

# What a payload does when it runs; the tests look for it in every frame of a page.
RAN = "window.__xss"
# Raw markup of a payload: absent from every page that escapes it.
RAW = ("<script>window.__xss", "<img src=x onerror")


def payload(field: str) -> str:
    """``field``'s value: visible as text when escaped, runs script when shown raw."""
    return f"{field}<script>{RAN}='{field}'</script>\"'><img src=x onerror={RAN}=1>"


EXPERIMENT, TRIAL, COMPONENT = "xss", "xss-trial", "xss-run"
TRAINING_JOB, GROUP, ENDPOINT, SCHEDULE, AUTOML_JOB = (
    "xss-train", "xss-models", "xss-echo", "xss-monitor", "xss-automl"
)  # fmt: skip

# A model that answers 0.5 to each instance of a JSON request, whatever its keys.
ANSWER_ANYTHING = """
    import json

    def model_fn(model_dir):
        return None

    def input_fn(input_data, content_type):
        return json.loads(input_data)["instances"]

    def predict_fn(data, model):
        return [0.5 for _ in data]

    def output_fn(prediction, accept):
        return json.dumps({"predictions": prediction}), "application/json"
"""


def _seed_experiment(folder: Path) -> None:
    experiment = Experiment.create(EXPERIMENT, description=payload("experiment description"))
    trial = experiment.create_trial(trial_name=TRIAL)
    TrialComponent.create(COMPONENT)
    rows = folder / "rows.csv"
    pd.DataFrame({payload("column name"): [1.0, 2.0, 3.0], "b": [payload("cell")] * 3}).to_csv(
        rows, index=False
    )
    image = folder / "image.png"
    Image.new("RGB", (4, 4), "teal").save(image)
    with Tracker.load(COMPONENT) as tracker:
        tracker.log_parameters({payload("parameter name"): payload("parameter value")})
        for step in range(3):
            tracker.log_metric(payload("metric name"), 0.1 * step, iteration_number=step)
        tracker.log_input(payload("input name"), payload("input value"))
        tracker.log_artifact(rows, name=payload("table artifact") + ".csv")
        tracker.log_artifact(image, name=payload("image artifact") + ".png")
        tracker.log_table(payload("table title"), {payload("table column"): [payload("row")]})
        tracker.log_roc_curve([0, 1, 0, 1], [0.2, 0.7, 0.4, 0.9], title=payload("chart title"))
    trial.add_trial_component(tracker)


def _seed_training_job() -> None:
    jobs = services(get_settings()).jobs
    spec = {
        "TrainingJobName": TRAINING_JOB,
        "EntryPoint": payload("entry point"),
        "Hyperparameters": {payload("hyperparameter name"): payload("hyperparameter value")},
    }
    jobs.create_job(JobKind.TRAINING, TRAINING_JOB, spec=spec)
    # The component a training job records: its metric curves are drawn on the job's page.
    TrialComponent.create(trial_component_name(TRAINING_JOB))
    with Tracker.load(trial_component_name(TRAINING_JOB)) as tracker:
        for step in range(3):
            tracker.log_metric(payload("training metric"), 0.1 * step, iteration_number=step)
    jobs.transition(
        JobKind.TRAINING, TRAINING_JOB, SecondaryStatus.TRAINING, payload("status message")
    )
    jobs.append_logs(JobKind.TRAINING, TRAINING_JOB, [(time.time(), payload("log line"))])
    metric = {"MetricName": payload("final metric"), "Value": 0.5, "Timestamp": time.time()}
    jobs.finish(
        JobKind.TRAINING,
        TRAINING_JOB,
        JobStatus.FAILED,
        failure_reason=payload("failure reason"),
        result={"FinalMetricDataList": [metric]},
    )


def _seed_models(folder: Path) -> None:
    ModelPackageGroup.create(GROUP, description=payload("group description"))
    model = folder / "model.tar.gz"
    model.write_bytes(b"stored model data")
    version = register_model(
        GROUP,
        str(model),
        description=payload("package description"),
        metrics={payload("model metric"): 0.5},
    )
    update_approval(GROUP, version.model_package_version, "Approved", payload("approval comment"))


def _far_from_now() -> str:
    """A daily expression twelve hours away: the schedule does not fire during the tests."""
    return f"cron(0 {(dt.datetime.now(dt.UTC).hour + 12) % 24} ? * * *)"


def _seed_monitor(folder: Path) -> None:
    """An endpoint that captures what it is sent, and a schedule over it whose baseline
    comes from a CSV file with a payload in its header."""
    serving = services(get_settings()).serving
    answer = pack(custom_model(folder / "answer", ANSWER_ANYTHING), folder / "answer.tar.gz")
    capture = {
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": str(folder / "capture"),
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    deploy(serving, ENDPOINT, str(answer), capture=capture)
    training = folder / "train.csv"
    pd.DataFrame({payload("baseline feature"): [0.1, 0.2, 0.3] * 20, "b": [0.3] * 60}).to_csv(
        training, index=False
    )
    monitor = DefaultModelMonitor()
    monitor.suggest_baseline(str(training), DatasetFormat.csv(header=True), str(folder / "base"))
    monitor.create_monitoring_schedule(
        endpoint_input=ENDPOINT,
        output_s3_uri=str(folder / "results"),
        monitor_schedule_name=SCHEDULE,
        data_capture_uri=str(folder / "capture"),
        schedule_cron_expression=_far_from_now(),
    )


def _seed_automl(folder: Path) -> None:
    """An AutoML job (candidate definitions only) on a table whose columns carry payloads."""
    table = folder / "automl.csv"
    rows = 60
    pd.DataFrame(
        {
            payload("automl column"): [float(i % 7) for i in range(rows)],
            "x": [float(i % 5) for i in range(rows)],
            payload("automl target"): ["yes" if i % 3 else "no" for i in range(rows)],
        }
    ).to_csv(table, index=False)
    automl = AutoML(
        target_attribute_name=payload("automl target"),
        generate_candidate_definitions_only=True,
        total_job_runtime_in_seconds=120,
    )
    job = automl.fit(str(table), job_name=AUTOML_JOB, logs=False)
    assert job.auto_ml_job_status == "Completed", job.failure_reason


def _seed(folder: Path) -> None:
    _seed_experiment(folder)
    _seed_training_job()
    _seed_models(folder)
    _seed_monitor(folder)
    _seed_automl(folder)


def _api(studio: Studio) -> httpx.Client:
    headers = {"Authorization": f"Bearer {studio.token}"}
    return httpx.Client(base_url=studio.url, headers=headers, timeout=30)


def _invoke_with_payload_keys(studio: Studio, capture: Path) -> None:
    """Call the endpoint as any client may: the keys of its instances are feature names."""
    instances = [{payload("captured feature"): 0.1 * i, "b": 0.3} for i in range(20)]
    with _api(studio) as api:
        response = api.post(
            f"/endpoints/{ENDPOINT}/invocations",
            json={"instances": instances},
        )
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 30
    while not list(capture.rglob("*.jsonl")):
        assert time.monotonic() < deadline, "the endpoint wrote no capture file"
        time.sleep(0.2)


def _run_execution(studio: Studio) -> str:
    """One monitoring execution over the last hour, started and awaited over REST."""
    now = dt.datetime.now(dt.UTC)
    window = {
        "DataAnalysisStartTime": (now - dt.timedelta(hours=1)).isoformat(),
        "DataAnalysisEndTime": (now + dt.timedelta(minutes=1)).isoformat(),
    }
    with _api(studio) as api:
        started = api.post(f"/api/v1/monitoring-schedules/{SCHEDULE}/executions", json=window)
        assert started.status_code == 201, started.text
        name = started.json()["MonitoringExecutionName"]
        deadline = time.monotonic() + 120
        while True:
            found = api.get(f"/api/v1/monitoring-executions/{name}").json()
            if found["MonitoringExecutionStatus"] not in ("Pending", "InProgress", "Stopping"):
                break
            assert time.monotonic() < deadline, found
            time.sleep(0.5)
    assert found["MonitoringExecutionStatus"].startswith("Completed"), found
    return name


@dataclass
class Seeded:
    studio: Studio
    facts: dict[str, str]  # what page paths name: {execution}, {table}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    folder = tmp_path_factory.mktemp("seed")
    home = tmp_path_factory.mktemp("home")
    env = {"SLIPWAY_CAPTURE_FLUSH_INTERVAL": "0.3"}
    with studio_server(home, lambda: _seed(folder), **env) as studio:
        _invoke_with_payload_keys(studio, folder / "capture")
        execution = _run_execution(studio)
        with _api(studio) as api:
            outputs = api.get(f"/api/v1/trial-components/{COMPONENT}").json()["OutputArtifacts"]
        table = outputs[payload("table artifact") + ".csv"]["Value"]
        yield Seeded(studio, {"execution": execution, "table": urlencode({"uri": table})})


@pytest.fixture
def page(seeded: Seeded, browser: Any) -> Iterator[Page]:
    with signed_in(seeded.studio, browser) as tab:
        tab.tab.context.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => (window.__violations"
            " ||= []).push(`${e.violatedDirective} ${e.blockedURI}`))"
        )
        yield tab


def _directives(policy: str) -> dict[str, str]:
    """A Content-Security-Policy header as {directive: its sources}."""
    pairs = (part.strip().partition(" ") for part in policy.split(";") if part.strip())
    return {name: sources for name, _, sources in pairs}


def _assert_page_policy(headers: dict[str, str]) -> None:
    policy = _directives(headers.get("content-security-policy", ""))
    assert policy.get("script-src") == "'self'", policy
    assert policy.get("object-src") == "'none'", policy
    assert policy.get("base-uri") == "'none'", policy
    assert policy.get("form-action") == "'self'", policy
    assert policy.get("frame-ancestors") == "'self'", policy


def _ran(tab: Any) -> list[tuple[str, Any]]:
    """What ran of a payload, or broke the policy, in each frame of the page."""
    found = []
    for frame in tab.frames:
        state = frame.evaluate("() => [window.__xss, window.__violations]")
        if state != [None, None]:
            found.append((frame.url, state))
    return found


# --- the reported hole: a feature name in the monitor report -------------------------------


def test_a_feature_name_from_a_caller_or_a_baseline_reaches_the_report_escaped(
    seeded: Seeded,
) -> None:
    execution = seeded.facts["execution"]
    with _api(seeded.studio) as api:
        report = api.get(f"/api/v1/monitoring-executions/{execution}/report")
    assert report.status_code == 200
    for name in ("captured feature", "baseline feature"):
        assert str(escape(payload(name))) in report.text, name
    assert not [raw for raw in RAW if raw in report.text]
    # Its charts are data, drawn by a script of the server's, not script built from names.
    assert "<script>" not in report.text
    assert '<script src="report.js" defer></script>' in report.text


def _charts_drawn(where: Any) -> int:
    """Wait until plotly.js has drawn every chart of a page or frame; how many there are."""
    charts = where.locator(".chart").count()
    where.locator(".chart.js-plotly-plot").nth(charts - 1).wait_for()
    return charts


def test_the_report_runs_sandboxed_in_studio_and_on_its_own_and_draws_its_charts(
    page: Page, seeded: Seeded
) -> None:
    report = f"/api/v1/monitoring-executions/{seeded.facts['execution']}/report"
    tab = page.open(f"/monitor/executions/{seeded.facts['execution']}")
    assert _charts_drawn(tab.frame_locator("#report")) == 3  # both payloads, and b
    framed = next(frame for frame in tab.frames if frame.url.endswith(report))
    # An opaque origin: the report can neither read Studio nor call the API as the viewer.
    assert framed.evaluate("() => window.origin") == "null"
    assert _ran(tab) == []
    tab.goto(page.url + report)
    assert _charts_drawn(tab) == 3
    assert tab.evaluate("() => window.origin") == "null"
    assert _ran(tab) == [] and page.errors == []


# --- every user string on every page that shows it --------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A Studio page and the fields whose payloads it (or a frame of it) shows as text.

    A new page that shows users' strings is one more entry in ``PAGES``.
    """

    path: str  # may name {execution} and {table}
    fields: tuple[str, ...]


PAGES = [
    Shown("/experiments", ("experiment description",)),
    Shown(
        f"/experiments/{EXPERIMENT}",
        ("experiment description", "parameter name", "parameter value", "metric name"),
    ),
    Shown(
        f"/components/{COMPONENT}",
        (
            "parameter name",
            "parameter value",
            "metric name",
            "input name",
            "input value",
            "table artifact",
            "image artifact",
            "column name",
            "cell",
            "table title",
            "table column",
            "row",
            "chart title",
        ),
    ),
    Shown(f"/compare?components={COMPONENT}&experiment={EXPERIMENT}", ("metric name",)),
    Shown("/data?{table}", ("column name", "cell")),
    Shown(
        f"/jobs/TrainingJob/{TRAINING_JOB}",
        (
            "entry point",
            "hyperparameter name",
            "final metric",
            "training metric",
            "status message",
            "failure reason",
            "log line",
        ),
    ),
    Shown("/models", ("group description",)),
    Shown(f"/models/{GROUP}", ("group description", "model metric")),
    Shown(f"/models/{GROUP}/1", ("package description", "approval comment", "model metric")),
    Shown("/monitor/executions/{execution}", ("captured feature", "baseline feature")),
    Shown(f"/automl/{AUTOML_JOB}", ("automl target",)),
    Shown(f"/automl/{AUTOML_JOB}/notebooks/exploration", ("automl column", "automl target")),
    Shown(f"/automl/{AUTOML_JOB}/notebooks/candidates", ("automl column",)),
    # Pages that show no free text of their own: the policy still holds, charts still draw.
    Shown("/signin", ()),
    Shown("/jobs", ()),
    Shown("/endpoints", ()),
    Shown(f"/endpoint/{ENDPOINT}", ()),
    Shown("/monitor", ()),
    Shown(f"/monitor/schedules/{SCHEDULE}", ()),
    Shown("/automl", ()),
]


@pytest.mark.parametrize("shown", PAGES, ids=lambda shown: shown.path.split("?")[0])
def test_a_page_shows_every_user_string_as_text_and_runs_none_of_it(
    page: Page, seeded: Seeded, shown: Shown
) -> None:
    dialogs: list[str] = []
    page.tab.on("dialog", lambda dialog: dialogs.append(dialog.message) or dialog.dismiss())
    response = page.tab.goto(page.url + shown.path.format(**seeded.facts))
    assert response.status == 200
    _assert_page_policy(response.headers)
    tab = page.tab
    for frame in tab.frames:
        frame.wait_for_load_state("load")
    documents = [frame.content() for frame in tab.frames]
    assert [raw for raw in RAW for document in documents if raw in document] == []
    text = "\n".join(frame.inner_text("body") for frame in tab.frames)
    missing = [f for f in shown.fields if f"<script>{RAN}='{f}'</script>" not in text]
    assert missing == [], f"{shown.path} does not show these fields as text: {missing}"
    page.saved(None)  # every chart drawn, no console error
    assert _ran(tab) == [] and dialogs == []


def test_a_chart_still_downloads_as_png_under_the_policy(page: Page) -> None:
    # plotly.js draws the PNG through an image of a blob: URL.
    tab = page.open(f"/jobs/TrainingJob/{TRAINING_JOB}")
    chart = tab.locator(".chart").first
    chart.hover()
    with tab.expect_download() as download:
        chart.locator(".modebar-btn[data-title='Download plot as a PNG']").click()
    assert download.value.suggested_filename.endswith(".png")
    assert tab.evaluate("() => window.__violations") is None


def test_an_inline_script_cannot_run_on_a_studio_page(page: Page) -> None:
    # Whatever markup might slip into a page one day, the policy refuses to run it.
    tab = page.open(f"/experiments/{EXPERIMENT}")
    ran = tab.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__xss = 'inline'";
            document.body.append(script);
            return window.__xss;
        }"""
    )
    assert ran is None
    assert tab.evaluate("() => window.__violations") == ["script-src-elem inline"]


# --- headers on every response, and framing -----------------------------------------------


def test_every_response_carries_the_security_headers(seeded: Seeded) -> None:
    execution, studio = seeded.facts["execution"], seeded.studio
    page = {"Accept": "text/html"}
    with _api(studio) as api, httpx.Client(base_url=studio.url) as anonymous:
        pages = [
            api.get(f"/experiments/{EXPERIMENT}", headers=page),
            api.get("/no-such-page", headers=page),
            anonymous.get("/signin"),
            anonymous.get(f"/experiments/{EXPERIMENT}", headers=page),  # to the sign-in page
        ]
        others = [
            anonymous.get("/studio/static/studio.js"),
            anonymous.get(f"/api/v1/monitoring-executions/{execution}/report.js"),
            api.get(f"/api/v1/monitoring-executions/{execution}"),
            anonymous.get(f"/api/v1/monitoring-executions/{execution}"),  # 401
            api.post(f"/endpoints/{ENDPOINT}/invocations", json={"instances": [{"b": 1}]}),
        ]
        report = api.get(f"/api/v1/monitoring-executions/{execution}/report")
        report_file = api.get(f"/api/v1/monitoring-executions/{execution}/files/report.html")
        notebook = api.get(f"/automl/{AUTOML_JOB}/notebooks/exploration/html")
        docs = api.get("/api/v1/docs")
    responses = [*pages, *others, report, report_file, notebook, docs]
    assert [r.status_code for r in responses] == (
        [200, 404, 200, 303] + [200, 200, 200, 401, 200] + [200] * 4
    )
    for response in responses:
        headers = response.headers
        assert headers.get("x-frame-options") == "SAMEORIGIN", response.url
        assert headers.get("x-content-type-options") == "nosniff", response.url
        assert headers.get("referrer-policy") == "same-origin", response.url
        policy = _directives(headers.get("content-security-policy", ""))
        assert policy.get("frame-ancestors") == "'self'", response.url
        assert policy.get("base-uri") == "'none'", response.url
    for response in [*pages, *others]:
        _assert_page_policy(response.headers)
    # Documents made of data run in an opaque origin wherever they are opened.
    for document, sandbox in ((report, "allow-scripts"), (report_file, "allow-scripts"),
                              (notebook, "")):  # fmt: skip
        policy = _directives(document.headers["content-security-policy"])
        assert policy.get("sandbox") == sandbox, document.url
        assert "'unsafe-inline'" not in policy.get("script-src", "'self'"), document.url
    # Swagger UI's own page: its inline start script, jsDelivr's files, nothing else.
    policy = _directives(docs.headers["content-security-policy"])
    assert policy["script-src"] == "https://cdn.jsdelivr.net 'unsafe-inline'"
    assert policy["connect-src"] == "'self'" and policy["default-src"] == "'none'"


@contextmanager
def _serving(page: str) -> Iterator[str]:
    """A page of another origin (another port of 127.0.0.1); yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join()


def test_another_site_cannot_frame_studio(seeded: Seeded, browser: Any) -> None:
    framing = f'<iframe src="{seeded.studio.url}/signin" width="800" height="600"></iframe>'
    context = browser.new_context()
    tab = context.new_page()
    try:
        with _serving(framing) as elsewhere:
            tab.goto(elsewhere)
            tab.wait_for_load_state("load")  # the frame's load (or its refusal) included
        (framed,) = tab.frames[1:]
        assert "slipway studio" not in framed.content()
    finally:
        context.close()


# --- the report's charts are JSON data --------------------------------------------------------


def test_a_quality_metric_that_is_not_a_number_leaves_the_report_chart_readable() -> None:
    from slipway.monitor.models import CreateMonitoringSchedule

    config = CreateMonitoringSchedule(
        monitoring_schedule_name="quality", endpoint_name="churn", output_uri="s3://b/out"
    )
    now = dt.datetime.now(dt.UTC)
    statistics = {"binary_classification_metrics": {"auc": {"value": float("nan")}}}
    html = monitor_report.render_quality("q", config, now, now, statistics, [], "ok")
    attribute = html.split('id="quality-chart" data-figure="', 1)[1].split('"', 1)[0]
    # JSON.parse refuses NaN, which Python's json would write and read back.
    figure = json.loads(markup.unescape(attribute), parse_constant=pytest.fail)
    assert figure["data"][0]["x"] == ["auc"] and figure["data"][0]["y"] == [None]
