"""The jobs commands: `slipway jobs list|show|logs|stop`, over jobs of every kind.

A job of any kind (training, tuning, transform...) has the same status fields, history
and logs, so one set of commands shows them all; `--kind` picks one kind, or tells two
jobs of the same name apart.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable
from typing import Any

import typer
from rich.console import Console, RenderableType
from rich.table import Table

from slipway.errors import ValidationError
from slipway.experiments.models import WireModel
from slipway.jobs.models import Job, JobKind, JobStatus
from slipway.platform import jobs_backend

jobs_app = typer.Typer(help="Jobs of every kind: training, tuning, ...", no_args_is_help=True)

_PIPE_WIDTH = 10_000
_FOLLOW_POLL = 0.2
_KIND_ALIASES = {
    "training": JobKind.TRAINING,
    "tuning": JobKind.TUNING,
    "transform": JobKind.TRANSFORM,
    "monitoring": JobKind.MONITORING,
    "automl": JobKind.AUTOML,
}
_KIND = typer.Option(
    None, "--kind", help="training, tuning, transform, monitoring or automl (or TrainingJob...)."
)
_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


def parse_kind(value: str | None) -> JobKind | None:
    if value is None:
        return None
    if value.lower() in _KIND_ALIASES:
        return _KIND_ALIASES[value.lower()]
    for kind in JobKind:
        if kind.value.lower() == value.lower():
            return kind
    raise ValidationError(f"job kind {value!r} is not valid; use one of {', '.join(_KIND_ALIASES)}")


def parse_status(value: str | None) -> JobStatus | None:
    if value is None:
        return None
    for status in JobStatus:
        if status.value.lower() == value.lower():
            return status
    raise ValidationError(
        f"job status {value!r} is not valid; use one of {', '.join(s.value for s in JobStatus)}"
    )


@jobs_app.command("list")
def list_jobs(
    kind: str | None = _KIND,
    status: str | None = typer.Option(None, "--status", help="InProgress, Completed, ..."),
    max_items: int = typer.Option(100, "--max", help="Most jobs to show."),
    as_json: bool = _JSON,
) -> None:
    """List jobs, newest first."""
    if max_items < 1:
        raise ValidationError(f"--max {max_items} is out of range; use 1 or more")
    backend = jobs_backend()
    found: list[Job] = []
    token = None
    while len(found) < max_items:
        page = backend.list_jobs(
            kind=parse_kind(kind),
            status=parse_status(status),
            max_results=min(max_items, 1000),
            next_token=token,
        )
        found += page.items
        token = page.next_token
        if not token:
            break
    found = found[:max_items]
    if as_json:
        print_json(found)
        return
    table = Table("Name", "Kind", "Status", "Secondary status", "Parent", "Created", "Duration")
    for job in found:
        table.add_row(
            job.job_name,
            job.job_kind.value,
            job.status.value,
            job.secondary_status.value,
            job.parent_job_name or "",
            when(job.creation_time),
            duration(job.start_time, job.end_time),
        )
    render(table)


@jobs_app.command("show")
def show_job(name: str, kind: str | None = _KIND, as_json: bool = _JSON) -> None:
    """Show a job: status, history, failure reason."""
    job = jobs_backend().find_job(name, parse_kind(kind))
    if as_json:
        print_json(job)
        return
    rows = [
        ("Name", job.job_name),
        ("Kind", job.job_kind.value),
        ("Status", job.status.value),
        ("Secondary status", job.secondary_status.value),
        ("Parent", job.parent_job_name or ""),
        ("Created", when(job.creation_time)),
        ("Started", when(job.start_time)),
        ("Ended", when(job.end_time)),
        ("Duration", duration(job.start_time, job.end_time)),
        ("Failure reason", job.failure_reason or ""),
    ]
    history = Table("Status", "Start", "End", "Message", title="History", title_justify="left")
    for step in job.secondary_status_transitions:
        history.add_row(
            step.status.value, when(step.start_time), when(step.end_time), step.status_message
        )
    render(fields(rows), history)


@jobs_app.command("logs")
def job_logs(
    name: str,
    kind: str | None = _KIND,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until it ends."),
) -> None:
    """Print a job's log lines; with -f, follow them until the job ends."""
    backend = jobs_backend()
    job = backend.find_job(name, parse_kind(kind))
    after = 0
    while True:
        lines = backend.read_logs(job.job_kind, name, after, 1000)
        for line in lines:
            typer.echo(line.message)
        if lines:
            after = lines[-1].line_number
            continue
        if not follow or job.status.is_final:
            return
        time.sleep(_FOLLOW_POLL)
        # Read the status before the next lines, so no line printed before the end is lost.
        job = backend.find_job(name, job.job_kind)


@jobs_app.command("stop")
def stop_job(name: str, kind: str | None = _KIND) -> None:
    """Ask a running job to stop (its processes get SIGTERM, then SIGKILL)."""
    backend = jobs_backend()
    job = backend.find_job(name, parse_kind(kind))
    stopped = backend.request_stop(job.job_kind, name)
    typer.echo(f"{stopped.job_kind.value} {name!r} is {stopped.status.value}")


# --- rendering, shared with the other job commands -------------------------------------


def when(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value is not None else ""


def duration(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start is None:
        return ""
    seconds = ((end or dt.datetime.now(dt.UTC)) - start).total_seconds()
    return f"{seconds:.1f} s"


def fields(rows: Iterable[tuple[str, str]]) -> str:
    """Label-value lines of one entity, leaving out what it does not have."""
    present = [(label, value) for label, value in rows if value]
    width = max(len(label) for label, _ in present)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in present)


def _wire(value: Any) -> Any:
    if isinstance(value, WireModel):
        return value.to_wire()
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire(item) for item in value]
    return value


def print_json(value: Any) -> None:
    typer.echo(json.dumps(_wire(value), indent=2))


def console() -> Console:
    # User data is printed as is: no markup, emoji codes or number colouring in names.
    options: dict[str, Any] = {"markup": False, "emoji": False, "highlight": False}
    found = Console(**options)
    return found if found.is_terminal else Console(width=_PIPE_WIDTH, **options)


def render(*renderables: RenderableType) -> None:
    out = console()
    for renderable in renderables:
        out.print(renderable)
