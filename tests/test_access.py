"""Who may reach the server and do what: hosts, origins, roles, sessions, the audit log.

Each test starts a real `slipway server` on 127.0.0.1 and talks to it as a browser or a
client would; `slipway token` and `slipway audit` run in this process, through the
command's own entry point. The role table runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from helpers import free_port, fresh_database, run_server_process, run_slipway

SLIPWAY = str(Path(sys.executable).with_name("slipway"))


@dataclass
class Server:
    url: str
    home: Path
    database_url: str

    def cli(self, *args: str, remote: bool = False, token: str = "") -> subprocess.CompletedProcess:
        """Run the `slipway` command on this server's home, or against it over HTTP."""
        return run_slipway(
            *args,
            SLIPWAY_HOME=str(self.home),
            SLIPWAY_DATABASE_URL="" if remote else self.database_url,
            SLIPWAY_SERVER_URL=self.url if remote else "",
            SLIPWAY_TOKEN=token,
        )

    def token(self, name: str, role: str = "editor") -> str:
        """A new token, made on the server's database as `slipway token create` does."""
        from slipway.auth.service import TokenService
        from slipway.store.db import open_database

        return TokenService(open_database(self.database_url)).create_token(name, role).token


@contextmanager
def _server(home: Path, database_url: str, *args: str, **env: str) -> Iterator[Server]:
    port = free_port()
    command = [SLIPWAY, "server", "--host", "127.0.0.1", "--port", str(port), *args]
    variables = {
        "SLIPWAY_HOME": str(home),
        "SLIPWAY_DATABASE_URL": database_url,
        "SLIPWAY_SERVER_URL": "",
        "SLIPWAY_TOKEN": "",
        **env,
    }
    with run_server_process(command, variables, port):
        yield Server(f"http://127.0.0.1:{port}", home, database_url)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A server on SQLite whose first (admin) token is made by the test."""
    with _server(tmp_path, f"sqlite:///{tmp_path / 'slipway.db'}") as running:
        yield running


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the role table ------------------------------------------------------------------------

# (route family, method, path, body): each names things that do not exist, so a caller who
# may act gets past the role check to a 404 (or the action's own answer), one who may not
# gets 403 before anything is looked up.
ROUTES = {
    "read experiments": ("GET", "/api/v1/experiments", None),
    "read a job's logs": ("GET", "/api/v1/jobs/no-such-job/logs", None),
    "Studio pages": ("GET", "/experiments", None),
    "create an experiment": ("POST", "/api/v1/experiments", {"ExperimentName": "NAME"}),
    "log metrics": (
        "POST",
        "/api/v1/trial-components/no-such-component/metrics",
        {"Metrics": [{"MetricName": "loss", "Value": 1.0, "Timestamp": 1.0}]},
    ),
    "stop a training job": ("POST", "/api/v1/training-jobs/no-such-job/stop", None),
    "stop a tuning job": ("POST", "/api/v1/tuning-jobs/no-such-job/stop", None),
    "approve a model": (
        "PATCH",
        "/api/v1/model-packages/no-such-group/1",
        {"ModelApprovalStatus": "Approved"},
    ),
    "deploy an endpoint": (
        "POST",
        "/api/v1/endpoints",
        {"EndpointName": "no-such-endpoint", "EndpointConfigName": "no-such-config"},
    ),
    "start a monitoring schedule": (
        "POST",
        "/api/v1/monitoring-schedules/no-such-schedule/start",
        None,
    ),
    "invoke an endpoint": ("POST", "/endpoints/no-such-endpoint/invocations", [[1.0]]),
    "delete another's experiment": ("DELETE", "/api/v1/experiments/made-by-admin", None),
    "list tokens": ("GET", "/api/v1/tokens", None),
    "read the audit log": ("GET", "/api/v1/audit", None),
}
V, E, A, INV = "viewer", "editor", "admin", "invoke"
ALLOWED = {
    "read experiments": {V, E, A},
    "read a job's logs": {V, E, A},
    "Studio pages": {V, E, A},
    "create an experiment": {E, A},
    "log metrics": {E, A},
    "stop a training job": {E, A},
    "stop a tuning job": {E, A},
    "approve a model": {E, A},
    "deploy an endpoint": {E, A},
    "start a monitoring schedule": {E, A},
    "invoke an endpoint": {E, A, INV},
    "delete another's experiment": {A},
    "list tokens": {A},
    "read the audit log": {A},
}


def _role_table(server: Server) -> dict[tuple[str, str], int]:
    admin = server.token("owner", "admin")
    tokens = {role: server.token(f"a-{role}", role) for role in (V, E, INV)} | {A: admin}
    answers = {}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for family, (method, path, body) in ROUTES.items():
            for role, token in tokens.items():
                if family == "delete another's experiment":
                    client.post(
                        "/api/v1/experiments",
                        json={"ExperimentName": "made-by-admin"},
                        headers=_bearer(admin),
                    )
                if family == "create an experiment":
                    body = {"ExperimentName": f"by-{role}-{uuid.uuid4().hex[:6]}"}
                headers = _bearer(token) | {"Accept": "text/html"}
                answer = client.request(method, path, json=body, headers=headers)
                answers[family, role] = answer.status_code
    return answers


def _check_role_table(answers: dict[tuple[str, str], int]) -> None:
    wrong = []
    for (family, role), status in answers.items():
        allowed = role in ALLOWED[family]
        if allowed == (status in (401, 403)) or status >= 500:
            wrong.append(f"{role} -> {family}: {status}")
    assert wrong == []


def test_each_role_reaches_exactly_its_routes_on_sqlite(server: Server) -> None:
    _check_role_table(_role_table(server))


def test_each_role_reaches_exactly_its_routes_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    with fresh_database(postgres_url) as url, _server(tmp_path, url) as server:
        _check_role_table(_role_table(server))


def test_an_editor_deletes_its_own_work_but_not_anothers(server: Server) -> None:
    server.token("owner", "admin")
    alice, bob = server.token("alice"), server.token("bob")
    with httpx.Client(base_url=f"{server.url}/api/v1") as api:
        for who, name in ((alice, "alices"), (bob, "bobs")):
            made = api.post("/experiments", json={"ExperimentName": name}, headers=_bearer(who))
            assert made.status_code in (200, 201), made.text
        refused = api.delete("/experiments/bobs", headers=_bearer(alice))
        own = api.delete("/experiments/alices", headers=_bearer(alice))
        still_there = api.get("/experiments/bobs", headers=_bearer(alice))
    assert refused.status_code == 403
    assert "only its creator or an admin" in refused.json()["message"]
    assert own.status_code == 204
    assert still_there.status_code == 200


def test_every_service_method_has_a_rule_in_the_role_table(home: Path) -> None:
    import inspect

    from slipway.auth.policy import POLICY
    from slipway.platform import services

    missing = []
    for capability, rules in POLICY.items():
        service_class = type(getattr(services(), capability))
        public = {name for name, _ in inspect.getmembers(service_class) if name[0] != "_"}
        missing += [f"{capability}.{name}" for name in sorted(public - set(rules))]
        missing += [f"{capability}.{name} (no such method)" for name in set(rules) - public]
    assert missing == []


def test_interfaces_reach_services_only_through_the_guard() -> None:
    """Routes and pages take services per caller; only the server's plumbing takes them raw."""
    source = Path(__file__).parents[1] / "src" / "slipway"
    plumbing = {"server/app.py", "server/background.py", "studio/routes.py"}
    raw = [
        str(path.relative_to(source))
        for path in source.rglob("*.py")
        if "app.state.services" in path.read_text()
        and str(path.relative_to(source)) not in plumbing | {"auth/guard.py"}
    ]
    assert raw == []


# --- authentication that fails closed --------------------------------------------------------


def test_revoking_the_last_admin_token_is_refused_and_auth_stays_on(server: Server) -> None:
    server.token("owner", "admin")
    refused = server.cli("token", "revoke", "owner")
    editor = server.token("writer")
    revoked = server.cli("token", "revoke", "writer")
    anonymous = httpx.get(f"{server.url}/api/v1/experiments")
    revoked_token = httpx.get(f"{server.url}/api/v1/experiments", headers=_bearer(editor))
    assert refused.returncode == 1 and "last admin token" in refused.stderr
    assert revoked.returncode == 0
    assert anonymous.status_code == 401
    assert revoked_token.status_code == 401


def test_a_server_whose_tokens_all_expired_stays_closed(server: Server) -> None:
    from slipway.auth.service import TokenService
    from slipway.store.db import Database

    made = server.cli("token", "create", "owner", "--expires", "1m")
    token = made.stdout.strip()
    database = Database(server.database_url)
    with database.write() as conn:
        conn.exec_driver_sql("UPDATE api_tokens SET expires_at = '2000-01-01 00:00:00'")
    assert TokenService(database).required()
    database.dispose()
    expired = httpx.get(f"{server.url}/api/v1/experiments", headers=_bearer(token))
    anonymous = httpx.get(f"{server.url}/api/v1/experiments")
    assert expired.status_code == 401 and "expired at 2000-01-01" in expired.json()["message"]
    assert anonymous.status_code == 401


def test_the_first_token_must_be_an_admins_and_says_it_turns_auth_on(server: Server) -> None:
    not_admin = server.cli("token", "create", "first", "--role", "viewer")
    first = server.cli("token", "create", "first")
    listed = server.cli("token", "list")
    bad_role = server.cli("token", "create", "second", "--role", "superuser")
    bad_expiry = server.cli("token", "create", "third", "--expires", "soon")
    assert (
        not_admin.returncode == 1 and "first token must have the role 'admin'" in not_admin.stderr
    )
    assert first.returncode == 0 and "turned authentication on" in first.stderr
    assert listed.stdout.split("\t")[:2] == ["first", "admin"]
    assert bad_role.returncode == 1 and "'superuser' is not one of" in bad_role.stderr
    assert bad_expiry.returncode == 1 and "'soon' is not a duration" in bad_expiry.stderr
    for result in (not_admin, bad_role, bad_expiry):
        assert "Traceback" not in result.stderr


def test_token_commands_go_to_the_server_named_by_slipway_server_url(
    server: Server, tmp_path: Path
) -> None:
    admin = server.token("owner", "admin")
    elsewhere = Server(server.url, tmp_path / "client-home", "")
    made = elsewhere.cli("token", "create", "ci-bot", "--role", "viewer", remote=True, token=admin)
    listed = elsewhere.cli("token", "list", remote=True, token=admin)
    as_viewer = elsewhere.cli("token", "list", remote=True, token=made.stdout.strip())
    works = httpx.get(f"{server.url}/api/v1/experiments", headers=_bearer(made.stdout.strip()))
    assert made.returncode == 0, made.stderr
    assert "ci-bot\tviewer" in listed.stdout
    assert works.status_code == 200
    assert as_viewer.returncode == 1 and "may not call tokens.list_tokens" in as_viewer.stderr
    assert not (tmp_path / "client-home" / "slipway.db").exists()


def test_a_server_beyond_loopback_refuses_to_start_without_auth(tmp_path: Path) -> None:
    env = {**os.environ, "SLIPWAY_HOME": str(tmp_path), "SLIPWAY_DATABASE_URL": ""}
    port = str(free_port())
    refused = subprocess.run(
        [SLIPWAY, "server", "--host", "0.0.0.0", "--port", port],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "without authentication" in refused.stderr and "--insecure-no-auth" in refused.stderr
    command = [SLIPWAY, "server", "--host", "0.0.0.0", "--port", port, "--insecure-no-auth"]
    with run_server_process(command, {"SLIPWAY_HOME": str(tmp_path)}, int(port)):
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/experiments").status_code == 200


# --- hosts and origins -------------------------------------------------------------------------


def test_requests_for_another_host_name_are_refused(server: Server) -> None:
    rebound = {"Host": "rebind.attacker.example"}
    page = httpx.get(f"{server.url}/api/v1/experiments", headers=rebound)
    upload = httpx.post(
        f"{server.url}/api/v1/training-jobs", headers=rebound, json={"TrainingJobName": "x"}
    )
    invoke = httpx.post(f"{server.url}/endpoints/x/invocations", headers=rebound, json=[1])
    for answer in (page, upload, invoke):
        assert answer.status_code == 400
        assert "rebind.attacker.example" in answer.json()["message"]
    assert httpx.get(f"{server.url}/api/v1/experiments").status_code == 200
    localhost = server.url.replace("127.0.0.1", "localhost")
    assert httpx.get(f"{localhost}/api/v1/experiments").status_code == 200


def test_allowed_hosts_names_the_hosts_a_server_answers_to(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'slipway.db'}"
    with _server(tmp_path, database, "--allowed-hosts", "ml.example.com,*.corp.example") as s:
        named = httpx.get(f"{s.url}/healthz", headers={"Host": "ml.example.com"})
        sub = httpx.get(f"{s.url}/healthz", headers={"Host": "team.corp.example:8600"})
        other = httpx.get(f"{s.url}/healthz", headers={"Host": "corp.example.evil"})
    assert (named.status_code, sub.status_code, other.status_code) == (200, 200, 400)


CROSS_SITE = {"Origin": "http://evil.example", "Content-Type": "text/plain"}


def test_state_changes_from_another_site_are_refused_on_a_tokenless_server(
    server: Server,
) -> None:
    stop = httpx.post(f"{server.url}/api/v1/training-jobs/x/stop", headers=CROSS_SITE)
    fetch = httpx.post(
        f"{server.url}/api/v1/monitoring-schedules/x/stop",
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    same_site = httpx.post(
        f"{server.url}/api/v1/experiments",
        json={"ExperimentName": "from-a-sibling-port"},
        headers={"Origin": "http://127.0.0.1:1"},
    )
    own = httpx.post(
        f"{server.url}/api/v1/training-jobs/x/stop",
        headers={"Origin": server.url, "Sec-Fetch-Site": "same-origin"},
    )
    for answer in (stop, fetch, same_site):
        assert answer.status_code == 403, answer.text
        assert "from another site" in answer.json()["message"]
    assert own.status_code == 404  # past the check: the job does not exist


def _sign_in(client: httpx.Client, token: str, **headers: str) -> httpx.Response:
    return client.post("/signin", data={"token": token, "next": "/experiments"}, headers=headers)


def test_a_cookie_alone_cannot_change_state_from_another_site(server: Server) -> None:
    admin = server.token("owner", "admin")
    with httpx.Client(base_url=server.url) as browser:
        assert _sign_in(browser, admin).status_code == 303
        stop = browser.post("/api/v1/training-jobs/x/stop", headers=CROSS_SITE)
        retry = browser.post("/api/v1/monitoring-schedules/x/alerts/retry", headers=CROSS_SITE)
        own = browser.post("/api/v1/training-jobs/x/stop", headers={"Origin": server.url})
    login_csrf = httpx.post(
        f"{server.url}/signin", data={"token": admin}, headers={"Origin": "http://evil.example"}
    )
    assert stop.status_code == 403 and retry.status_code == 403
    assert own.status_code == 404
    assert login_csrf.status_code == 403


# --- sessions -----------------------------------------------------------------------------------


def test_the_session_cookie_is_an_opaque_expiring_strict_httponly_id(server: Server) -> None:
    admin = server.token("owner", "admin")
    with httpx.Client(base_url=server.url) as browser:
        signed_in = _sign_in(browser, admin)
        cookie = signed_in.headers["set-cookie"]
        session = browser.cookies["slipway_session"]
        page = browser.get("/experiments", headers={"Accept": "text/html"})
    assert admin not in cookie and session != admin
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP: a Secure cookie would never come back
    assert page.status_code == 200


def test_signing_out_or_revoking_the_token_ends_the_session(server: Server) -> None:
    server.token("owner", "admin")
    alice = server.token("alice")
    api = "/api/v1/experiments"
    with httpx.Client(base_url=server.url) as first, httpx.Client(base_url=server.url) as second:
        _sign_in(first, alice)
        _sign_in(second, alice)
        session = first.cookies["slipway_session"]
        assert first.get(api).status_code == 200
        first.post("/signout", headers={"Origin": server.url})
        replayed = httpx.get(f"{server.url}{api}", cookies={"slipway_session": session})
        assert second.get(api).status_code == 200
        server.cli("token", "revoke", "alice")
        after_revoke = second.get(api)
    assert replayed.status_code == 401
    assert after_revoke.status_code == 401


def test_a_session_expires(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'slipway.db'}"
    # 0.0005 h is 1.8 s.
    with _server(tmp_path, database, SLIPWAY_SESSION_LIFETIME_HOURS="0.0005") as server:
        admin = server.token("owner", "admin")
        with httpx.Client(base_url=server.url) as browser:
            _sign_in(browser, admin)
            fresh = browser.get("/api/v1/experiments")
            time.sleep(2.5)
            stale = httpx.get(
                f"{server.url}/api/v1/experiments",
                cookies={"slipway_session": browser.cookies["slipway_session"]},
            )
    assert (fresh.status_code, stale.status_code) == (200, 401)


def test_secure_host_cookie_behind_a_trusted_proxy_only(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'slipway.db'}"
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    with _server(tmp_path, database, "--trusted-proxies", "127.0.0.1") as server:
        admin = server.token("owner", "admin")
        with httpx.Client(base_url=server.url) as proxy:
            behind = _sign_in(proxy, admin, **https).headers["set-cookie"]
        audit = httpx.get(f"{server.url}/api/v1/audit", headers=_bearer(admin)).json()
    with _server(tmp_path, database) as server, httpx.Client(base_url=server.url) as spoofer:
        spoofed = _sign_in(spoofer, admin, **https).headers["set-cookie"]
    assert behind.startswith("__Host-slipway_session=") and "secure" in behind.lower()
    assert spoofed.startswith("slipway_session=") and "secure" not in spoofed.lower()
    assert audit["Items"][0]["Client"] == "203.0.113.9"


# --- the audit log ------------------------------------------------------------------------------


def test_every_state_change_is_audited_with_who_what_and_where(server: Server) -> None:
    admin = server.token("owner", "admin")
    viewer = server.token("watcher", "viewer")
    headers = _bearer(viewer) | {"User-Agent": "audit-test/1"}
    with httpx.Client(base_url=f"{server.url}/api/v1") as api:
        api.post("/experiments", json={"ExperimentName": "audited"}, headers=_bearer(admin))
        api.post("/experiments", json={"ExperimentName": "refused"}, headers=headers)
        api.get("/experiments", headers=_bearer(admin))  # a read is not audited
        events = api.get("/audit", headers=_bearer(admin)).json()["Items"]
        as_viewer = api.get("/audit", headers=_bearer(viewer))
    listed = server.cli("audit", "list", "--actor", "watcher")
    page = httpx.get(f"{server.url}/audit", headers=_bearer(admin))
    refused, made = events[0], events[1]
    assert (made["Actor"], made["Role"], made["Method"]) == ("owner", "admin", "POST")
    assert (made["Path"], made["Status"], made["Client"]) == (
        "/api/v1/experiments",
        201,
        "127.0.0.1",
    )
    assert (refused["Actor"], refused["Status"], refused["UserAgent"]) == (
        "watcher",
        403,
        "audit-test/1",
    )
    assert all(e["Method"] != "GET" for e in events)
    assert as_viewer.status_code == 403
    assert "watcher\tviewer\tPOST /api/v1/experiments\t403\t127.0.0.1" in listed.stdout
    assert page.status_code == 200 and "/api/v1/experiments" in page.text


def test_a_deployment_bootstraps_its_first_admin_token_from_the_environment(
    tmp_path: Path,
) -> None:
    secret = "b" * 40
    port = free_port()
    command = [SLIPWAY, "server", "--host", "0.0.0.0", "--port", str(port)]
    env = {"SLIPWAY_HOME": str(tmp_path), "SLIPWAY_BOOTSTRAP_ADMIN_TOKEN": secret}
    with run_server_process(command, env, port):
        url = f"http://127.0.0.1:{port}/api/v1/tokens"
        anonymous = httpx.get(url)
        admin = httpx.get(url, headers=_bearer(secret))
    short = subprocess.run(
        [SLIPWAY, "server", "--port", str(free_port())],
        env={**os.environ, "SLIPWAY_HOME": str(tmp_path / "other"),
             "SLIPWAY_BOOTSTRAP_ADMIN_TOKEN": "short"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert anonymous.status_code == 401
    assert admin.status_code == 200
    assert [(t["Name"], t["Role"]) for t in admin.json()["Items"]] == [("bootstrap-admin", "admin")]
    assert short.returncode == 1 and "at least 32 characters" in short.stderr
