"""`slipway sql "STATEMENT"` and `slipway sql install-postgres --dsn ...`.

A statement (``-`` reads it from standard input) may declare model functions in
Athena's form; it runs in DuckDB and prints a table, CSV or JSON lines.
"""

from __future__ import annotations

import sys
from enum import StrEnum

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from slipway.sql.defaults import DEFAULT_BATCH_SIZE, DEFAULT_TIMEOUT

_TABLE_ROWS = 1000  # beyond this a table is no way to read a result: CSV is


class _StatementFirst(TyperGroup):
    """``slipway sql STATEMENT`` runs the ``query`` command: a statement is no command name."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["query", *args]
        return super().parse_args(ctx, args)


sql_app = typer.Typer(
    cls=_StatementFirst,
    help='Models from SQL: slipway sql "USING EXTERNAL FUNCTION ... SELECT ...".',
    no_args_is_help=True,
)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@sql_app.command("query")
def query_command(
    statement: str = typer.Argument(..., help="The statement; '-' reads it from stdin."),
    output: Format = typer.Option(Format.TABLE, "--format", help="table, csv or json (lines)."),
    batch_size: int = typer.Option(
        DEFAULT_BATCH_SIZE, "--batch-size", help="Rows per request to an endpoint."
    ),
    timeout: float = typer.Option(
        DEFAULT_TIMEOUT, "--timeout", help="Seconds an endpoint may take per request."
    ),
) -> None:
    """Run a statement in DuckDB; USING EXTERNAL FUNCTION declares model functions."""
    from slipway.sql.athena import query

    text = sys.stdin.read() if statement == "-" else statement
    table = query(text, batch_size=batch_size, timeout=timeout)
    if output is Format.CSV:
        import pyarrow.csv

        pyarrow.csv.write_csv(table, sys.stdout.buffer)
    elif output is Format.JSON:
        import orjson

        for row in table.to_pylist():
            sys.stdout.buffer.write(orjson.dumps(row, default=str) + b"\n")
    else:
        _print_table(table)


def _print_table(table) -> None:
    shown = Table(*table.column_names)
    for row in table.slice(0, _TABLE_ROWS).to_pylist():
        shown.add_row(*("NULL" if value is None else str(value) for value in row.values()))
    console = Console(soft_wrap=True)
    console.print(shown)
    if table.num_rows > _TABLE_ROWS:
        console.print(f"... {table.num_rows - _TABLE_ROWS} more rows; use --format csv for all")


# One line per paragraph: Typer keeps the line breaks of every paragraph but the first.
_INSTALL_HELP = (
    "Create the slipway schema's PL/Python functions that call endpoints.\n\n"
    "The server URL and the invoke token are stored where only the installing role can "
    "read them; the functions use them on behalf of the roles granted with --grant, who "
    "never see the token. Installing again replaces the stored token: to rotate it, "
    "install with a new one, then revoke the old one."
)


@sql_app.command("install-postgres", help=_INSTALL_HELP)
def install_postgres_command(
    dsn: str = typer.Option(..., "--dsn", help="PostgreSQL connection string (a superuser)."),
    server_url: str | None = typer.Option(
        None, "--server-url", help="slipway server as the database reaches it (default: settings)."
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        help="An invoke token for the functions to call the server with ('-' reads it from "
        "stdin); other roles are refused. An admin creates one: "
        "slipway token create NAME --role invoke.",
    ),
    grant: list[str] = typer.Option(
        [],
        "--grant",
        help="A role that may call the functions (repeat for more); by default only the installer.",
    ),
    timeout: float = typer.Option(
        DEFAULT_TIMEOUT, "--timeout", help="Seconds an endpoint may take per request."
    ),
) -> None:
    from slipway.sql.postgres import install_postgres

    if token == "-":
        token = sys.stdin.readline().strip()
    for name in install_postgres(dsn, server_url, token, timeout, grant):
        typer.echo(f"installed {name}")
    for role in grant:
        typer.echo(f"granted to {role}")
