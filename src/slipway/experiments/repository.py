"""SQL for experiments, trials and trial components: rows in, entities out.

Functions take an open connection so the service decides where transactions begin and
end. Children (tags, parameters, artifacts, metric summaries, parents) are loaded for a
whole page of entities with one query each, never one query per entity.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from slipway.experiments import tables as t
from slipway.experiments.models import (
    Artifact,
    Experiment,
    MetricSummary,
    ParameterValue,
    Parent,
    PrimaryStatus,
    Source,
    Tag,
    Trial,
    TrialComponent,
    TrialComponentStatus,
)
from slipway.store.db import transaction_memo, upsert

_TAG_TABLES = {
    "experiment": t.experiment_tags,
    "trial": t.trial_tags,
    "trial_component": t.trial_component_tags,
}


def is_unique_violation(error: sa.exc.IntegrityError) -> bool:
    text = str(error.orig).lower()
    return "unique" in text or "duplicate key" in text


# --- ids ------------------------------------------------------------------------------


# Built once: building a statement costs more than running it on SQLite, and these run
# in almost every call.
_ID_BY_NAME = {
    table.name: sa.select(table.c.id).where(table.c.name == sa.bindparam("entity_name"))
    for table in (t.experiments, t.trials, t.trial_components)
}


def experiment_id(conn: Connection, name: str) -> int | None:
    return _id_by_name(conn, t.experiments, name)


def trial_id(conn: Connection, name: str) -> int | None:
    return _id_by_name(conn, t.trials, name)


def trial_component_id(conn: Connection, name: str) -> int | None:
    return _id_by_name(conn, t.trial_components, name)


def _id_by_name(conn: Connection, table: sa.Table, name: str) -> int | None:
    # A training job's start and end each look up the same names several times in one
    # transaction: ids found (or inserted) are remembered until it ends.
    memo = transaction_memo(conn)
    found = memo.get((table.name, name)) if memo is not None else None
    if found is None:
        found = conn.scalar(_ID_BY_NAME[table.name], {"entity_name": name})
        if found is not None and memo is not None:
            memo[(table.name, name)] = found
    return found


def _forget_ids(conn: Connection) -> None:
    """After a delete: names may now be free, or ids gone."""
    memo = transaction_memo(conn)
    if memo is not None:
        memo.clear()


# --- writes ---------------------------------------------------------------------------


@functools.cache
def _insert_statement(table: sa.Table) -> sa.Insert:
    return sa.insert(table).returning(table.c.id)


def insert(conn: Connection, table: sa.Table, values: dict[str, Any]) -> int:
    new_id = conn.execute(_insert_statement(table), values).scalar_one()
    memo = transaction_memo(conn)
    if memo is not None and table.name in _ID_BY_NAME:
        memo[(table.name, values["name"])] = new_id
    return new_id


@functools.cache
def _update_statement(table: sa.Table, columns: tuple[str, ...]) -> sa.Update:
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("entity_id"))
        .values({name: sa.bindparam(f"new_{name}") for name in columns})
    )


def update(conn: Connection, table: sa.Table, entity_id: int, values: dict[str, Any]) -> None:
    statement = _update_statement(table, tuple(sorted(values)))
    params = {f"new_{name}": value for name, value in values.items()}
    conn.execute(statement, {"entity_id": entity_id, **params})


def delete(conn: Connection, table: sa.Table, entity_id: int) -> None:
    conn.execute(sa.delete(table).where(table.c.id == entity_id))
    _forget_ids(conn)


def put_tags(conn: Connection, owner: str, owner_id: int, tags: Iterable[Tag]) -> None:
    rows = [{"owner_id": owner_id, "key": tag.key, "value": tag.value} for tag in tags]
    upsert(conn, _TAG_TABLES[owner], ("owner_id", "key"), rows)


def put_parameters(conn: Connection, tc_id: int, params: dict[str, ParameterValue]) -> None:
    rows = [
        {
            "trial_component_id": tc_id,
            "name": name,
            "number_value": p.number_value,
            "string_value": p.string_value,
        }
        for name, p in params.items()
    ]
    upsert(conn, t.parameters, ("trial_component_id", "name"), rows)


def remove_parameters(conn: Connection, tc_id: int, names: Sequence[str]) -> None:
    if names:
        table = t.parameters
        conn.execute(
            sa.delete(table).where(
                table.c.trial_component_id == tc_id, table.c.name.in_(list(names))
            )
        )


def put_artifacts(
    conn: Connection, tc_id: int, direction: str, artifacts: dict[str, Artifact]
) -> None:
    rows = [
        {
            "trial_component_id": tc_id,
            "direction": direction,
            "name": name,
            "value": a.value,
            "media_type": a.media_type,
        }
        for name, a in artifacts.items()
    ]
    upsert(conn, t.artifacts, ("trial_component_id", "direction", "name"), rows)


def remove_artifacts(conn: Connection, tc_id: int, direction: str, names: Sequence[str]) -> None:
    if names:
        table = t.artifacts
        conn.execute(
            sa.delete(table).where(
                table.c.trial_component_id == tc_id,
                table.c.direction == direction,
                table.c.name.in_(list(names)),
            )
        )


_LINKED = sa.select(sa.literal(1)).where(
    t.trial_component_links.c.trial_id == sa.bindparam("trial_id_"),
    t.trial_component_links.c.trial_component_id == sa.bindparam("component_id_"),
)
_INSERT_LINK = sa.insert(t.trial_component_links)


def link(conn: Connection, trial: int, component: int) -> bool:
    """Associate a component with a trial; False when it was associated already."""
    if conn.scalar(_LINKED, {"trial_id_": trial, "component_id_": component}):
        return False
    conn.execute(_INSERT_LINK, {"trial_id": trial, "trial_component_id": component})
    return True


def unlink(conn: Connection, trial: int, component: int) -> bool:
    table = t.trial_component_links
    result = conn.execute(
        sa.delete(table).where(table.c.trial_id == trial, table.c.trial_component_id == component)
    )
    return result.rowcount > 0


def unlink_component(conn: Connection, component: int) -> None:
    table = t.trial_component_links
    conn.execute(sa.delete(table).where(table.c.trial_component_id == component))


def count_links(conn: Connection, *, trial: int | None = None, component: int | None = None) -> int:
    table = t.trial_component_links
    query = sa.select(sa.func.count()).select_from(table)
    if trial is not None:
        query = query.where(table.c.trial_id == trial)
    if component is not None:
        query = query.where(table.c.trial_component_id == component)
    return conn.scalar(query) or 0


def trial_ids_of_experiment(conn: Connection, experiment: int) -> list[int]:
    query = sa.select(t.trials.c.id).where(t.trials.c.experiment_id == experiment)
    return list(conn.scalars(query))


def component_ids_of_trials(conn: Connection, trial_ids: Sequence[int]) -> list[int]:
    table = t.trial_component_links
    query = sa.select(table.c.trial_component_id).where(table.c.trial_id.in_(trial_ids))
    return sorted(set(conn.scalars(query)))


def delete_components(conn: Connection, ids: Sequence[int]) -> None:
    """Delete components and everything that hangs off them, links included."""
    if not ids:
        return
    links = t.trial_component_links
    conn.execute(sa.delete(links).where(links.c.trial_component_id.in_(ids)))
    # Points have no cascade index path on SQLite worth relying on; delete them explicitly.
    conn.execute(sa.delete(t.metric_points).where(t.metric_points.c.trial_component_id.in_(ids)))
    conn.execute(sa.delete(t.trial_components).where(t.trial_components.c.id.in_(ids)))
    _forget_ids(conn)


# --- reads ----------------------------------------------------------------------------


# Loader statements are built once: building a statement costs more than running it
# on SQLite, and a prebuilt one also hits SQLAlchemy's compiled cache every time.
_IDS = sa.bindparam("ids", expanding=True)


def _children(table: sa.Table, owner_column: str, order_by: str) -> sa.Select:
    return sa.select(table).where(table.c[owner_column].in_(_IDS)).order_by(table.c[order_by])


_TAG_QUERIES = {owner: _children(table, "owner_id", "key") for owner, table in _TAG_TABLES.items()}
_EXPERIMENTS_QUERY = sa.select(t.experiments).where(t.experiments.c.id.in_(_IDS))
_TRIALS_QUERY = (
    sa.select(t.trials, t.experiments.c.name.label("experiment_name"))
    .join(t.experiments, t.experiments.c.id == t.trials.c.experiment_id)
    .where(t.trials.c.id.in_(_IDS))
)
_COMPONENTS_QUERY = sa.select(t.trial_components).where(t.trial_components.c.id.in_(_IDS))
_PARAMETERS_QUERY = _children(t.parameters, "trial_component_id", "name")
_ARTIFACTS_QUERY = _children(t.artifacts, "trial_component_id", "name")
_SUMMARIES_QUERY = _children(t.metric_summaries, "trial_component_id", "name")
_PARENTS_QUERY = (
    sa.select(
        t.trial_component_links.c.trial_component_id,
        t.trials.c.name.label("trial_name"),
        t.experiments.c.name.label("experiment_name"),
    )
    .join(t.trials, t.trials.c.id == t.trial_component_links.c.trial_id)
    .join(t.experiments, t.experiments.c.id == t.trials.c.experiment_id)
    .where(t.trial_component_links.c.trial_component_id.in_(_IDS))
    .order_by(t.trials.c.name)
)


def _tags(conn: Connection, owner: str, ids: Sequence[int]) -> dict[int, list[Tag]]:
    result: dict[int, list[Tag]] = defaultdict(list)
    for row in conn.execute(_TAG_QUERIES[owner], {"ids": list(ids)}):
        result[row.owner_id].append(Tag(key=row.key, value=row.value))
    return result


def _ordered(rows: Iterable[Any], ids: Sequence[int]) -> list[Any]:
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def load_experiments(conn: Connection, ids: Sequence[int]) -> list[Experiment]:
    if not ids:
        return []
    rows = _ordered(conn.execute(_EXPERIMENTS_QUERY, {"ids": list(ids)}), ids)
    tags = _tags(conn, "experiment", ids)
    return [
        Experiment(
            experiment_name=row.name,
            display_name=row.display_name,
            description=row.description,
            creation_time=row.created_at,
            last_modified_time=row.modified_at,
            tags=tags.get(row.id, []),
        )
        for row in rows
    ]


def load_trials(conn: Connection, ids: Sequence[int]) -> list[Trial]:
    if not ids:
        return []
    rows = _ordered(conn.execute(_TRIALS_QUERY, {"ids": list(ids)}), ids)
    tags = _tags(conn, "trial", ids)
    return [
        Trial(
            trial_name=row.name,
            display_name=row.display_name,
            experiment_name=row.experiment_name,
            creation_time=row.created_at,
            last_modified_time=row.modified_at,
            tags=tags.get(row.id, []),
        )
        for row in rows
    ]


def _summary(row: Any, source_arn: str | None) -> MetricSummary:
    stamp = row.last_timestamp
    return MetricSummary(
        metric_name=row.name,
        source_arn=source_arn,
        time_stamp=dt.datetime.fromtimestamp(stamp, dt.UTC) if stamp is not None else None,
        max=row.max,
        min=row.min,
        last=row.last,
        count=row.count,
        avg=row.avg,
        std_dev=row.std_dev,
    )


def experiment_columns(conn: Connection, exp_id: int) -> tuple[list[str], list[str]]:
    """The parameter and metric names any component of an experiment has, sorted."""
    in_experiment = (
        sa.select(t.trial_component_links.c.trial_component_id)
        .join(t.trials, t.trials.c.id == t.trial_component_links.c.trial_id)
        .where(t.trials.c.experiment_id == exp_id)
    )
    names = []
    for table in (t.parameters, t.metric_summaries):
        query = (
            sa.select(table.c.name)
            .distinct()
            .where(table.c.trial_component_id.in_(in_experiment))
            .order_by(table.c.name)
        )
        names.append(list(conn.scalars(query)))
    return names[0], names[1]


_SOURCE_ARN = sa.select(t.trial_components.c.source_arn).where(
    t.trial_components.c.id == sa.bindparam("tc_id")
)


def load_metric_summaries(conn: Connection, tc_id: int) -> list[MetricSummary]:
    """A component's metric summaries alone: what a job's end reads, not the component."""
    source_arn = conn.scalar(_SOURCE_ARN, {"tc_id": tc_id})
    return [_summary(m, source_arn) for m in conn.execute(_SUMMARIES_QUERY, {"ids": [tc_id]})]


def load_trial_components(conn: Connection, ids: Sequence[int]) -> list[TrialComponent]:
    if not ids:
        return []
    bound = {"ids": list(ids)}
    rows = _ordered(conn.execute(_COMPONENTS_QUERY, bound), ids)
    params: dict[int, dict[str, ParameterValue]] = defaultdict(dict)
    for p in conn.execute(_PARAMETERS_QUERY, bound):
        params[p.trial_component_id][p.name] = ParameterValue(
            number_value=p.number_value, string_value=p.string_value
        )
    artifacts: dict[tuple[int, str], dict[str, Artifact]] = defaultdict(dict)
    for a in conn.execute(_ARTIFACTS_QUERY, bound):
        artifacts[a.trial_component_id, a.direction][a.name] = Artifact(
            value=a.value, media_type=a.media_type
        )
    summaries: dict[int, list[Any]] = defaultdict(list)
    for m in conn.execute(_SUMMARIES_QUERY, bound):
        summaries[m.trial_component_id].append(m)
    parents = _parents(conn, ids)
    tags = _tags(conn, "trial_component", ids)
    return [
        TrialComponent(
            trial_component_name=row.name,
            display_name=row.display_name,
            status=TrialComponentStatus(
                primary_status=PrimaryStatus(row.status), message=row.status_message
            ),
            start_time=row.start_time,
            end_time=row.end_time,
            creation_time=row.created_at,
            last_modified_time=row.modified_at,
            source=Source(source_arn=row.source_arn, source_type=row.source_type)
            if row.source_arn
            else None,
            parameters=params.get(row.id, {}),
            input_artifacts=artifacts.get((row.id, "input"), {}),
            output_artifacts=artifacts.get((row.id, "output"), {}),
            metrics=[_summary(m, row.source_arn) for m in summaries.get(row.id, [])],
            tags=tags.get(row.id, []),
            parents=parents.get(row.id, []),
        )
        for row in rows
    ]


def _parents(conn: Connection, ids: Sequence[int]) -> dict[int, list[Parent]]:
    result: dict[int, list[Parent]] = defaultdict(list)
    for row in conn.execute(_PARENTS_QUERY, {"ids": list(ids)}):
        result[row.trial_component_id].append(
            Parent(trial_name=row.trial_name, experiment_name=row.experiment_name)
        )
    return result
