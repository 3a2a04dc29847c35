"""The tuning commands: `slipway tuning list|show|stop`; `show --watch` follows it live."""

from __future__ import annotations

import time

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from slipway.jobs.cli import console, duration, fields, parse_status, print_json, render, when
from slipway.platform import tuning_backend
from slipway.tuning.models import TrainingJobSummary, TuningJob

tuning_app = typer.Typer(help="Hyperparameter tuning jobs.", no_args_is_help=True)

_WATCH_SECONDS = 1.0
_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


@tuning_app.command("list")
def list_tuning_jobs(
    status: str | None = typer.Option(None, "--status", help="InProgress, Completed, ..."),
    max_items: int = typer.Option(100, "--max", help="Most tuning jobs to show (up to 1000)."),
    as_json: bool = _JSON,
) -> None:
    """List tuning jobs, newest first, with their progress and best objective."""
    page = tuning_backend().list_hyper_parameter_tuning_jobs(
        status=parse_status(status), max_results=max_items
    )
    if as_json:
        print_json(page.items)
        return
    table = Table("Name", "Status", "Strategy", "Jobs", "Best objective", "Created", "Duration")
    for job in page.items:
        table.add_row(
            job.hyper_parameter_tuning_job_name,
            job.hyper_parameter_tuning_job_status.value,
            job.hyper_parameter_tuning_job_config.strategy.value,
            _jobs_done(job),
            _best(job),
            when(job.creation_time),
            duration(job.creation_time, job.hyper_parameter_tuning_end_time),
        )
    render(table)


@tuning_app.command("show")
def show_tuning_job(
    name: str,
    watch: bool = typer.Option(False, "--watch", help="Follow the job live until it ends."),
    as_json: bool = _JSON,
) -> None:
    """Show a tuning job and its training jobs; --watch keeps the view live until it ends."""
    backend = tuning_backend()
    if watch:
        _watch(name)
        return
    job = backend.describe_hyper_parameter_tuning_job(name)
    summaries = backend.list_training_jobs_for_hyper_parameter_tuning_job(name)
    if as_json:
        print_json({"TuningJob": job, "TrainingJobSummaries": summaries})
        return
    render(_overview(job), _children(summaries))


@tuning_app.command("stop")
def stop_tuning_job(name: str) -> None:
    """Stop a tuning job: every running training job of it is stopped."""
    job = tuning_backend().stop_hyper_parameter_tuning_job(name)
    typer.echo(f"tuning job {name!r} is {job.hyper_parameter_tuning_job_status.value}")


def _watch(name: str) -> None:
    backend = tuning_backend()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[state]}"),
    )
    job = backend.describe_hyper_parameter_tuning_job(name)
    task = progress.add_task(name, total=job.hyper_parameter_tuning_job_config.max_jobs, state="")
    with Live(console=console(), refresh_per_second=4, transient=False) as live:
        while True:
            summaries = backend.list_training_jobs_for_hyper_parameter_tuning_job(name)
            counters = job.training_job_status_counters
            progress.update(
                task,
                completed=len(summaries) - counters.in_progress,
                state=f"{counters.in_progress} running · {_best(job) or 'no objective yet'}",
            )
            live.update(Group(progress, _children(summaries)))
            if job.hyper_parameter_tuning_job_status.is_final:
                break
            time.sleep(_WATCH_SECONDS)
            job = backend.describe_hyper_parameter_tuning_job(name)
    render(Text(f"tuning job {name!r} {job.hyper_parameter_tuning_job_status.value}: {_best(job)}"))


def _jobs_done(job: TuningJob) -> str:
    c = job.training_job_status_counters
    done = c.completed + c.stopped + c.non_retryable_error
    return f"{done}/{job.hyper_parameter_tuning_job_config.max_jobs} ({c.in_progress} running)"


def _best(job: TuningJob) -> str:
    best = job.best_training_job
    metric = best.final_hyper_parameter_tuning_job_objective_metric if best else None
    if best is None or metric is None:
        return ""
    return f"{metric.metric_name}={metric.value:.6g} ({best.training_job_name})"


def _overview(job: TuningJob) -> RenderableType:
    config = job.hyper_parameter_tuning_job_config
    objective = config.hyper_parameter_tuning_job_objective
    c = job.training_job_status_counters
    o = job.objective_status_counters
    parents = ""
    if job.warm_start_config:
        parents = ", ".join(
            p.hyper_parameter_tuning_job_name
            for p in job.warm_start_config.parent_hyper_parameter_tuning_jobs
        )
    return fields(
        [
            ("Name", job.hyper_parameter_tuning_job_name),
            ("Status", job.hyper_parameter_tuning_job_status.value),
            ("Failure reason", job.failure_reason or ""),
            ("Strategy", config.strategy.value),
            ("Objective", f"{objective.type.value} {objective.metric_name}"),
            ("Early stopping", config.training_job_early_stopping_type.value),
            ("Jobs", _jobs_done(job)),
            (
                "Training jobs",
                f"{c.completed} completed, {c.stopped} stopped, "
                f"{c.non_retryable_error} failed, {c.in_progress} running",
            ),
            ("Objectives", f"{o.succeeded} succeeded, {o.pending} pending, {o.failed} failed"),
            ("Best", _best(job)),
            ("Warm start from", parents),
            ("Created", when(job.creation_time)),
            ("Ended", when(job.hyper_parameter_tuning_end_time)),
        ]
    )


def _children(summaries: list[TrainingJobSummary]) -> Table:
    table = Table(
        "Training job",
        "Status",
        "Objective",
        "Hyperparameters",
        "Duration",
        title="Training jobs",
        title_justify="left",
    )
    for s in summaries:
        metric = s.final_hyper_parameter_tuning_job_objective_metric
        status = s.training_job_status.value + (" (early stop)" if s.early_stopped else "")
        table.add_row(
            s.training_job_name,
            status,
            f"{metric.value:.6g}" if metric else "",
            ", ".join(f"{k}={v}" for k, v in sorted(s.tuned_hyper_parameters.items())),
            duration(s.training_start_time, s.training_end_time),
        )
    return table
