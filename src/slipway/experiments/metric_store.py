"""Metric points and their running summaries.

A batch of points is written in one transaction: every point goes into ``metric_points``
and each metric's summary row is merged with the batch's own summary in a single
``INSERT ... ON CONFLICT DO UPDATE``. The merge is Chan's parallel form of Welford's
algorithm, evaluated by the database on the row it has locked, so any number of
processes can log into one trial component at once and the count, mean and standard
deviation stay exact.

NaN and infinite values are stored as points (NaN as NULL) but never enter a summary:
one diverged step must not turn every statistic of a run into NaN. Nor do finite values
beyond 1e100 in magnitude or non-zero ones under 1e-100: their squares would overflow or
underflow a double, which PostgreSQL refuses with an error and SQLite turns into NaN.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from slipway.experiments import tables as t
from slipway.experiments.models import MetricPoint
from slipway.store.db import fetch_rows


@dataclass
class _BatchSummary:
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    last: float | None = None
    last_timestamp: float = -math.inf

    def add(self, value: float, timestamp: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)
        self.min = min(self.min, value)
        self.max = max(self.max, value)
        if timestamp >= self.last_timestamp:
            self.last, self.last_timestamp = value, timestamp


def _summarisable(value: float) -> bool:
    return value == 0.0 or 1e-100 <= abs(value) <= 1e100  # False for NaN and infinities


def _summarise(points: Sequence[MetricPoint]) -> dict[str, _BatchSummary]:
    summaries: dict[str, _BatchSummary] = defaultdict(_BatchSummary)
    for point in points:
        if _summarisable(point.value):
            summaries[point.metric_name].add(point.value, point.timestamp)
    return summaries


def _std_dev(count: sa.ColumnElement, m2: sa.ColumnElement) -> sa.ColumnElement:
    return sa.case((count > 1, sa.func.sqrt(m2 / (count - 1))), else_=0.0)


@functools.cache
def _merge_statement(dialect: str) -> sa.Insert:
    """The summary upsert, built once per dialect (building it costs more than running it)."""
    table = t.metric_summaries
    is_sqlite = dialect == "sqlite"
    insert = (sqlite.insert if is_sqlite else postgresql.insert)(table)
    new = insert.excluded
    least = sa.func.min if is_sqlite else sa.func.least
    greatest = sa.func.max if is_sqlite else sa.func.greatest
    n = table.c.count + new.count
    delta = new.avg - table.c.avg
    m2 = table.c.m2 + new.m2 + delta * delta * table.c.count * new.count / n
    return insert.on_conflict_do_update(
        index_elements=[table.c.trial_component_id, table.c.name],
        set_={
            "count": n,
            "avg": table.c.avg + delta * new.count / n,
            "m2": m2,
            "std_dev": _std_dev(n, m2),
            "min": least(table.c.min, new.min),
            "max": greatest(table.c.max, new.max),
            "last": sa.case(
                (new.last_timestamp >= table.c.last_timestamp, new.last), else_=table.c.last
            ),
            "last_timestamp": greatest(table.c.last_timestamp, new.last_timestamp),
        },
    )


def _upsert_summaries(conn: Connection, tc_id: int, summaries: dict[str, _BatchSummary]) -> None:
    rows = []
    for name, s in sorted(summaries.items()):  # sorted: a fixed lock order, no deadlocks
        std_dev = math.sqrt(s.m2 / (s.count - 1)) if s.count > 1 else 0.0
        rows.append(
            {
                "trial_component_id": tc_id,
                "name": name,
                "count": s.count,
                "avg": s.mean,
                "m2": s.m2,
                "std_dev": std_dev,
                "min": s.min,
                "max": s.max,
                "last": s.last,
                "last_timestamp": s.last_timestamp,
            }
        )
    conn.execute(_merge_statement(conn.dialect.name), rows)


_INSERT_POINTS = sa.insert(t.metric_points)


def write_points(
    conn: Connection, tc_id: int, points: Sequence[MetricPoint], batch_id: str | None = None
) -> bool:
    """Store a batch of points and fold it into the summaries, in the caller's transaction.

    A batch with an id is stored at most once; returns False when it was stored before.
    """
    if not points:
        return True
    if batch_id is not None:
        seen = conn.scalar(sa.select(sa.literal(1)).where(t.metric_batches.c.batch_id == batch_id))
        if seen:
            return False
        conn.execute(
            sa.insert(t.metric_batches).values(
                batch_id=batch_id, trial_component_id=tc_id, created_at=dt.datetime.now(dt.UTC)
            )
        )
    conn.execute(
        _INSERT_POINTS,
        [
            {
                "trial_component_id": tc_id,
                "name": p.metric_name,
                "step": p.iteration_number,
                "timestamp": p.timestamp,
                "value": None if math.isnan(p.value) else p.value,
            }
            for p in points
        ],
    )
    summaries = _summarise(points)
    if summaries:
        _upsert_summaries(conn, tc_id, summaries)
    return True


def _points_query(tc_id: int, metric_name: str) -> sa.Select:
    table = t.metric_points
    return sa.select(table.c.id, table.c.step, table.c.timestamp, table.c.value).where(
        table.c.trial_component_id == tc_id, table.c.name == metric_name
    )


def _point(metric_name: str, row: sa.Row) -> MetricPoint:
    return MetricPoint(
        metric_name=metric_name,
        value=math.nan if row.value is None else row.value,
        timestamp=row.timestamp,
        iteration_number=row.step,
    )


def read_points(conn: Connection, tc_id: int, metric_name: str) -> list[MetricPoint]:
    """Every point of one metric, in step order (then time order); unstepped points last."""
    table = t.metric_points
    # SQLite sorts NULL first, PostgreSQL last: say which, so both answer alike.
    query = _points_query(tc_id, metric_name).order_by(
        table.c.step.asc().nulls_last(), table.c.timestamp, table.c.id
    )
    return [_point(metric_name, row) for row in conn.execute(query)]


def read_page(
    conn: Connection, tc_id: int, metric_name: str, limit: int, after_id: int = 0
) -> list[tuple[int, MetricPoint]] | None:
    """Up to ``limit`` (id, point) pairs in the order of ``read_points``.

    They start after the point whose id is ``after_id`` (0: at the first point); None when
    no point of this metric has that id. The place is found through the index on
    (step, timestamp, id), so a page far into a series costs what the first one does.
    Stepped and unstepped points are read apart: NULL has no place in a comparison, and
    the two databases sort it at opposite ends.
    """
    table = t.metric_points
    stepped = table.c.step.is_not(None)
    unstepped = table.c.step.is_(None)
    if after_id:
        last = conn.execute(
            sa.select(table.c.step, table.c.timestamp).where(
                table.c.id == after_id,
                table.c.trial_component_id == tc_id,
                table.c.name == metric_name,
            )
        ).first()
        if last is None:
            return None
        later = sa.tuple_(table.c.timestamp, table.c.id) > sa.tuple_(last.timestamp, after_id)
        if last.step is None:
            stepped, unstepped = sa.false(), sa.and_(unstepped, later)
        else:
            stepped = sa.and_(table.c.step >= last.step, sa.or_(table.c.step > last.step, later))
    rows = _read_ordered(conn, tc_id, metric_name, stepped, limit)
    if len(rows) < limit:
        rows += _read_ordered(conn, tc_id, metric_name, unstepped, limit - len(rows))
    return [(row.id, _point(metric_name, row)) for row in rows]


def _read_ordered(
    conn: Connection, tc_id: int, metric_name: str, where: sa.ColumnElement, limit: int
) -> list[sa.Row]:
    table = t.metric_points
    query = (
        _points_query(tc_id, metric_name)
        .where(where)
        .order_by(table.c.step, table.c.timestamp, table.c.id)
        .limit(limit)
    )
    return list(conn.execute(query))


def read_curve(conn: Connection, tc_id: int, metric_name: str) -> tuple[list[float], list[float]]:
    """One metric as a chart draws it: x (the step, or the time without one) and y.

    In the order of ``read_points``, as two plain lists: a chart of 100,000 points has no
    use for 100,000 point objects. The rows come straight from the driver and are put in
    order here, which costs a fraction of an ORDER BY that cannot use the index.
    """
    import numpy as np  # here: a script that only logs metrics does not import NumPy

    table = t.metric_points
    query = sa.select(table.c.step, table.c.timestamp, table.c.value, table.c.id).where(
        table.c.trial_component_id == tc_id, table.c.name == metric_name
    )
    rows = fetch_rows(conn, query)
    if not rows:
        return [], []
    step, stamp, value, row_id = np.array(rows, dtype=float).T  # None (NULL) becomes NaN
    unstepped = np.isnan(step)
    # Steps in order, then time, then insertion; points without a step after the others.
    order = np.lexsort((row_id, stamp, np.where(unstepped, 0, step), unstepped))
    return np.where(unstepped, stamp, step)[order].tolist(), value[order].tolist()
