"""Session fixtures that start real services: a PostgreSQL server for the whole run."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from helpers import free_port, fresh_database, run_slipway_server

if TYPE_CHECKING:
    from slipway.experiments.client import RemoteExperiments
    from slipway.experiments.service import ExperimentsService

# initdb and the server refuse to run as root, so a root test run hands them to this user.
SERVER_USER = "postgres"
SUPERUSER = "slipway"
DATABASE = "slipway_test"
# Trust needs no password: the server listens on 127.0.0.1 only and lives as long as the session.
INITDB_OPTIONS = ["-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]


def _pg_bin_dir() -> Path:
    on_path = shutil.which("initdb")
    # Debian keeps the server binaries out of PATH, under one folder per major version.
    candidates = [str(Path(on_path).parent)] if on_path else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    pytest.fail(
        "slipway tests: PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
        "/usr/lib/postgresql/*/bin. Run `make test`, which installs them, or install the "
        "`postgresql` package yourself.",
        pytrace=False,
    )


def _as_server_user(*paths: Path) -> list[str]:
    """Return the command prefix that runs PostgreSQL tools as a non-root user owning `paths`."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", SERVER_USER], check=True
        )
    for path in paths:
        shutil.chown(path, user=SERVER_USER, group=SERVER_USER)
    return ["runuser", "-u", SERVER_USER, "--"]


def _run(command: list[str], what: str, log_file: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        server_log = log_file.read_text() if log_file and log_file.exists() else ""
        pytest.fail(
            f"slipway tests: {what} failed (exit {result.returncode}): {' '.join(command)}\n"
            f"{result.stdout}{result.stderr}{server_log}",
            pytrace=False,
        )


def _configure(data_dir: Path, port: int, socket_dir: Path) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        # A private socket folder keeps clear of a system server's /var/run/postgresql.
        "unix_socket_directories": f"'{socket_dir}'",
        "max_connections": "200",
        # Test data is thrown away, so durability only costs time.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Start a PostgreSQL server for the test session and yield a URL of an empty database."""
    bin_dir = _pg_bin_dir()
    # Not pytest's tmp_path: its /tmp/pytest-of-root is closed to the server user.
    folder = Path(tempfile.mkdtemp(prefix="slipway-pg-"))
    data_dir, socket_dir, log_file = folder / "data", folder / "sock", folder / "server.log"
    socket_dir.mkdir()
    as_server_user = _as_server_user(folder, socket_dir)
    pg_ctl = [*as_server_user, str(bin_dir / "pg_ctl"), "-D", str(data_dir)]
    try:
        _run(
            [*as_server_user, str(bin_dir / "initdb"), "-D", str(data_dir), *INITDB_OPTIONS],
            "initdb",
        )
        port = free_port()
        _configure(data_dir, port, socket_dir)
        _run([*pg_ctl, "-w", "-l", str(log_file), "start"], "starting PostgreSQL", log_file)
        try:
            admin_dsn = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
            with psycopg.connect(admin_dsn, autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {DATABASE}")
            yield f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
        finally:
            _run([*pg_ctl, "-m", "fast", "stop"], "stopping PostgreSQL")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def fresh_postgres_database(postgres_url: str) -> Iterator[str]:
    """Yield the URL of a new, empty database on the session's server, dropped afterwards."""
    with fresh_database(postgres_url) as url:
        yield url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests reach the server through these fixtures, so the `postgres` marker follows them.
    for item in items:
        if {"postgres_url", "fresh_postgres_database"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


# --- the two SDK modes: embedded (SQLite, local folder) and remote (a real server) ----------

_SETTINGS_VARIABLES = (
    "SLIPWAY_HOME",
    "SLIPWAY_DATABASE_URL",
    "SLIPWAY_ARTIFACT_URI",
    "SLIPWAY_SERVER_URL",
    "SLIPWAY_TOKEN",
    "SLIPWAY_TRIAL_COMPONENT_NAME",
)


@pytest.fixture(scope="session")
def slipway_server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start one slipway server on 127.0.0.1 over a PostgreSQL database; yield its URL.

    One server serves the whole session: tests keep apart by unique names (`unique`).
    """
    home = tmp_path_factory.mktemp("server-home")
    with (
        fresh_database(postgres_url) as database_url,
        run_slipway_server(database_url, home) as (url, _),
    ):
        yield url


@pytest.fixture(scope="session")
def embedded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SLIPWAY_HOME of embedded mode, shared by the session as the server's database is."""
    return tmp_path_factory.mktemp("embedded-home")


def _reload_sdk() -> None:
    from slipway.platform import reset
    from slipway.settings import reload_settings

    reload_settings()
    reset()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An embedded SLIPWAY_HOME of the test's own; a stopped job gets 2 s before SIGKILL."""
    from slipway.platform import reset
    from slipway.settings import get_settings

    for name in [n for n in os.environ if n.startswith("SLIPWAY_")]:
        monkeypatch.delenv(name)
    folder = tmp_path / "home"
    monkeypatch.setenv("SLIPWAY_HOME", str(folder))
    monkeypatch.setenv("SLIPWAY_JOB_STOP_GRACE_SECONDS", "2")
    _reload_sdk()
    yield folder
    reset()
    get_settings.cache_clear()


@pytest.fixture(params=["embedded", pytest.param("remote", marks=pytest.mark.postgres)])
def backend(
    request: pytest.FixtureRequest, embedded_home: Path
) -> Iterator[ExperimentsService | RemoteExperiments]:
    """Run the test's SDK calls embedded, then again against a real server.

    Yields what the SDK talks to in that mode (the ExperimentsService or its HTTP
    client), whose ``open_artifact(uri)`` reads back a stored artifact.
    """
    from slipway.platform import experiments_backend

    server_url = request.getfixturevalue("slipway_server") if request.param == "remote" else None
    with pytest.MonkeyPatch.context() as env:
        for name in _SETTINGS_VARIABLES:
            env.delenv(name, raising=False)
        env.setenv("SLIPWAY_HOME", str(embedded_home))
        if server_url:
            env.setenv("SLIPWAY_SERVER_URL", server_url)
        _reload_sdk()
        yield experiments_backend()
    _reload_sdk()


@pytest.fixture
def unique() -> str:
    """A short random suffix that keeps one test's names apart from every other test's."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's) for one Studio test module, driven by Playwright.

    Per module, not per session: Playwright's sync API keeps an event loop running in
    this thread while it is open, and tests after it that call asyncio.run must not see it.
    """
    from studio_support import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
