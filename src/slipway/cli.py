"""The `slipway` command: one Typer app that mounts each capability's commands.

Errors slipway raises on purpose print as one line and exit 1; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

# Typer carries its own copy of click; its exceptions are the ones raised here.
from typer._click import exceptions as click_errors

from slipway.errors import SlipwayError

app = typer.Typer(
    name="slipway",
    help="A self-hosted machine-learning platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The metadata database.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for the server.", no_args_is_help=True)
audit_app = typer.Typer(help="The server's audit log (admins).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
err = Console(stderr=True)


def _mount_capabilities() -> None:
    from slipway.automl.cli import automl_app
    from slipway.experiments.cli import components_app, experiments_app, search, trials_app
    from slipway.jobs.cli import jobs_app
    from slipway.monitor.cli import monitor_app
    from slipway.operator.cli import operator_app
    from slipway.registry.cli import models_app
    from slipway.serving.cli import endpoints_app
    from slipway.sql.cli import sql_app
    from slipway.transform.cli import transform_app
    from slipway.tuning.cli import tuning_app

    app.add_typer(experiments_app, name="experiments")
    app.add_typer(trials_app, name="trials")
    app.add_typer(components_app, name="components")
    app.command("search")(search)
    app.add_typer(models_app, name="models")
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(tuning_app, name="tuning")
    app.add_typer(automl_app, name="automl")
    app.add_typer(endpoints_app, name="endpoints")
    app.add_typer(monitor_app, name="monitor")
    app.add_typer(sql_app, name="sql")
    app.add_typer(transform_app, name="transform")
    app.add_typer(operator_app, name="operator")


@app.command()
def server(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8600, help="Port to listen on."),
    database_url: str | None = typer.Option(None, help="Metadata store URL (SQLite/PostgreSQL)."),
    artifact_uri: str | None = typer.Option(None, help="Artifact store root (folder or s3://)."),
    workers: int = typer.Option(1, help="Worker processes."),
    allowed_hosts: list[str] | None = typer.Option(
        None,
        "--allowed-hosts",
        help="Host name clients use to reach the server (repeat for more; '*.example.com' "
        "for subdomains). Default: loopback names, plus this machine's names when bound "
        "beyond loopback.",
    ),
    trusted_proxies: list[str] | None = typer.Option(
        None,
        "--trusted-proxies",
        help="Address of a reverse proxy whose X-Forwarded-For/-Proto headers are believed.",
    ),
    insecure_no_auth: bool = typer.Option(
        False,
        "--insecure-no-auth",
        help="Listen beyond loopback although no token exists: anyone who reaches the "
        "server can run code on it.",
    ),
) -> None:
    """Run the slipway server (REST API) in the foreground."""
    from slipway.server.run import serve

    serve(
        host, port, database_url, artifact_uri, workers,
        allowed_hosts=[h for v in allowed_hosts or [] for h in v.split(",") if h.strip()],
        trusted_proxies=trusted_proxies, insecure_no_auth=insecure_no_auth,
    )  # fmt: skip


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8600, help="Port to listen on."),
    seed_only: bool = typer.Option(False, help="Seed the demo data and exit."),
) -> None:
    """Seed a demo experiment (real scikit-learn runs), then start the server."""
    from slipway.demo import run_demo

    run_demo(host, port, seed_only)


@db_app.command("upgrade")
def db_upgrade(
    database_url: str | None = typer.Option(None, help="Metadata store URL (default: settings)."),
) -> None:
    """Migrate the metadata database to the newest schema."""
    from slipway.settings import get_settings
    from slipway.store import migrate
    from slipway.store.db import Database

    url = database_url or get_settings().resolved_database_url
    database = Database(url)
    before = migrate.current_revision(database.engine)
    database.upgrade()
    after = migrate.current_revision(database.engine)
    print(f"database at revision {after} (was {before or 'empty'})")


@token_app.command("create")
def token_create(
    name: str,
    role: str | None = typer.Option(
        None,
        help="viewer, editor, admin or invoke (default: admin for the first token, editor after).",
    ),
    expires: str | None = typer.Option(None, help="Lifetime such as 12h, 30d or 2w."),
    access_key: bool = typer.Option(
        False,
        "--access-key",
        help="Also make an AWS access key pair for boto3 and the SageMaker SDK; printed once.",
    ),
) -> None:
    """Create a token; it is printed once and only its hash is stored."""
    from slipway.auth.service import parse_duration
    from slipway.platform import tokens_backend

    tokens = tokens_backend()
    first = not tokens.required()
    lifetime = parse_duration(expires) if expires else None
    created = tokens.create_token(name, role, lifetime, access_key=access_key)
    if first:
        err.print(
            "slipway: this first token turned authentication on: from now on every request "
            "to the server needs a token (SLIPWAY_TOKEN for the SDK and CLI).",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    print(created.token)
    if created.access_key_id:
        print(f"aws_access_key_id = {created.access_key_id}")
        print(f"aws_secret_access_key = {created.secret_access_key}")


@token_app.command("list")
def token_list() -> None:
    """List tokens with their roles and expiry (never the tokens themselves)."""
    from slipway.platform import tokens_backend

    for token in tokens_backend().list_tokens():
        expires = f"{token.expires_at:%Y-%m-%dT%H:%M:%SZ}" if token.expires_at else "never"
        print(f"{token.name}\t{token.role.value}\t{token.created_at:%Y-%m-%dT%H:%M:%SZ}\t{expires}")


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    """Revoke a token: requests bearing it are refused from now on."""
    from slipway.platform import tokens_backend

    tokens_backend().revoke_token(name)
    print(f"token {name!r} revoked")


@audit_app.command("list")
def audit_list(
    actor: str | None = typer.Option(None, help="Only this token's requests."),
    max_results: int = typer.Option(50, min=1, max=1000, help="How many, newest first."),
) -> None:
    """The newest state-changing requests to the server: who, what, when, from where."""
    from slipway.platform import audit_backend

    page = audit_backend().list_audit_events(actor=actor, max_results=max_results)
    for e in page.items:
        print(
            f"{e.at:%Y-%m-%dT%H:%M:%SZ}\t{e.actor}\t{e.role or '-'}\t{e.method} {e.path}"
            f"\t{e.status}\t{e.client or '-'}"
        )


def _fail(message: str, code: int) -> None:
    err.print(f"slipway: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)


def _given(error: click_errors.UsageError) -> str:
    """The value a bad option was given, when its message does not say it already."""
    param = getattr(error, "param", None)
    if not isinstance(error, click_errors.BadParameter) or param is None:
        return ""
    args = sys.argv[1:]
    for option in getattr(param, "opts", ()):
        for i, arg in enumerate(args):
            value = None
            if arg == option and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(option + "="):
                value = arg.split("=", 1)[1]
            if value is not None and repr(value) not in error.format_message():
                return f" (got {value!r})"
    return ""


def main() -> None:
    _mount_capabilities()
    try:
        # Outside standalone mode, a command's typer.Exit(code) comes back as the result.
        code = app(standalone_mode=False)
    except SlipwayError as error:
        _fail(error.message, 1)
    except click_errors.UsageError as error:
        # Usage errors as one line too, with the command's --help as the next step.
        where = error.ctx.command_path if error.ctx else "slipway"
        _fail(f"{error.format_message()}{_given(error)} (see `{where} --help`)", error.exit_code)
    except typer.Abort:
        _fail("aborted", 130)
    if isinstance(code, int) and code:
        sys.exit(code)
