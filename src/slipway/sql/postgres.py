"""PostgreSQL functions that call slipway endpoints, installed in a ``slipway`` schema.

``install_postgres(dsn, server_url=...)`` creates, with PL/Python (``plpython3u``):

- ``slipway.invoke_endpoint(endpoint_name text, max_rows_per_batch int,
  VARIADIC model_input slipway.model_value[]) RETURNS text``: the reference's Aurora
  call, one row per call, its values sent as one CSV line and the answer returned as
  text (cast it as needed). PL/Python cannot take the reference's ``VARIADIC "any"``
  (only C functions can), so ``model_value`` is a text-like type that numbers, strings
  and booleans cast to implicitly: calls look as they do on Aurora.
- ``slipway.invoke_endpoint_batched(endpoint_name text, max_rows_per_batch int,
  query text, key_columns text[] DEFAULT '{}') RETURNS SETOF record``: every row of
  ``query`` scored in requests of ``max_rows_per_batch`` rows; yields the key columns
  and the prediction, typed by the column definition list::

      SELECT * FROM slipway.invoke_endpoint_batched('iris', 1000,
          'SELECT id, a, b, c, d FROM flowers', '{id}') AS t(id int, species int);

The functions read the server from ``slipway.server_url`` (with ``slipway.token`` and
``slipway.timeout_seconds``), which the installer sets on the database.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from slipway.errors import SlipwayError
from slipway.sql.errors import SqlError

_RUNTIME = Path(__file__).with_name("_plpython.py")
_CAST_BY_TEXT = ("smallint", "integer", "bigint", "real", "double precision", "numeric", "bpchar")

_VALUE_TYPE = """
CREATE TYPE slipway.model_value;
CREATE FUNCTION slipway.model_value_in(cstring) RETURNS slipway.model_value
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textin';
CREATE FUNCTION slipway.model_value_out(slipway.model_value) RETURNS cstring
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textout';
CREATE FUNCTION slipway.model_value_recv(internal) RETURNS slipway.model_value
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textrecv';
CREATE FUNCTION slipway.model_value_send(slipway.model_value) RETURNS bytea
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textsend';
CREATE TYPE slipway.model_value (
    INPUT = slipway.model_value_in, OUTPUT = slipway.model_value_out,
    RECEIVE = slipway.model_value_recv, SEND = slipway.model_value_send, LIKE = text
);
COMMENT ON TYPE slipway.model_value IS
    'A value sent to a model as text: numbers, strings and booleans (1/0) cast to it.';
CREATE CAST (text AS slipway.model_value) WITHOUT FUNCTION AS IMPLICIT;
CREATE CAST (varchar AS slipway.model_value) WITHOUT FUNCTION AS IMPLICIT;
CREATE FUNCTION slipway.model_value(boolean) RETURNS slipway.model_value
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT (CASE WHEN $1 THEN '1' ELSE '0' END)::text::slipway.model_value $$;
CREATE CAST (boolean AS slipway.model_value)
    WITH FUNCTION slipway.model_value(boolean) AS IMPLICIT;
""" + "".join(
    f"CREATE CAST ({source} AS slipway.model_value) WITH INOUT AS IMPLICIT;\n"
    for source in _CAST_BY_TEXT
)

_FUNCTIONS = {
    "invoke_endpoint": (
        "endpoint_name text, max_rows_per_batch int, VARIADIC model_input slipway.model_value[]",
        "text",
        "VOLATILE",
        "endpoint_name, max_rows_per_batch, model_input",
        "Score one row with a slipway endpoint (its values as one CSV line); the answer as text.",
    ),
    "invoke_endpoint_batched": (
        "endpoint_name text, max_rows_per_batch int, query text, key_columns text[] DEFAULT '{}'",
        "SETOF record",
        "VOLATILE ROWS 1000",
        "endpoint_name, max_rows_per_batch, query, key_columns",
        "Score every row of query with a slipway endpoint, max_rows_per_batch rows per request; "
        "yields the key columns and the prediction (declare them: AS t(id int, p float8)).",
    ),
}


def _body(function: str, arguments: str) -> str:
    """A PL/Python body that compiles the runtime once per session and calls ``function``."""
    source = _RUNTIME.read_text()
    key = "slipway-" + hashlib.sha256(source.encode()).hexdigest()[:16]
    return (
        f"runtime = GD.get({key!r})\n"
        "if runtime is None:\n"
        "    runtime = {}\n"
        f"    exec(compile({source!r}, 'slipway_plpython', 'exec'), runtime)\n"
        f"    GD[{key!r}] = runtime\n"
        f"return runtime[{function!r}](plpy, {arguments})\n"
    )


def statements() -> list[str]:
    """The SQL that installs the functions (the type and casts only where missing)."""
    found = [
        "CREATE EXTENSION IF NOT EXISTS plpython3u",
        "CREATE SCHEMA IF NOT EXISTS slipway",
        "DO $do$ BEGIN IF to_regtype('slipway.model_value') IS NULL THEN\n"
        f"{_VALUE_TYPE}\nEND IF; END $do$",
    ]
    for name, (params, returns, volatility, arguments, comment) in _FUNCTIONS.items():
        found.append(
            f"CREATE OR REPLACE FUNCTION slipway.{name}({params}) RETURNS {returns} "
            f"LANGUAGE plpython3u {volatility} AS $body$\n{_body(name, arguments)}$body$"
        )
        found.append(f"COMMENT ON FUNCTION slipway.{name} IS '{comment}'")
    return found


def install_postgres(
    dsn: str,
    server_url: str | None = None,
    token: str | None = None,
    timeout: float = 60.0,
) -> list[str]:
    """Install the ``slipway`` schema's functions in the database at ``dsn``.

    ``server_url`` (default: the settings' server) is where the functions call
    endpoints; it, ``token`` and ``timeout`` (seconds per request) are set on the
    database. Needs a superuser (PL/Python is an untrusted language) and PL/Python on
    the server (Debian: ``apt-get install postgresql-plpython3-<major>``). Returns the
    names of the functions installed.
    """
    import psycopg
    from psycopg import sql

    from slipway.settings import get_settings

    url = server_url or get_settings().server_url
    if not url:
        raise SqlError(
            "no slipway server to call: pass --server-url (or set SLIPWAY_SERVER_URL) to "
            "the URL that the PostgreSQL server can reach, e.g. http://127.0.0.1:8600"
        )
    if timeout <= 0:
        raise SqlError(f"timeout {timeout:g} is not valid: give seconds above 0")
    settings = {"server_url": url, "timeout_seconds": f"{timeout:g}"}
    if token:
        settings["token"] = token
    try:
        with psycopg.connect(_libpq(dsn)) as conn:
            for statement in statements():
                conn.execute(statement)
            database = conn.execute("SELECT current_database()").fetchone()[0]
            for name, value in settings.items():
                conn.execute(
                    sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                        sql.Identifier(database),
                        sql.Identifier("slipway", name),
                        sql.Literal(value),
                    )
                )
    except psycopg.Error as error:
        raise _install_error(error) from None
    return [f"slipway.{name}" for name in _FUNCTIONS]


def _libpq(dsn: str) -> str:
    """A libpq DSN; SQLAlchemy URLs such as ``postgresql+psycopg://`` are accepted too."""
    scheme, sep, rest = dsn.partition("://")
    if sep and scheme.startswith("postgresql+"):
        return f"postgresql://{rest}"
    return dsn


def _install_error(error: Exception) -> SlipwayError:
    message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    if "plpython3u" in message and ("control file" in message or "not available" in message):
        return SqlError(
            f"PL/Python is not installed on the PostgreSQL server ({message}); install it "
            "on the server's host, e.g. `apt-get install postgresql-plpython3-15`, then retry"
        )
    if "permission denied" in message or "must be superuser" in message:
        return SqlError(
            f"installing the slipway functions needs a superuser ({message}); connect as one"
        )
    return SqlError(f"cannot install the slipway functions: {message}")
