"""The SQL of the job service: statements built once, and rows made into jobs and lines.

A running job makes the same statements again and again (a tuning job's trials dozens
each), and building one costs more than running it on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from slipway.jobs import tables as t
from slipway.jobs.models import Job, JobKind, JobStatus, LogLine, SecondaryStatus, StatusTransition

JOB_ID = sa.bindparam("job_id_")
FIND = sa.select(t.jobs.c.id).where(
    t.jobs.c.kind == sa.bindparam("kind_"), t.jobs.c.name == sa.bindparam("name_")
)
INSERT_JOB = sa.insert(t.jobs).returning(t.jobs.c.id)
UPDATE_JOB = sa.update(t.jobs).where(t.jobs.c.id == JOB_ID)
RESULT = sa.select(t.jobs.c.result).where(t.jobs.c.id == JOB_ID)
CHILDREN = sa.select(t.jobs.c.name, t.jobs.c.status, t.jobs.c.result).where(
    t.jobs.c.kind == sa.bindparam("kind_"),
    t.jobs.c.parent_id == JOB_ID,
    t.jobs.c.name.in_(sa.bindparam("names_", expanding=True)),
)
STOP_REQUESTED = sa.select(t.jobs.c.stop_requested).where(t.jobs.c.id == JOB_ID)
CLOSE_STAGE = (
    sa.update(t.job_transitions)
    .where(t.job_transitions.c.job_id == JOB_ID, t.job_transitions.c.end_time.is_(None))
    .values(end_time=sa.bindparam("closed_at"))
)
INSERT_STAGES = sa.insert(t.job_transitions)
LAST_LINE = sa.select(sa.func.max(t.job_logs.c.line_number)).where(t.job_logs.c.job_id == JOB_ID)
INSERT_LINES = sa.insert(t.job_logs)


def load_jobs(conn: Connection, job_ids: list[int]) -> list[Job]:
    """Jobs by id, in that order, in three queries however many (a list is one page)."""
    if not job_ids:
        return []
    rows = {row.id: row for row in conn.execute(sa.select(t.jobs).where(t.jobs.c.id.in_(job_ids)))}
    history: dict[int, list[StatusTransition]] = {job_id: [] for job_id in job_ids}
    transitions = conn.execute(
        sa.select(t.job_transitions)
        .where(t.job_transitions.c.job_id.in_(job_ids))
        .order_by(t.job_transitions.c.id)
    )
    for tr in transitions:
        history[tr.job_id].append(
            StatusTransition(
                status=SecondaryStatus(tr.status),
                start_time=tr.start_time,
                end_time=tr.end_time,
                status_message=tr.message,
            )
        )
    parent_ids = {row.parent_id for row in rows.values() if row.parent_id is not None}
    parents = {}
    if parent_ids:
        query = sa.select(t.jobs.c.id, t.jobs.c.name).where(t.jobs.c.id.in_(parent_ids))
        parents = {row.id: row.name for row in conn.execute(query)}
    return [
        _job(rows[job_id], history[job_id], parents.get(rows[job_id].parent_id))
        for job_id in job_ids
    ]


def _job(row: Any, transitions: list[StatusTransition], parent: str | None) -> Job:
    return Job(
        job_name=row.name,
        job_kind=JobKind(row.kind),
        status=JobStatus(row.status),
        secondary_status=SecondaryStatus(row.secondary_status),
        secondary_status_transitions=transitions,
        failure_reason=row.failure_reason,
        creation_time=row.created_at,
        start_time=row.started_at,
        end_time=row.ended_at,
        last_modified_time=row.modified_at,
        parent_job_name=parent,
        spec=row.spec or {},
        result=row.result or {},
    )


def log_lines(rows: Iterable[Any]) -> list[LogLine]:
    return [
        LogLine(line_number=r.line_number, timestamp=r.timestamp, message=r.message) for r in rows
    ]
