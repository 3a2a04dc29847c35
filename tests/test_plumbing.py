"""The test fixtures themselves: a real PostgreSQL server, isolated databases, server processes."""

from __future__ import annotations

import sys

import httpx
import pytest
from sqlalchemy import create_engine, text

from helpers import free_port, fresh_database, run_server_process

USER_TABLES = (
    "select count(*) from information_schema.tables "
    "where table_schema not in ('pg_catalog', 'information_schema')"
)


def _sql(url: str, statement: str) -> object:
    """Run one statement in its own connection and return its single value, if it has one."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement))
            return result.scalar_one() if result.returns_rows else None
    finally:
        engine.dispose()


def test_postgres_server_answers_through_sqlalchemy_and_psycopg(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")

    assert str(_sql(postgres_url, "select version()")).startswith("PostgreSQL ")


def test_fresh_postgres_databases_are_distinct_empty_and_dropped_afterwards(
    postgres_url: str, fresh_postgres_database: str
) -> None:
    with fresh_database(postgres_url) as other:
        tables_at_start = [_sql(url, USER_TABLES) for url in (fresh_postgres_database, other)]
        _sql(fresh_postgres_database, "create table marker (id int)")

        assert len({postgres_url, fresh_postgres_database, other}) == 3
        assert tables_at_start == [0, 0]
        assert _sql(other, USER_TABLES) == 0
    other_name = other.rsplit("/", 1)[1]

    assert (
        _sql(postgres_url, f"select count(*) from pg_database where datname = '{other_name}'") == 0
    )


def test_run_server_process_waits_for_health_and_stops_the_server() -> None:
    port = free_port()
    args = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]

    with run_server_process(args, env={}, port=port, health_path="/") as process:
        assert process.poll() is None
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200

    assert process.returncode is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/")


def test_run_server_process_reports_the_log_of_a_server_that_dies() -> None:
    port = free_port()
    args = [sys.executable, "-c", "print('cannot start: bad settings'); raise SystemExit(3)"]

    with (
        pytest.raises(RuntimeError, match="cannot start: bad settings"),
        run_server_process(args, env={}, port=port, timeout=5),
    ):
        pass
