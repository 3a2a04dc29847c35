"""The transform commands: `slipway transform create|list|show|stop`."""

from __future__ import annotations

import typer
from rich.table import Table

from slipway.jobs.cli import console, duration, fields, parse_status, print_json, render, when
from slipway.platform import transform_backend
from slipway.transform.models import TransformJob

transform_app = typer.Typer(help="Batch transform jobs.", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


@transform_app.command("create")
def create_transform_job(
    model: str = typer.Option(..., "--model", help="The model (slipway endpoints) to score with."),
    data: str = typer.Option(..., "--data", help="Input: one file, a folder or a prefix."),
    output_path: str | None = typer.Option(None, "--output-path", help="Where .out files go."),
    content_type: str | None = typer.Option(None, "--content-type", help="text/csv, ..."),
    split_type: str = typer.Option("Line", "--split-type", help="Line or None."),
    strategy: str = typer.Option("MultiRecord", "--strategy", help="MultiRecord/SingleRecord."),
    max_payload: int = typer.Option(6, "--max-payload", help="MB per request (0: no limit)."),
    accept: str | None = typer.Option(None, "--accept", help="Output type: text/csv, ..."),
    assemble_with: str = typer.Option("Line", "--assemble-with", help="Line or None."),
    input_filter: str | None = typer.Option(None, "--input-filter", help="JSONPath, e.g. $[1:]"),
    output_filter: str | None = typer.Option(None, "--output-filter", help="JSONPath."),
    join_source: str | None = typer.Option(None, "--join-source", help="Input or None."),
    workers: int | None = typer.Option(None, "--workers", help="Parallel workers (CPU count)."),
    name: str | None = typer.Option(None, "--name", help="Job name (default: generated)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow it with a progress bar."),
) -> None:
    """Score a dataset with a model: one `<file>.out` per input file."""
    from slipway.transform.sdk import Transformer

    transformer = Transformer(
        model, strategy=strategy, assemble_with=assemble_with, output_path=output_path,
        accept=accept, max_concurrent_transforms=workers, max_payload=max_payload,
    )  # fmt: skip
    job = transformer.transform(
        data, content_type=content_type, split_type=split_type, input_filter=input_filter,
        output_filter=output_filter, join_source=join_source, job_name=name, wait=wait,
        progress=wait,
    )  # fmt: skip
    render(_show(job))


@transform_app.command("list")
def list_transform_jobs(
    status: str | None = typer.Option(None, "--status", help="InProgress, Completed, ..."),
    max_items: int = typer.Option(100, "--max", help="Most jobs to show (up to 1000)."),
    as_json: bool = _JSON,
) -> None:
    """List transform jobs, newest first."""
    page = transform_backend().list_transform_jobs(
        status=parse_status(status), max_results=max_items
    )
    if as_json:
        print_json(page.items)
        return
    table = Table("Name", "Status", "Model", "Files", "Records", "Created", "Duration")
    for job in page.items:
        table.add_row(
            job.transform_job_name,
            job.transform_job_status.value,
            job.model_name,
            f"{job.progress.files_completed}/{job.progress.files_total}",
            str(job.progress.records_processed),
            when(job.creation_time),
            duration(job.transform_start_time, job.transform_end_time),
        )
    console().print(table)


@transform_app.command("show")
def show_transform_job(name: str, as_json: bool = _JSON) -> None:
    """Describe one transform job."""
    job = transform_backend().describe_transform_job(name)
    if as_json:
        print_json(job)
        return
    render(_show(job))


@transform_app.command("stop")
def stop_transform_job(name: str) -> None:
    """Ask a running transform job to stop; it ends Stopped after its current batches."""
    job = transform_backend().stop_transform_job(name)
    print(f"transform job {name!r} is {job.transform_job_status.value}")


def _show(job: TransformJob) -> str:
    rows = [
        ("Name", job.transform_job_name),
        ("Status", job.transform_job_status.value),
        ("Model", job.model_name),
        ("Input", job.transform_input.data_source.s3_data_source.s3_uri),
        ("Output", job.transform_output.s3_output_path or ""),
        ("Strategy", job.batch_strategy.value),
        ("Files", f"{job.progress.files_completed}/{job.progress.files_total}"),
        ("Records", str(job.progress.records_processed)),
        ("Trial component", job.trial_component_name),
        ("Duration", duration(job.transform_start_time, job.transform_end_time)),
    ]
    if job.failure_reason:
        rows.append(("Failure", job.failure_reason))
    return fields(rows)
