"""The experiment-tracking commands: `slipway experiments|trials|components|search`.

Each command turns its options into backend calls (in-process services or a server, as
the settings say) and renders what comes back: Rich tables for people, one JSON document
of the entities' wire shapes with ``--json`` for programs. The rules live in the service.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pydantic
import typer
from rich.console import RenderableType
from rich.table import Table

from slipway._cli_output import collect, number_text, print_json, show, time_text
from slipway.errors import ValidationError, describe_problems
from slipway.experiments.expressions import Filter, Resource, SearchExpression, parse_filter
from slipway.experiments.models import (
    Experiment,
    MetricSummary,
    Trial,
    TrialComponent,
)
from slipway.platform import experiments_backend

experiments_app = typer.Typer(help="Experiments: groups of trials.", no_args_is_help=True)
trials_app = typer.Typer(help="Trials: attempts within an experiment.", no_args_is_help=True)
components_app = typer.Typer(
    help="Trial components: the steps of a trial and what they logged.", no_args_is_help=True
)

_JSON = typer.Option(False, "--json", help="Print one JSON document instead of a table.")
_MAX = typer.Option(100, "--max", help="Most items to show; pages are fetched as needed.")
_SORT_BY = typer.Option(None, "--sort-by", help="Name or CreationTime (default).")
_SORT_ORDER = typer.Option(None, "--sort-order", help="Ascending or Descending (default).")


# --- experiments ----------------------------------------------------------------------


@experiments_app.command("list")
def list_experiments(
    sort_by: str | None = _SORT_BY,
    sort_order: str | None = _SORT_ORDER,
    max_items: int = _MAX,
    as_json: bool = _JSON,
) -> None:
    """List experiments, newest first."""
    backend = experiments_backend()
    found = collect(
        lambda size, token: backend.list_experiments(
            sort_by=sort_by, sort_order=sort_order, max_results=size, next_token=token
        ),
        max_items,
    )
    if as_json:
        print_json(found)
    else:
        show(_experiments_table(found))


@experiments_app.command("show")
def show_experiment(name: str, as_json: bool = _JSON) -> None:
    """Show an experiment and its trials."""
    backend = experiments_backend()
    experiment = backend.get_experiment(name)
    trials = collect(
        lambda size, token: backend.list_trials(
            experiment_name=name, max_results=size, next_token=token
        )
    )
    if as_json:
        print_json({"Experiment": experiment, "Trials": trials})
        return
    show(
        _fields(
            [
                ("Name", experiment.experiment_name),
                ("Display name", experiment.display_name),
                ("Description", experiment.description or ""),
                ("Created", time_text(experiment.creation_time)),
                ("Last modified", time_text(experiment.last_modified_time)),
                ("Tags", _tags(experiment)),
            ]
        ),
        _trials_table(trials),
    )


@experiments_app.command("delete")
def delete_experiment(
    name: str,
    force: bool = typer.Option(
        False, "--force", help="Also delete its trials and their trial components."
    ),
) -> None:
    """Delete an experiment; it must have no trials unless --force is given."""
    experiments_backend().delete_experiment(name, cascade=force)
    typer.echo(f"experiment {name!r} deleted")


# --- trials ---------------------------------------------------------------------------


@trials_app.command("list")
def list_trials(
    experiment: str = typer.Option(..., "--experiment", help="The experiment's name."),
    max_items: int = _MAX,
    as_json: bool = _JSON,
) -> None:
    """List the trials of an experiment, newest first."""
    backend = experiments_backend()
    found = collect(
        lambda size, token: backend.list_trials(
            experiment_name=experiment, max_results=size, next_token=token
        ),
        max_items,
    )
    if as_json:
        print_json(found)
    else:
        show(_trials_table(found))


# --- trial components -----------------------------------------------------------------


@components_app.command("list")
def list_components(
    experiment: str | None = typer.Option(None, "--experiment", help="Only this experiment's."),
    trial: str | None = typer.Option(None, "--trial", help="Only this trial's."),
    max_items: int = _MAX,
    as_json: bool = _JSON,
) -> None:
    """List trial components, newest first, with their metrics in short."""
    backend = experiments_backend()
    found = collect(
        lambda size, token: backend.list_trial_components(
            experiment_name=experiment, trial_name=trial, max_results=size, next_token=token
        ),
        max_items,
    )
    if as_json:
        print_json(found)
    else:
        show(_components_table(found))


@components_app.command("show")
def show_component(name: str, as_json: bool = _JSON) -> None:
    """Show a trial component: parameters, artifacts, metrics and parents."""
    component = experiments_backend().get_trial_component(name)
    if as_json:
        print_json(component)
        return
    show(*_component_view(component))


# --- search ---------------------------------------------------------------------------


def search(
    resource: str = typer.Argument(..., help="Experiment, Trial or TrialComponent."),
    filters: list[str] | None = typer.Option(
        None,
        "--filter",
        help="'Name Operator Value', e.g. 'Metrics.accuracy.Max GreaterThan 0.9'; "
        "several are ANDed.",
    ),
    expression: str | None = typer.Option(
        None, "--expression", help="A SearchExpression as JSON, or @FILE holding it."
    ),
    sort_by: str | None = typer.Option(
        None, "--sort-by", help="A property, e.g. CreationTime (default) or Metrics.loss.Min."
    ),
    sort_order: str | None = _SORT_ORDER,
    max_items: int = _MAX,
    as_json: bool = _JSON,
) -> None:
    """Search experiments, trials or trial components with the reference expressions."""
    kind = Resource.parse(resource)
    query = _search_expression(filters or [], expression)
    backend = experiments_backend()
    found = collect(
        lambda size, token: backend.search(
            kind,
            search_expression=query,
            sort_by=sort_by,
            sort_order=sort_order,
            max_results=size,
            next_token=token,
        ),
        max_items,
    )
    if as_json:
        print_json(found)
        return
    tables = {
        Resource.EXPERIMENT: _experiments_table,
        Resource.TRIAL: _trials_table,
        Resource.TRIAL_COMPONENT: _components_table,
    }
    show(tables[kind](found))


def _search_expression(filters: Sequence[str], expression: str | None) -> SearchExpression | None:
    """The --filter flags ANDed, together with the --expression if there is one."""
    given = _parse_expression(expression) if expression is not None else None
    if not filters:
        return given
    parsed = [_parse_filter(text) for text in filters]
    try:
        return SearchExpression(filters=parsed, sub_expressions=[given] if given else [])
    except pydantic.ValidationError as error:
        raise ValidationError(f"--filter: {describe_problems(error.errors())}") from None


def _parse_filter(text: str) -> Filter:
    try:
        return parse_filter(text)
    except ValidationError as error:
        raise ValidationError(f"--{error.message}") from None


def _parse_expression(argument: str) -> SearchExpression:
    text = argument
    if argument.startswith("@"):
        try:
            text = Path(argument[1:]).read_text()
        except OSError as error:
            raise ValidationError(
                f"--expression {argument!r}: cannot read {argument[1:]!r} ({error.strerror})"
            ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"--expression {_short(argument)!r} is not valid JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno})"
        ) from None
    try:
        return SearchExpression.model_validate(document)
    except pydantic.ValidationError as error:
        problems = describe_problems(error.errors())
        raise ValidationError(
            f"--expression {_short(argument)!r} is not a SearchExpression: {problems}"
        ) from None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- fetching and printing ------------------------------------------------------------


def _tags(entity: Experiment | Trial | TrialComponent) -> str:
    return ", ".join(f"{tag.key}={tag.value}" for tag in entity.tags)


def _table(title: str | None, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    return table


def _fields(rows: Iterable[tuple[str, str]]) -> str:
    """Label-value lines of one entity, leaving out what it does not have."""
    present = [(label, value) for label, value in rows if value]
    width = max(len(label) for label, _ in present)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in present)


def _experiments_table(experiments: Sequence[Experiment]) -> Table:
    table = _table(None, "Name", "Display name", "Created", "Description")
    for e in experiments:
        table.add_row(e.experiment_name, e.display_name, time_text(e.creation_time), e.description)
    return table


def _trials_table(trials: Sequence[Trial]) -> Table:
    table = _table("Trials", "Name", "Display name", "Experiment", "Created")
    for t in trials:
        table.add_row(t.trial_name, t.display_name, t.experiment_name, time_text(t.creation_time))
    return table


def _metrics_in_short(metrics: Sequence[MetricSummary]) -> str:
    """One line per metric: its last value, and its range when it has several points."""
    lines = []
    for m in metrics:
        spread = f" [{number_text(m.min)}..{number_text(m.max)}]" if m.count > 1 else ""
        lines.append(f"{m.metric_name}={number_text(m.last)}{spread}")
    return "\n".join(lines)


def _components_table(components: Sequence[TrialComponent]) -> Table:
    table = _table(None, "Name", "Display name", "Status", "Created", "Metrics")
    for c in components:
        table.add_row(
            c.trial_component_name,
            c.display_name,
            c.status.primary_status.value,
            time_text(c.creation_time),
            _metrics_in_short(c.metrics),
        )
    return table


def _component_view(c: TrialComponent) -> list[RenderableType]:
    status = c.status.primary_status.value
    if c.status.message:
        status += f": {c.status.message}"
    views: list[RenderableType] = [
        _fields(
            [
                ("Name", c.trial_component_name),
                ("Display name", c.display_name),
                ("Status", status),
                ("Started", time_text(c.start_time)),
                ("Ended", time_text(c.end_time)),
                ("Created", time_text(c.creation_time)),
                ("Source", c.source.source_arn if c.source else ""),
                ("Tags", _tags(c)),
            ]
        )
    ]
    parameters = _table("Parameters", "Name", "Value")
    for name, parameter in sorted(c.parameters.items()):
        value = parameter.value
        parameters.add_row(name, number_text(value) if isinstance(value, float) else value)
    artifacts = _table("Artifacts", "Direction", "Name", "Value", "Media type")
    for direction, found in (("input", c.input_artifacts), ("output", c.output_artifacts)):
        for name, artifact in sorted(found.items()):
            artifacts.add_row(direction, name, artifact.value, artifact.media_type)
    metrics = _table("Metrics", "Name", "Count", "Min", "Max", "Avg", "StdDev", "Last")
    for m in c.metrics:
        stats = (m.min, m.max, m.avg, m.std_dev, m.last)
        metrics.add_row(m.metric_name, str(m.count), *(number_text(s) for s in stats))
    parents = _table("Parents", "Trial", "Experiment")
    for parent in c.parents:
        parents.add_row(parent.trial_name, parent.experiment_name)
    views += [table for table in (parameters, artifacts, metrics, parents) if table.row_count]
    return views
