"""The `slipway monitor` commands: baseline, schedule, executions, report.

Each command turns options into backend calls (in-process or a server, as the settings
say) and prints what comes back; ``--json`` prints the wire shape for programs.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import webbrowser
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from slipway.errors import ValidationError
from slipway.monitor.models import (
    CreateMonitoringSchedule,
    StartExecution,
    SuggestBaseline,
)
from slipway.monitor.sdk import monitor_backend

monitor_app = typer.Typer(
    help="Model Monitor: baselines, schedules, executions and reports.", no_args_is_help=True
)
schedule_app = typer.Typer(help="Monitoring schedules.", no_args_is_help=True)
executions_app = typer.Typer(help="Monitoring executions.", no_args_is_help=True)
monitor_app.add_typer(schedule_app, name="schedule")
monitor_app.add_typer(executions_app, name="executions")
_out = Console(width=10_000, soft_wrap=True)
_JSON = typer.Option(False, "--json", help="Print one JSON document instead of a table.")


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


@monitor_app.command("baseline")
def baseline(
    dataset: str = typer.Option(..., "--dataset", help="URI of the baseline data set."),
    output: str = typer.Option(..., "--output", help="URI of the folder to write to."),
    dataset_format: str = typer.Option(
        "csv", "--format", help="csv, csv-noheader, json (lines) or parquet."
    ),
    as_json: bool = _JSON,
) -> None:
    """Profile a data set: write statistics.json and suggested constraints.json."""
    result = monitor_backend().suggest_baseline(
        SuggestBaseline(baseline_dataset=dataset, dataset_format=dataset_format, output_uri=output)
    )
    if as_json:
        _print_json(result.to_wire())
        return
    typer.echo(f"profiled {result.item_count} rows, {result.feature_count} features")
    typer.echo(f"statistics:  {result.statistics_uri}")
    typer.echo(f"constraints: {result.constraints_uri}")


# --- schedules ------------------------------------------------------------------------------


@schedule_app.command("create")
def create_schedule(
    name: str,
    endpoint: str = typer.Option(None, "--endpoint", help="The endpoint to monitor."),
    output: str = typer.Option(None, "--output", help="URI the results go under."),
    statistics: str | None = typer.Option(None, "--statistics", help="Baseline statistics.json."),
    constraints: str | None = typer.Option(None, "--constraints", help="Baseline constraints."),
    cron: str = typer.Option("cron(0 * ? * * *)", "--cron", help="Schedule expression."),
    capture: str | None = typer.Option(None, "--capture-uri", help="Data capture destination."),
    preprocessor: str | None = typer.Option(None, "--preprocessor", help="Preprocessor script."),
    postprocessor: str | None = typer.Option(None, "--postprocessor", help="Post-analytics."),
    config: Path | None = typer.Option(
        None, "--config", help="A CreateMonitoringSchedule JSON file (alerts, retraining...)."
    ),
    as_json: bool = _JSON,
) -> None:
    """Create a monitoring schedule."""
    body: dict[str, Any] = json.loads(config.read_text()) if config else {}
    given = {
        "MonitoringScheduleName": name,
        "EndpointName": endpoint,
        "OutputUri": output,
        "StatisticsUri": statistics,
        "ConstraintsUri": constraints,
        "ScheduleExpression": cron if cron != "cron(0 * ? * * *)" or not body else None,
        "DataCaptureUri": capture,
        "RecordPreprocessorScript": preprocessor,
        "PostAnalyticsProcessorScript": postprocessor,
    }
    body.update({k: v for k, v in given.items() if v is not None})
    schedule = monitor_backend().create_monitoring_schedule(
        CreateMonitoringSchedule.model_validate(body)
    )
    if as_json:
        _print_json(schedule.to_wire())
    else:
        typer.echo(f"monitoring schedule {name!r} created ({schedule.monitoring_schedule_status})")


@schedule_app.command("list")
def list_schedules(
    endpoint: str | None = typer.Option(None, "--endpoint", help="Only this endpoint's."),
    as_json: bool = _JSON,
) -> None:
    """List monitoring schedules, newest first."""
    page = monitor_backend().list_monitoring_schedules(endpoint_name=endpoint, max_results=1000)
    if as_json:
        _print_json([s.to_wire() for s in page.items])
        return
    table = Table("Name", "Endpoint", "Status", "Schedule", "Last execution")
    for s in page.items:
        last = s.last_monitoring_execution_summary
        table.add_row(
            s.monitoring_schedule_name,
            s.endpoint_name,
            s.monitoring_schedule_status,
            s.monitoring_schedule_config.schedule_expression,
            f"{last.monitoring_execution_status}" if last else "",
        )
    _out.print(table)


@schedule_app.command("describe")
def describe_schedule(name: str) -> None:
    """Show a schedule as JSON."""
    _print_json(monitor_backend().describe_monitoring_schedule(name).to_wire())


@schedule_app.command("stop")
def stop_schedule(name: str) -> None:
    """Stop a schedule: no more executions until it is started again."""
    found = monitor_backend().stop_monitoring_schedule(name)
    typer.echo(f"monitoring schedule {name!r} {found.monitoring_schedule_status}")


@schedule_app.command("start")
def start_schedule(name: str) -> None:
    """Start a stopped schedule again."""
    found = monitor_backend().start_monitoring_schedule(name)
    typer.echo(f"monitoring schedule {name!r} {found.monitoring_schedule_status}")


@schedule_app.command("delete")
def delete_schedule(name: str) -> None:
    """Delete a schedule; its executions and files stay."""
    monitor_backend().delete_monitoring_schedule(name)
    typer.echo(f"monitoring schedule {name!r} deleted")


# --- executions -----------------------------------------------------------------------------


@executions_app.command("list")
def list_executions(
    schedule: str | None = typer.Option(None, "--schedule", help="Only this schedule's."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Only this endpoint's."),
    as_json: bool = _JSON,
) -> None:
    """List executions, newest first."""
    page = monitor_backend().list_monitoring_executions(
        schedule_name=schedule, endpoint_name=endpoint, max_results=1000
    )
    if as_json:
        _print_json([e.to_wire() for e in page.items])
        return
    table = Table("Name", "Status", "Window start", "Window end", "Violations", "Message")
    for e in page.items:
        table.add_row(
            e.monitoring_execution_name,
            e.monitoring_execution_status,
            f"{e.data_analysis_start_time:%Y-%m-%d %H:%M}",
            f"{e.data_analysis_end_time:%Y-%m-%d %H:%M}",
            "" if e.violation_count is None else str(e.violation_count),
            e.failure_reason or e.exit_message or "",
        )
    _out.print(table)


@executions_app.command("run")
def run_execution(
    schedule: str,
    start: dt.datetime = typer.Option(..., "--start", help="Window start (ISO-8601, UTC)."),
    end: dt.datetime = typer.Option(..., "--end", help="Window end (ISO-8601, UTC)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the result."),
    as_json: bool = _JSON,
) -> None:
    """Run one execution of a schedule now, over a window given by hand."""
    backend = monitor_backend()
    found = backend.start_monitoring_execution(
        schedule, StartExecution(data_analysis_start_time=start, data_analysis_end_time=end)
    )
    if wait:
        found = backend.wait_for_execution(found.monitoring_execution_name)
    if as_json:
        _print_json(found.to_wire())
        return
    typer.echo(f"{found.monitoring_execution_name}: {found.monitoring_execution_status}")
    typer.echo(found.failure_reason or found.exit_message or "")


@executions_app.command("describe")
def describe_execution(name: str) -> None:
    """Show an execution as JSON."""
    _print_json(monitor_backend().describe_monitoring_execution(name).to_wire())


# --- report ---------------------------------------------------------------------------------


@monitor_app.command("report")
def report(
    execution: str,
    output: Path | None = typer.Option(None, "--output", help="Write the HTML here."),
    open_it: bool = typer.Option(False, "--open", help="Open it in the web browser."),
) -> None:
    """Save (and open) the HTML report of an execution, with its scripts beside it."""
    html = monitor_backend().read_execution_file(execution, "report.html")
    if output is None and not open_it:
        raise ValidationError("pass --output FILE, --open, or both")
    target = output or Path(tempfile.mkdtemp(prefix="slipway-report-")) / f"{execution}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(html)
    from slipway.monitor.report import scripts  # numpy and plotly: only for this command

    for file_name, path in scripts().items():
        shutil.copyfile(path, target.parent / file_name)
    typer.echo(str(target))
    if open_it:
        webbrowser.open(target.resolve().as_uri())
