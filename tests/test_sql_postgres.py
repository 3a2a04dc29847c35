"""The PostgreSQL functions' credential: an invoke token that only the functions' owner
can read, used on behalf of the roles granted, against a real `slipway server` that
requires tokens and a real PostgreSQL with PL/Python.

Roles of the database log in as themselves (the session's server trusts 127.0.0.1), so
each check is what that role would see.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import errors, sql
from psycopg.conninfo import make_conninfo

from helpers import fresh_database
from serving_support import deploy, pack, remote, sklearn_model, slipway_server
from slipway._http import HttpClient
from slipway.auth.client import RemoteTokens

SETOSA = "5.1, 3.5, 1.4, 0.2"


@dataclass
class Platform:
    url: str
    admin: str
    invoke: str

    def token(self, name: str, role: str) -> str:
        return RemoteTokens(HttpClient(self.url, self.admin)).create_token(name, role).token


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A server with the iris endpoint that requires tokens: an admin's and an invoke one."""
    root = tmp_path_factory.mktemp("sql-postgres")
    with slipway_server(root / "home") as (url, _process):
        deploy(remote(url), "iris", str(pack(sklearn_model(root / "iris"), root / "iris.tar.gz")))
        admin = RemoteTokens(HttpClient(url)).create_token("admin", "admin").token
        running = Platform(url, admin, "")
        running.invoke = running.token("warehouse", "invoke")
        yield running


@pytest.fixture(scope="module")
def database(platform: Platform, postgres_url: str) -> Iterator[str]:
    """A database with the functions installed with the invoke token, granted to nobody."""
    if not list(Path("/usr/lib/postgresql").glob("*/lib/plpython3.so")):
        pytest.fail("PL/Python is not installed for PostgreSQL: run `make test`", pytrace=False)
    with fresh_database(postgres_url) as url:
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        done = _install(dsn, platform.url, "--token", platform.invoke)
        assert done.returncode == 0, done.stderr
        yield dsn


@dataclass
class LoginRole:
    name: str
    dsn: str


@contextmanager
def _login_role(dsn: str) -> Iterator[LoginRole]:
    """A role of the database's server that may log in and was granted nothing."""
    name = f"sql_user_{uuid.uuid4().hex[:8]}"
    role = sql.Identifier(name)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    try:
        yield LoginRole(name, make_conninfo(dsn, user=name))
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(role))
            admin.execute(sql.SQL("DROP ROLE {}").format(role))


@pytest.fixture
def stranger(database: str) -> Iterator[LoginRole]:
    with _login_role(database) as role:
        yield role


@pytest.fixture
def reader(database: str) -> Iterator[LoginRole]:
    with _login_role(database) as role:
        yield role


def _install(dsn: str, server_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from slipway.cli import main; main()", "sql"]
    command += ["install-postgres", "--dsn", dsn, "--server-url", server_url, *args]
    env = {**os.environ, "SLIPWAY_SERVER_URL": "", "SLIPWAY_TOKEN": ""}
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


def _stored_token(dsn: str) -> str:
    with psycopg.connect(dsn) as owner:
        return owner.execute("SELECT token FROM slipway.credential").fetchone()[0]


def _database_settings(conn: psycopg.Connection) -> str:
    """Every database's and role's settings, as any role can read them."""
    return conn.execute(
        "SELECT coalesce(string_agg(array_to_string(setconfig, ' '), ' '), '') "
        "FROM pg_db_role_setting"
    ).fetchone()[0]


def test_a_role_without_grants_can_neither_read_nor_use_the_credential(platform, stranger):
    with psycopg.connect(stranger.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT current_setting('slipway.token', true)").fetchone() == (None,)
        assert platform.invoke not in _database_settings(conn)
        for statement in (
            "SELECT * FROM slipway.credential",
            "SELECT * FROM slipway.post_invocation('iris', '1,2,3,4', 'text/csv', 5)",
            f"SELECT slipway.invoke_endpoint('iris', NULL, {SETOSA})",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)


def test_a_granted_role_scores_rows_but_never_sees_the_token(platform, database, reader):
    # A broad grant made since the last install: installing closes the table again.
    with psycopg.connect(database, autocommit=True) as owner:
        owner.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA slipway TO {}").format(
                sql.Identifier(reader.name)
            )
        )

    done = _install(database, platform.url, "--token", platform.invoke, "--grant", reader.name)
    assert done.returncode == 0, done.stderr
    assert f"granted to {reader.name}" in done.stdout

    with psycopg.connect(reader.dsn, autocommit=True) as conn:
        one = conn.execute(f"SELECT slipway.invoke_endpoint('iris', NULL, {SETOSA})::int")
        assert one.fetchone() == (0,)
        batched = conn.execute(
            "SELECT * FROM slipway.invoke_endpoint_batched('iris', 10, "
            "'SELECT 7 AS id, 5.1 AS a, 3.5 AS b, 1.4 AS c, 0.2 AS d', '{id}') "
            "AS t(id int, species int)"
        )
        assert batched.fetchall() == [(7, 0)]
        # What the definer function gives a caller: the answer, never the token.
        sent = conn.execute(
            "SELECT * FROM slipway.post_invocation('iris', '5.1,3.5,1.4,0.2', 'text/csv', 5)"
        ).fetchone()
        assert sent[1] == 200 and platform.invoke not in repr(sent)
        assert conn.execute("SELECT current_setting('slipway.token', true)").fetchone() == (None,)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM slipway.credential")


class _Listener(BaseHTTPRequestHandler):
    """A server of someone else's that would collect whatever token reaches it."""

    seen: list[str] = []

    def do_POST(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"[0]")

    def log_message(self, *args: object) -> None:
        pass


def test_a_session_cannot_send_the_token_to_another_server(platform, database, reader):
    # The grants a DBA gives a role that should score rows, written out by hand.
    role = sql.Identifier(reader.name)
    with psycopg.connect(database, autocommit=True) as owner:
        owner.execute(sql.SQL("GRANT USAGE ON SCHEMA slipway TO {}").format(role))
        owner.execute(
            sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA slipway TO {}").format(role)
        )
    listener = ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        with psycopg.connect(reader.dsn, autocommit=True) as conn:
            conn.execute(f"SET slipway.server_url = 'http://127.0.0.1:{listener.server_port}'")
            conn.execute(f"SELECT slipway.invoke_endpoint('iris', NULL, {SETOSA})").fetchone()
    finally:
        listener.shutdown()
        listener.server_close()
    assert not any(platform.invoke in header for header in _Listener.seen)


def test_the_stored_token_may_invoke_and_nothing_else(platform, database):
    token = _stored_token(database)
    bearer = {"Authorization": f"Bearer {token}"}

    assert httpx.get(f"{platform.url}/api/v1/experiments", headers=bearer).status_code == 403
    invoked = httpx.post(
        f"{platform.url}/endpoints/iris/invocations",
        content="5.1,3.5,1.4,0.2",
        headers={**bearer, "Content-Type": "text/csv"},
    )
    assert invoked.status_code == 200


def test_a_token_that_may_do_more_than_invoke_is_refused(platform, database):
    for role in ("admin", "editor", "viewer"):
        token = platform.admin if role == "admin" else platform.token(f"sql-{role}", role)

        done = _install(database, platform.url, "--token", token)

        assert done.returncode == 1
        assert len(done.stderr.strip().splitlines()) == 1
        assert f"the token has the role {role!r}" in done.stderr
        assert "slipway token create NAME --role invoke" in done.stderr
    assert _stored_token(database) == platform.invoke


def test_an_unknown_token_or_none_is_refused_by_a_server_that_requires_one(platform, database):
    unknown = _install(database, platform.url, "--token", "slw_not-a-token")
    assert unknown.returncode == 1
    assert f"the slipway server at {platform.url} refuses the token" in unknown.stderr

    none = _install(database, platform.url)
    assert none.returncode == 1
    assert f"the slipway server at {platform.url} requires a token" in none.stderr
    assert _stored_token(database) == platform.invoke


def test_installing_again_replaces_the_token(platform, fresh_postgres_database):
    dsn = fresh_postgres_database.replace("postgresql+psycopg://", "postgresql://")
    old, new = platform.token("rotate-old", "invoke"), platform.token("rotate-new", "invoke")
    assert _install(dsn, platform.url, "--token", old).returncode == 0

    done = _install(dsn, platform.url, "--token", "-", stdin=new + "\n")
    assert done.returncode == 0, done.stderr
    RemoteTokens(HttpClient(platform.url, platform.admin)).revoke_token("rotate-old")

    assert _stored_token(dsn) == new
    with psycopg.connect(dsn) as owner:
        found = owner.execute(f"SELECT slipway.invoke_endpoint('iris', NULL, {SETOSA})::int")
        assert found.fetchone() == (0,)


def test_installing_over_an_old_install_removes_its_database_settings(
    platform, fresh_postgres_database
):
    dsn = fresh_postgres_database.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as owner:
        database = sql.Identifier(owner.execute("SELECT current_database()").fetchone()[0])
        # Where an install before the credential table kept the server and the token.
        for name, value in (("token", platform.admin), ("server_url", platform.url)):
            owner.execute(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    database, sql.Identifier("slipway", name), sql.Literal(value)
                )
            )

    done = _install(dsn, platform.url, "--token", platform.invoke)

    assert done.returncode == 0, done.stderr
    with psycopg.connect(dsn) as conn:
        settings = _database_settings(conn)
        assert "slipway.token" not in settings and platform.admin not in settings
        assert "slipway.server_url" not in settings
        assert conn.execute("SELECT current_setting('slipway.token', true)").fetchone() == (None,)
