"""Session fixtures that start real services: a PostgreSQL server for the whole run."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from helpers import free_port, fresh_database

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
