"""PostgreSQL functions that call slipway endpoints, installed in a ``slipway`` schema.

``install_postgres(dsn, server_url=..., token=..., grant=[...])`` creates, with
PL/Python (``plpython3u``):

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

The credential, and who may use it:

- The functions call the server with an **invoke token**, which may call endpoints and
  nothing else: the database then holds no power over the platform beyond scoring.
  The installer asks the server what the token given is and refuses any other role; it
  refuses to install without a token for a server that requires one. It does not create
  the token itself, which would take an admin's token wherever the database is set up:
  an admin creates the invoke token and hands it over, and whoever installs holds
  nothing more powerful than the functions will::

      slipway token create warehouse-sql --role invoke --expires 90d    # an admin
      slipway sql install-postgres --dsn ... --server-url ... --token -  # token on stdin

- The server's URL and the token live in ``slipway.credential``, a table that only its
  owner, the installing role, may read (and superusers, whom nothing stops). The
  scoring functions run as their caller and hand each request to
  ``slipway.post_invocation``, a ``SECURITY DEFINER`` function of the owner with a fixed
  ``search_path``, which reads the table and sends the request: a caller gets answers,
  never the token. The URL sits beside the token, not in a setting, because a session
  may change settings and would send the token to a server of its choice. The one
  setting left, ``slipway.timeout_seconds``, is set on the database and a session may
  raise it.
- Only the owner may execute the functions until roles are granted: ``grant`` (the
  CLI's ``--grant ROLE``, repeated) gives each role USAGE on the schema and EXECUTE on
  the functions. Grants add up over installs; take one back with
  ``REVOKE USAGE ON SCHEMA slipway FROM role``.
- Installing again replaces the stored URL and token: to rotate, create a new invoke
  token, install with it, then revoke the old one. It also removes the database
  settings ``slipway.token`` and ``slipway.server_url`` of installs made before the
  credential table, which every role could read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from slipway.errors import SlipwayError
from slipway.sql.errors import SqlError

if TYPE_CHECKING:
    import psycopg

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
    # PostgreSQL's advice for SECURITY DEFINER: a search_path no other role can write to.
    "post_invocation": (
        "endpoint_name text, body bytea, content_type text, timeout_seconds float8, "
        "OUT server_url text, OUT status int, OUT reply_type text, OUT reply bytea, "
        "OUT problem text",
        "record",
        "VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp",
        "endpoint_name, body, content_type, timeout_seconds",
        "Used by the scoring functions: sends a request with the stored credential, "
        "which it never returns.",
    ),
}
_ALL_FUNCTIONS = ", ".join(f"slipway.{name}" for name in _FUNCTIONS)

_CREDENTIAL = """
CREATE TABLE IF NOT EXISTS slipway.credential (
    server_url text NOT NULL,
    token text,
    one_row boolean PRIMARY KEY DEFAULT true CHECK (one_row)
)"""
# Every grant on the table but its owner's goes, PUBLIC's (grantee 0) too: whatever was
# granted since, say by GRANT ... ON ALL TABLES IN SCHEMA slipway.
_CLOSE_CREDENTIAL = """
DO $do$ DECLARE grantee text; BEGIN
FOR grantee IN
    SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END
    FROM pg_class c, aclexplode(c.relacl) a
    WHERE c.oid = 'slipway.credential'::regclass AND a.grantee <> c.relowner
LOOP
    EXECUTE format('REVOKE ALL ON slipway.credential FROM %s', grantee);
END LOOP; END $do$"""
_STORE_CREDENTIAL = """
INSERT INTO slipway.credential (server_url, token) VALUES (%s, %s)
ON CONFLICT (one_row) DO UPDATE SET server_url = excluded.server_url, token = excluded.token"""
# Where installs before the credential table kept the server and the token.
_OLD_SETTINGS = ("token", "server_url")


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
    """The SQL that installs the functions and the credential table, open to the owner only.

    The type and casts are created only where missing.
    """
    found = [
        "CREATE EXTENSION IF NOT EXISTS plpython3u",
        "CREATE SCHEMA IF NOT EXISTS slipway",
        "DO $do$ BEGIN IF to_regtype('slipway.model_value') IS NULL THEN\n"
        f"{_VALUE_TYPE}\nEND IF; END $do$",
        _CREDENTIAL,
        "COMMENT ON TABLE slipway.credential IS 'The slipway server and the invoke token that "
        "the slipway functions call it with; only its owner may read it.'",
        _CLOSE_CREDENTIAL,
    ]
    for name, (params, returns, options, arguments, comment) in _FUNCTIONS.items():
        found.append(
            f"CREATE OR REPLACE FUNCTION slipway.{name}({params}) RETURNS {returns} "
            f"LANGUAGE plpython3u {options} AS $body$\n{_body(name, arguments)}$body$"
        )
        found.append(f"COMMENT ON FUNCTION slipway.{name} IS '{comment}'")
    # Functions are open to PUBLIC when created, and stayed so in earlier installs.
    found.append(f"REVOKE ALL ON FUNCTION {_ALL_FUNCTIONS} FROM PUBLIC")
    return found


def install_postgres(
    dsn: str,
    server_url: str | None = None,
    token: str | None = None,
    timeout: float = 60.0,
    grant: Sequence[str] = (),
) -> list[str]:
    """Install the ``slipway`` schema's functions in the database at ``dsn``.

    ``server_url`` (default: the settings' server) is where the functions call
    endpoints, with ``token``, which must be an invoke token (the server is asked);
    both are stored for the functions alone. ``timeout`` (seconds per request) is set
    on the database. The roles in ``grant`` may call the functions. Needs a superuser
    (PL/Python is an untrusted language) and PL/Python on the server (Debian:
    ``apt-get install postgresql-plpython3-<major>``). Returns the names of the
    functions installed.
    """
    import psycopg

    from slipway.settings import get_settings

    url = server_url or get_settings().server_url
    if not url:
        raise SqlError(
            "no slipway server to call: pass --server-url (or set SLIPWAY_SERVER_URL) to "
            "the URL that the PostgreSQL server can reach, e.g. http://127.0.0.1:8600"
        )
    if timeout <= 0:
        raise SqlError(f"timeout {timeout:g} is not valid: give seconds above 0")
    token = token or None
    _check_token(url, token)
    try:
        with psycopg.connect(_libpq(dsn)) as conn:
            for statement in statements():
                conn.execute(statement)
            conn.execute(_STORE_CREDENTIAL, (url, token))
            for role in grant:
                _grant(conn, role)
            _set_database_settings(conn, timeout)
    except psycopg.Error as error:
        raise _install_error(error) from None
    return [f"slipway.{name}" for name in _FUNCTIONS]


def _grant(conn: psycopg.Connection, role: str) -> None:
    from psycopg import sql

    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA slipway TO {}").format(sql.Identifier(role)))
    conn.execute(
        sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
            sql.SQL(_ALL_FUNCTIONS), sql.Identifier(role)
        )
    )


def _set_database_settings(conn: psycopg.Connection, timeout: float) -> None:
    from psycopg import sql

    name = conn.execute("SELECT current_database()").fetchone()[0]
    database = sql.Identifier(name)
    conn.execute(
        sql.SQL("ALTER DATABASE {} SET slipway.timeout_seconds = {}").format(
            database, sql.Literal(f"{timeout:g}")
        )
    )
    for setting in _OLD_SETTINGS:
        conn.execute(
            sql.SQL("ALTER DATABASE {} RESET {}").format(
                database, sql.Identifier("slipway", setting)
            )
        )


def _check_token(url: str, token: str | None) -> None:
    """Refuse a token that may do more than call endpoints, and no token where one is needed."""
    from slipway.auth.client import token_role
    from slipway.auth.roles import Role
    from slipway.errors import RemoteError, Unauthorized

    how_to = "an admin creates one with `slipway token create NAME --role invoke`"
    try:
        role = token_role(url, token)
    except Unauthorized as error:
        if token is None:
            raise SqlError(
                f"the slipway server at {url} requires a token: pass an invoke token with "
                f"--token ({how_to})"
            ) from None
        raise SqlError(f"the slipway server at {url} refuses the token: {error.message}") from None
    except RemoteError as error:
        raise SqlError(error.message) from None
    except SlipwayError as error:
        answer = " ".join(error.message.split())[:200]  # an HTML page, say: one short line
        raise SqlError(
            f"the server at {url} answered unexpectedly when asked about the token "
            f"({answer}); is --server-url a slipway server?"
        ) from None
    if token is not None and role is not Role.INVOKE:
        raise SqlError(
            f"the token has the role {role.value!r} on the slipway server at {url}; the SQL "
            "functions must hold an invoke token, which may call endpoints and nothing "
            f"else: {how_to}, and pass it with --token"
        )


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
    if message.startswith("role ") and message.endswith("does not exist"):
        return SqlError(f"cannot grant the slipway functions: {message}; check --grant")
    return SqlError(f"cannot install the slipway functions: {message}")
