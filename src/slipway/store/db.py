"""The metadata database: engine set-up for SQLite and PostgreSQL, transactions, migrations.

SQLite runs in WAL mode with a busy timeout so several processes can write to one file.
Write transactions on SQLite start with ``BEGIN IMMEDIATE``: a transaction that reads
first and writes later cannot wait for the lock (SQLite would answer "database is locked"
at once to avoid a deadlock), so it takes the write lock up front and waits its turn.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from slipway.errors import ValidationError

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_BUSY_TIMEOUT_MS = 60_000
TRANSACTION_MEMO = "slipway_transaction_memo"


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always read back time-zone aware.

    SQLite keeps no zone, so every value is normalised to UTC on the way in and marked
    UTC on the way out; PostgreSQL stores it as timestamptz.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def normalise_url(url: str) -> str:
    """Accept the URLs users write (``postgresql://``) and pick our drivers."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("sqlite:", "postgresql+psycopg:")):
        return url
    raise ValidationError(
        f"database URL {url!r} is not supported; use sqlite:///path/to/file.db "
        "or postgresql://user@host:port/dbname"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # The driver opens no transactions: Database sends BEGIN (IMMEDIATE for writes).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        try:
            cursor.execute("SELECT sqrt(4.0)")
        except sqlite3.OperationalError:
            # Some SQLite builds lack math functions; metric summaries need sqrt.
            dbapi_connection.create_function("sqrt", 1, math.sqrt, deterministic=True)
        cursor.close()


@functools.cache
def _upsert_statement(dialect: str, table: sa.Table, keys: tuple[str, ...]) -> sa.Insert:
    insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
    values = [c.name for c in table.columns if c.name not in keys]
    return insert.on_conflict_do_update(
        index_elements=list(keys), set_={name: insert.excluded[name] for name in values}
    )


def upsert(conn: Connection, table: sa.Table, keys: tuple[str, ...], rows: list[dict]) -> None:
    """Insert rows, replacing those whose key exists: one statement for both dialects."""
    if rows:
        conn.execute(_upsert_statement(conn.dialect.name, table, keys), rows)


def fetch_rows(conn: Connection, statement: sa.Select) -> list[tuple[Any, ...]]:
    """A query's rows as the driver returns them: plain tuples, no SQLAlchemy rows.

    For reads of very many rows (a long metric for a chart), where building one row
    object per row costs more than the query. No type conversion happens, so select
    columns the driver returns as they are (numbers, text).
    """
    compiled = statement.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    if compiled.positiontup is not None:  # SQLite's ? placeholders
        bound: Any = [params[name] for name in compiled.positiontup]
    else:  # psycopg's %(name)s placeholders
        bound = params
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled), bound)
        return cursor.fetchall()
    finally:
        cursor.close()


def create_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def transaction_memo(conn: Connection) -> dict[Any, Any] | None:
    """A dict that lives as long as the connection's transaction (None outside Database's).

    For what cannot change within one transaction unless it changes it itself (the id of
    a name, which a delete must forget): a write of several calls looks each up once.
    """
    return conn.info.get(TRANSACTION_MEMO)


class Database:
    """One metadata database: its engine and the two kinds of transaction."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = create_engine(self.url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # SQLite has one writer at a time. Threads of this process queue on a mutex, which
        # wakes the next one at once, instead of SQLite's busy handler, which sleeps and
        # polls; other processes still wait through the busy timeout.
        self._write_lock = threading.Lock() if self.is_sqlite else contextlib.nullcontext()
        self._local = threading.local()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction; inside a write of the same thread, that write (it sees its rows)."""
        joined = getattr(self._local, "write", None)
        if joined is not None:
            yield joined
            return
        with self._transaction("BEGIN") as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; a write inside a write of the same thread joins the outer one.

        Joining lets a caller make several service calls one transaction (a training job's
        row, trial and trial component are created in one), and an error anywhere rolls
        all of them back.
        """
        joined = getattr(self._local, "write", None)
        if joined is not None:
            yield joined
            return
        committed: list[Callable[[], None]] = []
        with self._write_lock, self._transaction("BEGIN IMMEDIATE") as conn:
            self._local.write = conn
            self._local.committed = committed
            try:
                yield conn
            finally:
                self._local.write = None
        for callback in committed:
            callback()

    @contextmanager
    def _transaction(self, sqlite_begin: str) -> Iterator[Connection]:
        """A connection in a transaction, committed at the end unless an error rolls it back.

        On SQLite the driver opens no transaction of its own (see ``_configure_sqlite``): we
        send the BEGIN. Sending it here rather than from an engine event keeps the engine
        free of event listeners, and SQLAlchemy then skips its event dispatch on every
        statement, a quarter of a short transaction's cost.
        """
        with self.engine.connect() as conn, conn.begin():
            if self.is_sqlite:
                conn.exec_driver_sql(sqlite_begin)
            conn.info[TRANSACTION_MEMO] = {}
            try:
                yield conn
            finally:
                del conn.info[TRANSACTION_MEMO]

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the current write commits (at once outside a write).

        For what a process may remember only if it is stored: a rolled-back row is not.
        """
        if getattr(self._local, "write", None) is None:
            callback()
        else:
            self._local.committed.append(callback)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from slipway.store import migrate

        migrate.upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


def open_database(url: str, *, upgrade: bool = True) -> Database:
    """The process's one Database per URL, migrated to the newest schema on first use."""
    url = normalise_url(url)
    with _databases_lock:
        database = _databases.get(url)
        if database is None:
            database = Database(url)
            if upgrade:
                database.upgrade()
            _databases[url] = database
        return database


def close_databases() -> None:
    with _databases_lock:
        for database in _databases.values():
            database.dispose()
        _databases.clear()
