"""Bad requests, tokens and fuzzing against a real server on 127.0.0.1.

Bad input gets a 4xx with a JSON body ``{"error": ..., "message": ...}`` and changes
nothing stored; once a token exists every request but /healthz needs one; and no request
schemathesis derives from the OpenAPI schema makes the server answer 5xx.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.engine import events

from helpers import free_port, run_server_process
from slipway.errors import Unauthorized, ValidationError
from slipway.experiments.sdk import Experiment
from slipway.experiments.tracker import Tracker
from slipway.names import NAME_PATTERN
from slipway.platform import experiments_backend, reset
from slipway.settings import reload_settings

MAX_BODY_BYTES = 64 * 1024
SQL = "x'; DROP TABLE experiments; --"


@contextmanager
def _server(home: Path, **variables: str) -> Iterator[tuple[str, str]]:
    """A server over a SQLite database in ``home``; yields its URL and the database URL."""
    port = free_port()
    database_url = f"sqlite:///{home / 'slipway.db'}"
    env = {
        "SLIPWAY_HOME": str(home),
        "SLIPWAY_DATABASE_URL": database_url,
        "SLIPWAY_ARTIFACT_URI": str(home / "artifacts"),
        "SLIPWAY_SERVER_URL": "",
        "SLIPWAY_TOKEN": "",
        **variables,
    }
    # Started in `home`: requests may name relative paths (a data capture destination, a
    # baseline's output), which land in the server's working directory.
    args = ["env", f"--chdir={home}", sys.executable, "-m", "uvicorn", "--factory"]
    args += ["slipway.server.app:create_app", "--host", "127.0.0.1", "--port", str(port)]
    with run_server_process([*args, "--log-level", "warning"], env, port):
        yield f"http://127.0.0.1:{port}", database_url


@contextmanager
def _sdk(**variables: str) -> Iterator[None]:
    """The SDK of this process under these SLIPWAY_* variables, restored afterwards."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in variables.items():
            env.setenv(name, value)
        reload_settings()
        reset()
        try:
            yield
        finally:
            reset()
    reload_settings()


# --- bad input ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A client of a server holding one experiment, trial and component with a metric."""
    home = tmp_path_factory.mktemp("errors")
    with (
        _server(home, SLIPWAY_MAX_BODY_BYTES=str(MAX_BODY_BYTES)) as (url, _),
        httpx.Client(base_url=f"{url}/api/v1") as client,
    ):
        for path, body in [
            ("/experiments", {"ExperimentName": "exp"}),
            ("/trials", {"TrialName": "trial", "ExperimentName": "exp"}),
            ("/trial-components", {"TrialComponentName": "comp"}),
            ("/trial-components/comp/metrics", {"Metrics": [_point(0.5)], "BatchId": "b1"}),
        ]:
            client.post(path, json=body).raise_for_status()
        client.put("/trials/trial/trial-components/comp").raise_for_status()
        yield client


def _point(value: Any, **fields: Any) -> dict[str, Any]:
    return {"MetricName": "loss", "Value": value, "Timestamp": 1_700_000_000, **fields}


def _stored(api: httpx.Client) -> list[Any]:
    """Everything a user can list or read, to compare before and after a bad request."""
    paths = ["/experiments", "/trials", "/trial-components", "/trial-components/comp/metrics/loss"]
    return [api.get(path).json() for path in paths]


def _metrics(*points: dict[str, Any]) -> dict[str, Any]:
    return {"Metrics": list(points)}


def _search(name: str, value: str, resource: str = "Experiment") -> dict[str, Any]:
    return {
        "Resource": resource,
        "SearchExpression": {"Filters": [{"Name": name, "Operator": "Equals", "Value": value}]},
    }


def _schedule(**fields: Any) -> dict[str, Any]:
    """A monitoring schedule of one execution now, with ``fields`` changed."""
    return {
        "MonitoringScheduleName": "watch", "EndpointName": "ep", "OutputUri": "monitoring",
        "ScheduleExpression": "NOW", **fields,
    }  # fmt: skip


JSON = {"Content-Type": "application/json"}
TOO_LONG = "a" * 121
# (method, path, request keyword arguments, status, error code, a fragment of the message)
BAD_REQUESTS = {
    "malformed JSON": (
        "POST", "/experiments", {"content": b'{"ExperimentName": "new"', "headers": JSON},
        400, "MalformedJSON", "not valid JSON",
    ),
    "JSON sent as text/plain": (
        "POST", "/experiments",
        {"content": b'{"ExperimentName": "new"}', "headers": {"Content-Type": "text/plain"}},
        400, "BadRequest", "Content-Type: application/json",
    ),
    "a JSON array for an object": (
        "POST", "/experiments", {"json": [{"ExperimentName": "new"}]},
        400, "BadRequest", "JSON object",
    ),
    "unknown field": (
        "POST", "/experiments", {"json": {"ExperimentName": "new", "Colour": "red"}},
        422, "ValidationError", "Colour",
    ),
    "unknown nested field": (
        "PATCH", "/trial-components/comp",
        {"json": {"Parameters": {"lr": {"NumberValue": 0.1, "Unit": "none"}}}},
        422, "ValidationError", "Unit",
    ),
    "name over 120 characters": (
        "POST", "/experiments", {"json": {"ExperimentName": TOO_LONG}},
        422, "ValidationError", "121 characters",
    ),
    "name with a space": (
        "POST", "/trials", {"json": {"TrialName": "my trial", "ExperimentName": "exp"}},
        422, "ValidationError", "'my trial' is not valid",
    ),
    "name with a slash": (
        "POST", "/trial-components", {"json": {"TrialComponentName": "a/b"}},
        422, "ValidationError", "'a/b' is not valid",
    ),
    "SQL as a name": (
        "POST", "/experiments", {"json": {"ExperimentName": SQL}},
        422, "ValidationError", "DROP TABLE",
    ),
    "SQL as a display name": (
        "PATCH", "/experiments/exp", {"json": {"DisplayName": SQL}},
        422, "ValidationError", "DROP TABLE",
    ),
    "search on an unknown field": (
        "POST", "/search", {"json": _search("Colour", "red")},
        422, "ValidationError", "cannot search Experiment by 'Colour'",
    ),
    "search on an unknown resource": (
        "POST", "/search", {"json": {"Resource": "Model"}},
        422, "ValidationError", "'Model' is not known",
    ),
    "sort by an unknown field": (
        "GET", "/trials?sort_by=Colour", {},
        422, "ValidationError", "cannot sort Trial by 'Colour'",
    ),
    "time filter beyond any year": (
        "POST", "/search", {"json": _search("CreationTime", "1e300")},
        422, "ValidationError", "'1e300' is neither an ISO 8601 time",
    ),
    "body over the limit": (
        "POST", "/experiments",
        {"json": {"ExperimentName": "big", "Description": "a" * MAX_BODY_BYTES}},
        413, "PayloadTooLarge", f"limit of {MAX_BODY_BYTES} bytes",
    ),
    "streamed body over the limit": (
        "POST", "/trial-components/comp/metrics",
        {"content": iter([b'{"Metrics": [', b" " * MAX_BODY_BYTES, b"]}"]), "headers": JSON},
        413, "PayloadTooLarge", f"limit of {MAX_BODY_BYTES} bytes",
    ),
    "missing experiment": (
        "GET", "/experiments/nope", {},
        404, "NotFound", "experiment 'nope' not found",
    ),
    "metrics for a missing component": (
        "POST", "/trial-components/nope/metrics", {"json": _metrics(_point(1.0))},
        404, "NotFound", "trial component 'nope' not found",
    ),
    "update of a missing trial": (
        "PATCH", "/trials/nope", {"json": {"DisplayName": "other"}},
        404, "NotFound", "trial 'nope' not found",
    ),
    "unknown route": (
        "GET", "/no-such-things", {},
        404, "NotFound", "no route for GET /api/v1/no-such-things",
    ),
    "duplicate experiment": (
        "POST", "/experiments", {"json": {"ExperimentName": "exp"}},
        409, "AlreadyExists", "'exp' exists already",
    ),
    "duplicate component": (
        "POST", "/trial-components", {"json": {"TrialComponentName": "comp"}},
        409, "AlreadyExists", "'comp' exists already",
    ),
    "delete of an experiment that has trials": (
        "DELETE", "/experiments/exp", {},
        409, "Conflict", "still has 1 trial",
    ),
    "bad NextToken in a listing": (
        "GET", "/experiments?next_token=garbage", {},
        422, "ValidationError", "NextToken 'garbage'",
    ),
    "bad NextToken in a search": (
        "POST", "/search", {"json": {"Resource": "Trial", "NextToken": "e30="}},
        422, "ValidationError", "NextToken 'e30='",
    ),
    "number as a name": (
        "POST", "/experiments", {"json": {"ExperimentName": 42}},
        422, "ValidationError", "ExperimentName: Input should be a valid string (got 42)",
    ),
    "number as a string parameter": (
        "PATCH", "/trial-components/comp", {"json": {"Parameters": {"p": {"StringValue": 5}}}},
        422, "ValidationError", "StringValue",
    ),
    "text as a metric value": (
        "POST", "/trial-components/comp/metrics", {"json": _metrics(_point("high"))},
        422, "ValidationError", "Value",
    ),
    "text as max results": (
        "GET", "/experiments?max_results=ten", {},
        422, "ValidationError", "max_results: Input should be a valid integer, unable to parse "
        "string as an integer (got 'ten')",
    ),
    "an object for a list of tags": (
        "POST", "/experiments", {"json": {"ExperimentName": "new", "Tags": {"k": "v"}}},
        422, "ValidationError", "Tags",
    ),
    "parameter with a number and a string": (
        "PATCH", "/trial-components/comp",
        {"json": {"Parameters": {"p": {"NumberValue": 1, "StringValue": "one"}}}},
        422, "ValidationError", "either a NumberValue or a StringValue",
    ),
    "infinite parameter": (
        "PATCH", "/trial-components/comp",
        {"json": {"Parameters": {"p": {"NumberValue": "Infinity"}}}},
        422, "ValidationError", "finite number",
    ),
    "metric time stamp past the year 9999": (
        "POST", "/trial-components/comp/metrics",
        {"json": _metrics(_point(1.0), _point(2.0, Timestamp=1e300))},
        422, "ValidationError", "Metrics.1.Timestamp",
    ),
    "metric step over 64 bits": (
        "POST", "/trial-components/comp/metrics",
        {"json": _metrics(_point(1.0, IterationNumber=2**64))},
        422, "ValidationError", "IterationNumber",
    ),
    "true for a metric step": (
        "POST", "/trial-components/comp/metrics",
        {"json": _metrics(_point(1.0, IterationNumber=True))},
        422, "ValidationError", "IterationNumber must be a number, got true",
    ),
    "number for a time filter": (
        "GET", "/experiments?created_before=0.5", {},
        422, "ValidationError", "created_before: expected an ISO 8601 time",
    ),
    "number for a start time": (
        "PATCH", "/trial-components/comp", {"json": {"StartTime": 1_700_000_000}},
        422, "ValidationError", "StartTime: expected an ISO 8601 time",
    ),
    "empty sort": (
        "GET", "/trials?sort_by=", {},
        422, "ValidationError", "sort_by",
    ),
    "name with a space in a path": (
        "GET", "/experiments/a%20b", {},
        422, "ValidationError", "experiment name 'a b' is not valid",
    ),
    "schedule offset beyond the calendar": (
        "POST", "/monitoring-schedules",
        {"json": _schedule(DataAnalysisStartTime="-PT99999999999H")},
        422, "ValidationError", "offset '-PT99999999999H' is not an ISO-8601 duration",
    ),
    "baseline file that is a folder": (
        "POST", "/monitoring-schedules", {"json": _schedule(ConstraintsUri=".")},
        422, "ValidationError", "cannot read the baseline constraints file .",
    ),
    "ground truth under a file": (
        "POST", "/monitoring/ground-truth",
        {"json": {"GroundTruthUri": "slipway.db/x", "Records": [{"EventId": "e", "Label": 1}]}},
        422, "ValidationError", "cannot write ground truth under GroundTruthUri 'slipway.db/x'",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs", "status", "code", "fragment"),
    list(BAD_REQUESTS.values()),
    ids=list(BAD_REQUESTS),
)
def test_bad_request_gets_a_json_4xx_and_changes_nothing(
    api: httpx.Client,
    method: str,
    path: str,
    request_kwargs: dict[str, Any],
    status: int,
    code: str,
    fragment: str,
) -> None:
    before = _stored(api)

    response = api.request(method, path, **request_kwargs)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == code
    assert fragment in body["message"]
    assert _stored(api) == before


def test_a_method_no_route_serves_gets_405_naming_those_that_do(api: httpx.Client) -> None:
    response = api.request("TRACE", "/experiments/exp")

    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PATCH"
    assert response.json() == {
        "error": "MethodNotAllowed",
        "message": "TRACE is not allowed on /api/v1/experiments/exp; use DELETE, GET, PATCH",
    }


def test_openapi_document_declares_what_each_route_needs_and_answers(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    operations = {
        f"{method.upper()} {path}": operation
        for path, methods in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in methods.items()
    }
    experiment = operations["GET /api/v1/experiments/{experiment_name}"]
    create = operations["POST /api/v1/experiments"]
    error = {"$ref": "#/components/schemas/ErrorBody"}

    assert all({"401", "403"} <= set(op["responses"]) for op in operations.values())
    # Only a monitor report's scripts (no data) are open without a token.
    open_to_anyone = sorted(name for name, op in operations.items() if not op["security"])
    assert open_to_anyone == [
        "GET /api/v1/monitoring-executions/{name}/plotly.min.js",
        "GET /api/v1/monitoring-executions/{name}/report.js",
    ]
    assert set(create["responses"]) == {"201", "400", "401", "403", "404", "409", "413", "422"}
    assert set(experiment["responses"]) == {"200", "401", "403", "404", "422"}
    assert experiment["responses"]["404"]["content"]["application/json"]["schema"] == error
    assert experiment["parameters"][0]["schema"]["pattern"] == f"^{NAME_PATTERN}$"
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"


def test_sql_in_a_filter_value_is_only_a_value(api: httpx.Client) -> None:
    before = _stored(api)

    answers = [
        api.post("/search", json=_search("ExperimentName", SQL)),
        api.post("/search", json=_search(f"Parameters.{SQL}", SQL, "TrialComponent")),
        api.get("/trial-components", params={"source_arn": SQL}),
    ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["Results"] for a in answers[:2]] == [[], []]
    assert answers[2].json()["Items"] == []
    assert _stored(api) == before


def test_tracker_refuses_at_once_a_point_the_store_would_refuse(tmp_path: Path) -> None:
    """Refused later, in the background, such a point would hold up its whole batch."""
    embedded = {"SLIPWAY_HOME": str(tmp_path), "SLIPWAY_DATABASE_URL": "", "SLIPWAY_SERVER_URL": ""}
    with _sdk(**embedded):
        tracker = Tracker.create()
        with pytest.raises(ValidationError, match="between 1970 and 9999"):
            tracker.log_metric("loss", 1.0, timestamp=1e300)
        with pytest.raises(ValidationError, match="does not fit 64 bits"):
            tracker.log_metric("loss", 1.0, iteration_number=2**64)
        with pytest.raises(ValidationError, match="control characters"):
            tracker.log_metric("lo\x00ss", 1.0)
        tracker.log_metric("loss", 0.5)
        tracker.close()
        stored = experiments_backend().get_metric_series(tracker.trial_component_name, "loss")

    assert [point.value for point in stored] == [0.5]


# --- tokens ------------------------------------------------------------------------------


def test_once_a_token_exists_every_request_but_healthz_needs_it(tmp_path: Path) -> None:
    with _server(tmp_path) as (url, database_url):
        open_before = httpx.get(f"{url}/api/v1/experiments")
        created = subprocess.run(
            [str(Path(sys.executable).with_name("slipway")), "token", "create", "ci"],
            env={**os.environ, "SLIPWAY_DATABASE_URL": database_url, "SLIPWAY_SERVER_URL": ""},
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.strip()
        no_token = httpx.get(f"{url}/api/v1/experiments")
        wrong = httpx.get(f"{url}/api/v1/experiments", headers={"Authorization": "Bearer slw_x"})
        right = httpx.get(f"{url}/api/v1/experiments", headers={"Authorization": f"Bearer {token}"})
        health = httpx.get(f"{url}/healthz")
        with _sdk(SLIPWAY_SERVER_URL=url, SLIPWAY_TOKEN=token):
            Experiment.create(experiment_name="made-with-a-token")
            loaded = Experiment.load("made-with-a-token")
        with _sdk(SLIPWAY_SERVER_URL=url, SLIPWAY_TOKEN=""), pytest.raises(Unauthorized):
            Experiment.load("made-with-a-token")

    assert open_before.status_code == 200
    assert token.startswith("slw_")
    assert (no_token.status_code, no_token.json()["error"]) == (401, "Unauthorized")
    assert "Authorization: Bearer" in no_token.json()["message"]
    assert (wrong.status_code, wrong.json()["error"]) == (401, "Unauthorized")
    assert right.status_code == 200
    assert health.status_code == 200
    assert loaded.experiment_name == "made-with-a-token"


# --- fuzzing -----------------------------------------------------------------------------

# Schemathesis's engine, as its CLI runs it, with every check and both valid and invalid
# input: invalid boundary values of every parameter, requests without credentials and with
# TRACE, which no path serves (the coverage phase; its valid boundary values would double
# the time, and fuzzing sends valid values too), fuzzing, then stateful sequences that
# follow links from a create to reads, updates and deletes. A fixed seed sends the same
# requests each run.
FUZZ_CONFIG: dict[str, Any] = {
    "checks": {"enabled": True},
    "generation": {"mode": "all", "max-examples": 4, "deterministic": True, "database": "none"},
    "phases": {"coverage": {"generation": {"mode": "negative"}, "unexpected-methods": ["trace"]}},
    "continue-on-failure": True,
}
# A viewer's run checks that the 403s it gets are declared; fuzzing alone shows them.
VIEWER_PHASES = {"coverage": {"enabled": False}, "stateful": {"enabled": False}}
VIEWER_EXAMPLES = 2

# Operations where a check cannot hold, each with the reason.
_DATA_MUST_EXIST = "the request names stored data that must exist and hold the right content"
_UNCHECKABLE = {
    "positive_data_acceptance": {
        # Whether a filter's name and value fit the resource is more than a schema says.
        "POST /api/v1/search": "a search expression is a language of its own",
        "POST /api/v1/training-jobs": "a metric definition's regex must compile and capture",
        "POST /api/v1/tuning-jobs": "a metric definition's regex must compile and capture",
        # A schedule's retraining job is a training job definition.
        "POST /api/v1/monitoring-schedules": "a metric definition's regex must compile",
        "PATCH /api/v1/monitoring-schedules/{name}": "a metric definition's regex must compile",
        "POST /api/v1/endpoint-configs": "variant names must differ within a config",
        "POST /api/v1/monitoring-schedules/{name}/executions": "a window must end after it starts",
        "POST /api/v1/transform-jobs": "a JSONPath filter must parse",
        "POST /api/v1/automl-jobs": _DATA_MUST_EXIST,
        "POST /api/v1/model-packages": _DATA_MUST_EXIST,
        "POST /api/v1/monitoring/baselines": _DATA_MUST_EXIST,
        "POST /api/v1/monitoring/ground-truth": "the labels are written where the request says",
        # Schemathesis compares integers as floats: it takes 2**63 + 191 for a 64-bit step.
        "POST /api/v1/trial-components/{trial_component_name}/metrics": "64-bit bounds",
        # The one NextToken the fuzzer is given belongs to a listing; a history's token
        # names a point of that one metric (bad tokens are tested in test_metric_history).
        "GET /api/v1/trial-components/{trial_component_name}/metrics/{metric_name}": (
            "a history's page token belongs to its metric"
        ),
    },
    "ensure_resource_availability": {
        # A new group has no Approved version yet.
        "GET /api/v1/model-package-groups/{name}/latest-approved": "a 404 is the right answer",
    },
}


def _fuzz_config(token: str, page_token: str, **overrides: Any) -> schemathesis.Config:
    operations = [
        {"include-name": operation, "checks": {check: {"enabled": False}}}
        for check, reasons in _UNCHECKABLE.items()
        for operation in reasons
    ]
    return schemathesis.Config.from_dict(
        {
            **FUZZ_CONFIG,
            "headers": {"Authorization": f"Bearer {token}"},
            # Only a NextToken the server gave out is valid, which no schema can say; bad
            # ones are tested above.
            "parameters": {"query.next_token": page_token},
            "operations": operations,
            **overrides,
        }
    )


@dataclass
class Fuzzed:
    """What schemathesis's engine found: failed checks and errors, and the statuses seen."""

    failures: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


def _fuzz(schema: schemathesis.BaseSchema) -> Fuzzed:
    """Run schemathesis's engine over the schema; describe each failed check and error."""
    found = Fuzzed()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for case_id, checks in event.recorder.checks.items():
                response = event.recorder.interactions[case_id].response
                answer = f"{response.status_code} {response.content[:300]!r}" if response else ""
                found.failures += [
                    f"{event.recorder.label}: {check.name}: {check.failure_info.failure.title}\n"
                    f"{check.failure_info.code_sample}\n-> {answer}"
                    for check in checks
                    if check.failure_info is not None
                ]
                found.statuses[response.status_code if response else 0] += 1
        elif isinstance(event, events.NonFatalError):  # a request that broke the connection
            found.failures.append(f"{event.label}: {event.info}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return found


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A server that needs tokens, with an admin's and a viewer's, and a page token.

    Tokens exist from the start: the first one the fuzzer made would otherwise turn every
    later request into a 401.
    """
    with (
        _server(tmp_path_factory.mktemp("fuzzed")) as (url, _),
        httpx.Client(base_url=f"{url}/api/v1") as api,
    ):
        # The first token is made while the server is still open; then it needs one.
        admin = api.post("/tokens", json={"Name": "fuzz-admin", "Role": "admin"}).json()["Token"]
        api.headers["Authorization"] = f"Bearer {admin}"
        viewer = api.post("/tokens", json={"Name": "fuzz-viewer", "Role": "viewer"}).json()
        for name in ("first", "second"):
            api.post("/experiments", json={"ExperimentName": name}).raise_for_status()
        page = api.get("/experiments", params={"max_results": 1}).json()["NextToken"]
        yield {"url": url, "admin": admin, "viewer": viewer["Token"], "page": page}


@pytest.mark.slow
def test_schemathesis_with_every_check_finds_nothing(fuzzed_server: dict[str, str]) -> None:
    config = _fuzz_config(fuzzed_server["admin"], fuzzed_server["page"])
    url = f"{fuzzed_server['url']}/api/v1/openapi.json"

    found = _fuzz(schemathesis.openapi.from_url(url, config=config))

    assert found.failures == []
    assert found.statuses[201] > 0  # things were made: the requests passed the token check


@pytest.mark.slow
def test_schemathesis_as_a_viewer_finds_nothing(fuzzed_server: dict[str, str]) -> None:
    config = _fuzz_config(
        fuzzed_server["viewer"],
        fuzzed_server["page"],
        phases=VIEWER_PHASES,
        generation={**FUZZ_CONFIG["generation"], "max-examples": VIEWER_EXAMPLES},
    )
    url = f"{fuzzed_server['url']}/api/v1/openapi.json"

    found = _fuzz(schemathesis.openapi.from_url(url, config=config))

    assert found.failures == []
    assert found.statuses[403] > 0 and found.statuses[201] == 0
