"""The AutoML commands: `slipway automl create|list|show|candidates|stop`, with a live
leaderboard while a job runs."""

from __future__ import annotations

import time

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from slipway.automl.models import AutoMLCandidate, AutoMLJob
from slipway.errors import SlipwayError
from slipway.jobs.cli import console, duration, print_json, render, when
from slipway.jobs.models import JobStatus
from slipway.platform import automl_backend

automl_app = typer.Typer(help="AutoML (Autopilot) jobs.", no_args_is_help=True)
_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _leaderboard(job: AutoMLJob, candidates: list[AutoMLCandidate]) -> Group:
    title = (
        f"{job.auto_ml_job_name}: {job.auto_ml_job_status} / {job.auto_ml_job_secondary_status}"
        f"  ({duration(job.creation_time, job.end_time)})"
    )
    resolved = job.resolved_attributes
    lines = [Text(title, style="bold")]
    if resolved is not None:
        lines.append(
            Text(
                f"{resolved.problem_type} ({resolved.explanation.get('ProblemType', '')}); "
                f"objective {getattr(resolved.auto_ml_job_objective, 'metric_name', '')}"
            )
        )
    table = Table("rank", "candidate", "algorithm", "status", "objective", "time")
    for rank, c in enumerate(candidates, 1):
        metric = c.final_auto_ml_job_objective_metric
        table.add_row(
            str(rank), c.candidate_name, str(c.candidate_properties.get("Algorithm", "")),
            str(c.candidate_status), f"{metric.value:.5g}" if metric else "",
            duration(c.creation_time, c.end_time),
        )  # fmt: skip
    if job.failure_reason:
        lines.append(Text(f"failure: {job.failure_reason}", style="red"))
    return Group(*lines, table)


def _follow(name: str) -> None:
    """Redraw the leaderboard until the job ends, then say what came of it."""
    backend = automl_backend()
    with Live(console=console(), refresh_per_second=2) as live:
        while True:
            job = backend.describe_auto_ml_job(name)
            live.update(_leaderboard(job, backend.list_candidates_for_auto_ml_job(name)))
            if job.auto_ml_job_status.is_final:
                break
            time.sleep(1.0)
    if job.auto_ml_job_status == JobStatus.FAILED:
        # The reason is on the leaderboard; the exit code tells scripts the job failed.
        raise SlipwayError(f"AutoML job {name!r} failed; see `slipway automl show {name}`")
    best = job.best_candidate
    metric = best.final_auto_ml_job_objective_metric if best else None
    if best is not None and metric is not None:
        render(Text(
            f"best candidate: {best.candidate_name} ({metric.metric_name} {metric.value:.5g}), "
            f"registered as model package {job.model_package_arn}"
        ))  # fmt: skip


@automl_app.command("create")
def create(
    name: str = typer.Argument(..., help="AutoML job name (up to 32 characters)."),
    data: str = typer.Option(..., "--data", help="CSV or parquet file (path or URI)."),
    target: str = typer.Option(..., "--target", help="The column to predict."),
    problem_type: str | None = typer.Option(None, help="BinaryClassification, ... (inferred)."),
    objective: str | None = typer.Option(None, help="Accuracy, F1, MSE, R2, ... (inferred)."),
    max_candidates: int | None = typer.Option(None, help="Most candidates to train."),
    total_seconds: int | None = typer.Option(None, help="Time budget of the whole job."),
    per_job_seconds: int | None = typer.Option(None, help="Time limit of one candidate."),
    definitions_only: bool = typer.Option(False, help="Only generate candidate definitions."),
    watch: bool = typer.Option(True, help="Show the live leaderboard until the job ends."),
) -> None:
    """Start an AutoML job on a table and follow it."""
    from slipway.automl.sdk import AutoML

    automl = AutoML(
        target_attribute_name=target, problem_type=problem_type, job_objective=objective,
        max_candidates=max_candidates, total_job_runtime_in_seconds=total_seconds,
        max_runtime_per_training_job_in_seconds=per_job_seconds,
        generate_candidate_definitions_only=definitions_only,
    )  # fmt: skip
    automl.fit(data, job_name=name, wait=False)
    if watch:
        _follow(name)
    else:
        typer.echo(name)


@automl_app.command("list")
def list_jobs(
    status: str | None = typer.Option(None, "--status"),
    max_items: int = typer.Option(100, "--max"),
    as_json: bool = _JSON,
) -> None:
    """List AutoML jobs, newest first."""
    page = automl_backend().list_auto_ml_jobs(status=status, max_results=max_items)
    if as_json:
        print_json(page.items)
        return
    table = Table("name", "status", "stage", "problem", "best", "created")
    for job in page.items:
        best = job.best_candidate
        metric = best.final_auto_ml_job_objective_metric if best else None
        resolved = job.resolved_attributes
        table.add_row(
            job.auto_ml_job_name,
            str(job.auto_ml_job_status),
            str(job.auto_ml_job_secondary_status),
            resolved.problem_type if resolved else "",
            f"{metric.metric_name} {metric.value:.5g}" if metric else "", when(job.creation_time),
        )  # fmt: skip
    render(table)


@automl_app.command("show")
def show(
    name: str,
    watch: bool = typer.Option(False, "--watch", help="Follow the job live."),
    as_json: bool = _JSON,
) -> None:
    """Describe an AutoML job: stages, inferred problem (and why), notebooks, best candidate."""
    if watch:
        _follow(name)
        return
    job = automl_backend().describe_auto_ml_job(name)
    if as_json:
        print_json(job)
        return
    out = console()
    out.print(
        _leaderboard(job, automl_backend().list_candidates_for_auto_ml_job(name, max_results=10))
    )
    for transition in job.secondary_status_transitions:
        out.print(f"  {transition.get('Status')}: {transition.get('StatusMessage') or ''}")
    for warning in job.warnings:
        out.print(f"  warning: {warning}", style="yellow")
    artifacts = job.auto_ml_job_artifacts
    if artifacts:
        out.print(f"data exploration notebook: {artifacts.data_exploration_notebook_location}")
        out.print(
            f"candidate definition notebook: {artifacts.candidate_definition_notebook_location}"
        )
    if job.model_package_arn:
        out.print(f"registered model package: {job.model_package_arn}")


@automl_app.command("candidates")
def candidates(
    name: str,
    sort_by: str = typer.Option("FinalObjectiveMetricValue", "--sort-by"),
    sort_order: str = typer.Option("Descending", "--sort-order"),
    max_items: int = typer.Option(100, "--max"),
    as_json: bool = _JSON,
) -> None:
    """The candidates of an AutoML job, best first."""
    backend = automl_backend()
    found = backend.list_candidates_for_auto_ml_job(
        name, sort_by=sort_by, sort_order=sort_order, max_results=max_items
    )
    if as_json:
        print_json(found)
        return
    render(_leaderboard(backend.describe_auto_ml_job(name), found))


@automl_app.command("stop")
def stop(name: str) -> None:
    """Stop an AutoML job and its running candidates."""
    job = automl_backend().stop_auto_ml_job(name)
    typer.echo(f"{name}: {job.auto_ml_job_status}")
