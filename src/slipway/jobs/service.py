"""The job life cycle every kind of job shares: create, transition, finish, stop, logs.

Kind-specific services (training, tuning, transform, monitoring, AutoML) keep their own
spec and result in the job row's JSON columns and call these methods for the rest, so a
job of any kind reports the same status fields the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from slipway.errors import AlreadyExists, Conflict, NotFound, ValidationError
from slipway.experiments.expressions import decode_token, encode_token
from slipway.experiments.models import Page
from slipway.jobs import tables as t
from slipway.jobs.models import Job, JobKind, JobStatus, LogLine, SecondaryStatus, StatusTransition
from slipway.store.db import Database

_FINAL_SECONDARY = {
    JobStatus.COMPLETED: SecondaryStatus.COMPLETED,
    JobStatus.FAILED: SecondaryStatus.FAILED,
    JobStatus.STOPPED: SecondaryStatus.STOPPED,
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class JobService:
    """Jobs of every kind in one metadata database."""

    def __init__(self, database: Database) -> None:
        self.db = database

    # --- creating and reading -----------------------------------------------------------

    def create_job(
        self,
        kind: JobKind,
        name: str,
        spec: dict[str, Any],
        parent: tuple[JobKind, str] | None = None,
    ) -> Job:
        now = _now()
        with self.db.write() as conn:
            if self._find(conn, kind, name) is not None:
                raise AlreadyExists(
                    f"{kind} {name!r} exists already; job names are unique per kind, "
                    "pick another name"
                )
            parent_id = self._id(conn, *parent) if parent else None
            job_id = conn.execute(
                sa.insert(t.jobs)
                .values(
                    name=name,
                    kind=kind.value,
                    status=JobStatus.IN_PROGRESS.value,
                    secondary_status=SecondaryStatus.STARTING.value,
                    created_at=now,
                    started_at=now,
                    modified_at=now,
                    parent_id=parent_id,
                    spec=spec,
                    result={},
                    stop_requested=False,
                )
                .returning(t.jobs.c.id)
            ).scalar_one()
            conn.execute(
                sa.insert(t.job_transitions).values(
                    job_id=job_id, status=SecondaryStatus.STARTING.value, start_time=now
                )
            )
            return self._load(conn, job_id)

    def get_job(self, kind: JobKind, name: str) -> Job:
        with self.db.read() as conn:
            return self._load(conn, self._id(conn, kind, name))

    def list_jobs(
        self,
        kind: JobKind | None = None,
        status: JobStatus | str | None = None,
        parent: tuple[JobKind, str] | None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[Job]:
        """Jobs, newest first, optionally of one kind, status or parent job."""
        if not 1 <= max_results <= 1000:
            raise ValidationError(f"max_results {max_results} is out of range; use 1 to 1000")
        query = sa.select(t.jobs.c.id)
        if kind is not None:
            query = query.where(t.jobs.c.kind == kind.value)
        if status is not None:
            query = query.where(t.jobs.c.status == _status(status).value)
        if name_contains:
            query = query.where(t.jobs.c.name.contains(name_contains, autoescape=True))
        offset = decode_token(next_token)
        query = query.order_by(t.jobs.c.created_at.desc(), t.jobs.c.id.desc())
        with self.db.read() as conn:
            if parent is not None:
                query = query.where(t.jobs.c.parent_id == self._id(conn, *parent))
            ids = list(conn.scalars(query.offset(offset).limit(max_results + 1)))
            items = self._load_many(conn, ids[:max_results])
        token = encode_token(offset + max_results) if len(ids) > max_results else None
        return Page[Job](items=items, next_token=token)

    def find_job(self, name: str, kind: JobKind | None = None) -> Job:
        """A job by name, of any kind unless one is given; names are unique per kind only."""
        if kind is not None:
            return self.get_job(kind, name)
        with self.db.read() as conn:
            rows = conn.execute(sa.select(t.jobs.c.id, t.jobs.c.kind).where(t.jobs.c.name == name))
            found = list(rows)
            if not found:
                raise NotFound(f"job {name!r} not found; list jobs with `slipway jobs list`")
            if len(found) > 1:
                kinds = ", ".join(sorted(row.kind for row in found))
                raise Conflict(f"jobs of several kinds are named {name!r} ({kinds}); pass --kind")
            return self._load(conn, found[0].id)

    def statuses(self, kind: JobKind, parent: tuple[JobKind, str]) -> dict[str, JobStatus]:
        """The status of each child job of a parent, in one cheap query (parents poll it)."""
        with self.db.read() as conn:
            parent_id = self._id(conn, *parent)
            rows = conn.execute(
                sa.select(t.jobs.c.name, t.jobs.c.status).where(
                    t.jobs.c.kind == kind.value, t.jobs.c.parent_id == parent_id
                )
            )
            return {row.name: JobStatus(row.status) for row in rows}

    # --- life cycle ---------------------------------------------------------------------

    def transition(
        self,
        kind: JobKind,
        name: str,
        secondary: SecondaryStatus,
        message: str | None = None,
        pid: int | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        """Enter a new secondary status (at ``at``, default now), closing the previous one.

        With ``pid``, the watcher also says which process it now watches (a heartbeat),
        in the same transaction: starting a job's process costs one write, not two.
        """
        now = at or _now()
        watcher = {"pid": pid, "heartbeat_at": now} if pid is not None else {}
        with self.db.write() as conn:
            job_id = self._id(conn, kind, name)
            self._close_transition(conn, job_id, now)
            conn.execute(
                sa.insert(t.job_transitions).values(
                    job_id=job_id, status=secondary.value, start_time=now, message=message
                )
            )
            conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.id == job_id)
                .values(secondary_status=secondary.value, modified_at=now, **watcher)
            )

    def finish(
        self,
        kind: JobKind,
        name: str,
        status: JobStatus,
        failure_reason: str | None = None,
        secondary: SecondaryStatus | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """End a job in a final status; the history's last entry says how it ended."""
        if not status.is_final:
            raise ValidationError(f"finish needs a final status, not {status}")
        secondary = secondary or _FINAL_SECONDARY[status]
        now = _now()
        with self.db.write() as conn:
            job_id = self._id(conn, kind, name)
            row = conn.execute(sa.select(t.jobs.c.result).where(t.jobs.c.id == job_id)).one()
            self._close_transition(conn, job_id, now)
            conn.execute(
                sa.insert(t.job_transitions).values(
                    job_id=job_id,
                    status=secondary.value,
                    start_time=now,
                    end_time=now,
                    message=(failure_reason or "")[:1024] or None,
                )
            )
            conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.id == job_id)
                .values(
                    status=status.value,
                    secondary_status=secondary.value,
                    failure_reason=(failure_reason or "")[:1024] or None,
                    ended_at=now,
                    modified_at=now,
                    result={**(row.result or {}), **(result or {})},
                    heartbeat_at=None,
                )
            )

    def update_result(self, kind: JobKind, name: str, values: dict[str, Any]) -> None:
        """Merge values into the job's result (model location, best candidate...)."""
        with self.db.write() as conn:
            job_id = self._id(conn, kind, name)
            row = conn.execute(sa.select(t.jobs.c.result).where(t.jobs.c.id == job_id)).one()
            conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.id == job_id)
                .values(result={**(row.result or {}), **values}, modified_at=_now())
            )

    def request_stop(self, kind: JobKind, name: str) -> Job:
        """Ask a running job to stop; its watcher stops the process and ends it Stopped."""
        with self.db.write() as conn:
            job_id = self._id(conn, kind, name)
            status = JobStatus(conn.scalar(sa.select(t.jobs.c.status).where(t.jobs.c.id == job_id)))
            if status.is_final:
                raise Conflict(f"{kind} {name!r} is {status} already; only running jobs stop")
            conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.id == job_id)
                .values(status=JobStatus.STOPPING.value, stop_requested=True, modified_at=_now())
            )
            return self._load(conn, job_id)

    def stop_requested(self, kind: JobKind, name: str) -> bool:
        with self.db.read() as conn:
            query = sa.select(t.jobs.c.stop_requested).where(
                t.jobs.c.kind == kind.value, t.jobs.c.name == name
            )
            return bool(conn.scalar(query))

    # --- watchers -----------------------------------------------------------------------

    def heartbeat(self, kind: JobKind, name: str, pid: int | None) -> None:
        """The watcher of a job says it is alive (and which process it watches)."""
        with self.db.write() as conn:
            conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.kind == kind.value, t.jobs.c.name == name)
                .values(heartbeat_at=_now(), pid=pid)
            )

    def orphans(self, kind: JobKind, silent_for: dt.timedelta) -> list[Job]:
        """Running jobs whose watcher has not beaten for a while: someone must adopt them."""
        cutoff = _now() - silent_for
        query = sa.select(t.jobs.c.id).where(
            t.jobs.c.kind == kind.value,
            t.jobs.c.status.in_([JobStatus.IN_PROGRESS.value, JobStatus.STOPPING.value]),
            sa.or_(t.jobs.c.heartbeat_at.is_(None), t.jobs.c.heartbeat_at < cutoff),
        )
        with self.db.read() as conn:
            return self._load_many(conn, list(conn.scalars(query)))

    def claim(self, kind: JobKind, name: str, silent_for: dt.timedelta) -> bool:
        """Take over watching an orphan; False if another process was quicker."""
        cutoff = _now() - silent_for
        with self.db.write() as conn:
            result = conn.execute(
                sa.update(t.jobs)
                .where(
                    t.jobs.c.kind == kind.value,
                    t.jobs.c.name == name,
                    sa.or_(t.jobs.c.heartbeat_at.is_(None), t.jobs.c.heartbeat_at < cutoff),
                )
                .values(heartbeat_at=_now())
            )
            return result.rowcount == 1

    def pid(self, kind: JobKind, name: str) -> int | None:
        with self.db.read() as conn:
            query = sa.select(t.jobs.c.pid).where(
                t.jobs.c.kind == kind.value, t.jobs.c.name == name
            )
            return conn.scalar(query)

    # --- logs ---------------------------------------------------------------------------

    def append_logs(self, kind: JobKind, name: str, lines: Sequence[tuple[float, str]]) -> None:
        if not lines:
            return
        with self.db.write() as conn:
            job_id = self._id(conn, kind, name)
            last = conn.scalar(
                sa.select(sa.func.max(t.job_logs.c.line_number)).where(
                    t.job_logs.c.job_id == job_id
                )
            )
            first = (last or 0) + 1
            conn.execute(
                sa.insert(t.job_logs),
                [
                    {"job_id": job_id, "line_number": first + i, "timestamp": ts, "message": text}
                    for i, (ts, text) in enumerate(lines)
                ],
            )

    def read_logs(
        self, kind: JobKind, name: str, after_line: int = 0, limit: int = 1000
    ) -> list[LogLine]:
        """Log lines after a line number, so a follower asks only for what is new."""
        if not 1 <= limit <= 10_000:
            raise ValidationError(f"limit {limit} is out of range; use 1 to 10000")
        with self.db.read() as conn:
            job_id = self._id(conn, kind, name)
            rows = conn.execute(
                sa.select(t.job_logs)
                .where(t.job_logs.c.job_id == job_id, t.job_logs.c.line_number > after_line)
                .order_by(t.job_logs.c.line_number)
                .limit(limit)
            )
            return [
                LogLine(line_number=r.line_number, timestamp=r.timestamp, message=r.message)
                for r in rows
            ]

    # --- internals ----------------------------------------------------------------------

    def _find(self, conn: Connection, kind: JobKind, name: str) -> int | None:
        return conn.scalar(
            sa.select(t.jobs.c.id).where(t.jobs.c.kind == kind.value, t.jobs.c.name == name)
        )

    def _id(self, conn: Connection, kind: JobKind, name: str) -> int:
        found = self._find(conn, kind, name)
        if found is None:
            raise NotFound(f"{kind} {name!r} not found; list jobs with `slipway jobs list`")
        return found

    def _close_transition(self, conn: Connection, job_id: int, now: dt.datetime) -> None:
        conn.execute(
            sa.update(t.job_transitions)
            .where(t.job_transitions.c.job_id == job_id, t.job_transitions.c.end_time.is_(None))
            .values(end_time=now)
        )

    def _load(self, conn: Connection, job_id: int) -> Job:
        return self._load_many(conn, [job_id])[0]

    def _load_many(self, conn: Connection, job_ids: list[int]) -> list[Job]:
        """Jobs by id, in that order, in three queries however many (a list is one page)."""
        if not job_ids:
            return []
        rows = {
            row.id: row for row in conn.execute(sa.select(t.jobs).where(t.jobs.c.id.in_(job_ids)))
        }
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


def _status(value: JobStatus | str) -> JobStatus:
    try:
        return JobStatus(value)
    except ValueError:
        raise ValidationError(
            f"job status {value!r} is not valid; use one of "
            + ", ".join(s.value for s in JobStatus)
        ) from None
