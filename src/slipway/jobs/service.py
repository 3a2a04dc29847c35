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
from slipway.jobs import queries as q
from slipway.jobs import tables as t
from slipway.jobs.models import (
    ChildState,
    Job,
    JobKind,
    JobStatus,
    LogLine,
    Orphan,
    SecondaryStatus,
    Stage,
    StatusTransition,
)
from slipway.jobs.processes import this_watcher
from slipway.store.db import Database

# Where a user finds the names of each kind of job.
_LISTED_BY = {
    JobKind.TRAINING: "slipway jobs list --kind training",
    JobKind.TUNING: "slipway tuning list",
    JobKind.TRANSFORM: "slipway transform list",
    JobKind.MONITORING: "slipway monitor executions list",
    JobKind.AUTOML: "slipway automl list",
}
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
        # Jobs are never deleted, so a job's id never changes: each process looks it up
        # once. A tuning job's trials would otherwise spend a query on it in every call.
        self._ids: dict[tuple[JobKind, str], int] = {}

    # --- creating and reading -----------------------------------------------------------

    def create_job(
        self,
        kind: JobKind,
        name: str,
        spec: dict[str, Any],
        parent: tuple[JobKind, str] | None = None,
    ) -> Job:
        """Store a new job, watched from birth by the process that creates it.

        Its heartbeat starts now: a job with none would be an orphan at once, and another
        process could take it over before its own watcher had even begun.
        """
        now = _now()
        with self.db.write() as conn:
            if self._find(conn, kind, name) is not None:
                raise AlreadyExists(
                    f"{kind} {name!r} exists already; job names are unique per kind, "
                    "pick another name"
                )
            parent_id = self._id(conn, *parent) if parent else None
            job_id = conn.execute(
                q.INSERT_JOB,
                {
                    "name": name,
                    "kind": kind.value,
                    "status": JobStatus.IN_PROGRESS.value,
                    "secondary_status": SecondaryStatus.STARTING.value,
                    "created_at": now,
                    "started_at": now,
                    "modified_at": now,
                    "parent_id": parent_id,
                    "spec": spec,
                    "result": {},
                    "stop_requested": False,
                    "heartbeat_at": now,
                    "watcher": this_watcher(),
                },
            ).scalar_one()
            conn.execute(
                q.INSERT_STAGES,
                {"job_id": job_id, "status": SecondaryStatus.STARTING.value, "start_time": now},
            )
        self._remember(kind, name, job_id)
        # What was written is all there is: no need to read it back.
        return Job(
            job_name=name,
            job_kind=kind,
            status=JobStatus.IN_PROGRESS,
            secondary_status=SecondaryStatus.STARTING,
            secondary_status_transitions=[
                StatusTransition(status=SecondaryStatus.STARTING, start_time=now)
            ],
            creation_time=now,
            start_time=now,
            last_modified_time=now,
            parent_job_name=parent[1] if parent else None,
            spec=spec,
            result={},
        )

    def get_job(self, kind: JobKind, name: str) -> Job:
        with self.db.read() as conn:
            return self._load(conn, self._id(conn, kind, name))

    def list_jobs(
        self,
        *,
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
            items = q.load_jobs(conn, ids[:max_results])
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

    def statuses(
        self, kind: JobKind, parent: tuple[JobKind, str], names: Sequence[str]
    ) -> dict[str, ChildState]:
        """These child jobs of a parent: their status and result, in one cheap query.

        Parents poll this for the children they wait for; the result (a training job's
        final metrics) spares them a read of every child that ended.
        """
        with self.db.read() as conn:
            parent_id = self._id(conn, *parent)
            params = {"kind_": kind.value, "job_id_": parent_id, "names_": list(names)}
            rows = conn.execute(q.CHILDREN, params)
            return {row.name: ChildState(JobStatus(row.status), row.result or {}) for row in rows}

    def child_status_counts(
        self, kind: JobKind, parent: tuple[JobKind, str]
    ) -> dict[JobStatus, int]:
        """How many of a parent's child jobs are in each status, in one query."""
        with self.db.read() as conn:
            parent_id = self._id(conn, *parent)
            rows = conn.execute(
                sa.select(t.jobs.c.status, sa.func.count())
                .where(t.jobs.c.kind == kind.value, t.jobs.c.parent_id == parent_id)
                .group_by(t.jobs.c.status)
            )
            return {JobStatus(status): count for status, count in rows}

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
        self.enter_stages(kind, name, [Stage(secondary, message, at or _now())], pid)

    def enter_stages(
        self, kind: JobKind, name: str, stages: Sequence[Stage], pid: int | None = None
    ) -> None:
        """Enter several secondary statuses in order, in one write.

        A stage that was over in milliseconds (preparing a small job's folder) is recorded
        with its true times together with the stage after it, for the price of one.
        """
        last = stages[-1]
        watcher = {"pid": pid, "heartbeat_at": last.at} if pid is not None else {}
        with self.db.write() as conn:
            job_id = self._id(conn, kind, name)
            self._enter(conn, job_id, stages, final=False)
            conn.execute(
                q.UPDATE_JOB,
                {
                    "job_id_": job_id,
                    "secondary_status": last.status.value,
                    "modified_at": last.at,
                    **watcher,
                },
            )

    def finish(
        self,
        kind: JobKind,
        name: str,
        status: JobStatus,
        failure_reason: str | None = None,
        secondary: SecondaryStatus | None = None,
        result: dict[str, Any] | None = None,
        stages: Sequence[Stage] = (),
    ) -> None:
        """End a job in a final status; the history's last entry says how it ended.

        ``stages`` are secondary statuses the job passed through just before (Uploading),
        recorded in the same write.
        """
        if not status.is_final:
            raise ValidationError(f"finish needs a final status, not {status}")
        secondary = secondary or _FINAL_SECONDARY[status]
        now = _now()
        reason = (failure_reason or "")[:1024] or None
        with self.db.write() as conn:
            job_id = self._id(conn, kind, name)
            stored = conn.scalar(q.RESULT, {"job_id_": job_id})
            self._enter(conn, job_id, [*stages, Stage(secondary, reason, now)], final=True)
            conn.execute(
                q.UPDATE_JOB,
                {
                    "job_id_": job_id,
                    "status": status.value,
                    "secondary_status": secondary.value,
                    "failure_reason": reason,
                    "ended_at": now,
                    "modified_at": now,
                    "result": {**(stored or {}), **(result or {})},
                    "heartbeat_at": None,
                },
            )

    def update_result(self, kind: JobKind, name: str, values: dict[str, Any]) -> None:
        """Merge values into the job's result (model location, best candidate...)."""
        with self.db.write() as conn:
            job_id = self._id(conn, kind, name)
            stored = conn.scalar(q.RESULT, {"job_id_": job_id})
            conn.execute(
                q.UPDATE_JOB,
                {"job_id_": job_id, "result": {**(stored or {}), **values}, "modified_at": _now()},
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
            return bool(conn.scalar(q.STOP_REQUESTED, {"job_id_": self._id(conn, kind, name)}))

    # --- watchers -----------------------------------------------------------------------

    def heartbeat(self, kind: JobKind, names: Sequence[str]) -> None:
        """The watcher of these jobs says it is alive, for all of them in one write."""
        with self.db.write() as conn:
            conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.kind == kind.value, t.jobs.c.name.in_(list(names)))
                .values(heartbeat_at=_now())
            )

    def orphans(self, kind: JobKind, silent_for: dt.timedelta) -> list[Orphan]:
        """Running jobs whose watcher has not beaten for a while: someone may adopt them."""
        cutoff = _now() - silent_for
        query = sa.select(t.jobs.c.name, t.jobs.c.watcher, t.jobs.c.heartbeat_at).where(
            t.jobs.c.kind == kind.value,
            t.jobs.c.status.in_([JobStatus.IN_PROGRESS.value, JobStatus.STOPPING.value]),
            sa.or_(t.jobs.c.heartbeat_at.is_(None), t.jobs.c.heartbeat_at < cutoff),
        )
        with self.db.read() as conn:
            return [Orphan(*row) for row in conn.execute(query)]

    def claim(self, kind: JobKind, orphan: Orphan, silent_for: dt.timedelta) -> bool:
        """Take over watching an orphan; False if another process was quicker.

        The orphan's watcher must not have changed since it was seen: of two processes
        that saw the same orphan, one becomes its watcher.
        """
        cutoff = _now() - silent_for
        with self.db.write() as conn:
            result = conn.execute(
                sa.update(t.jobs)
                .where(
                    t.jobs.c.kind == kind.value,
                    t.jobs.c.name == orphan.job_name,
                    t.jobs.c.watcher.is_not_distinct_from(orphan.watcher),
                    sa.or_(t.jobs.c.heartbeat_at.is_(None), t.jobs.c.heartbeat_at < cutoff),
                )
                .values(heartbeat_at=_now(), watcher=this_watcher())
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
            first = (conn.scalar(q.LAST_LINE, {"job_id_": job_id}) or 0) + 1
            conn.execute(
                q.INSERT_LINES,
                [
                    {"job_id": job_id, "line_number": first + i, "timestamp": ts, "message": text}
                    for i, (ts, text) in enumerate(lines)
                ],
            )

    def read_logs(
        self, kind: JobKind, name: str, after_line: int = 0, limit: int = 1000
    ) -> list[LogLine]:
        """Log lines after a line number, so a follower asks only for what is new."""
        _check_limit(limit)
        with self.db.read() as conn:
            job_id = self._id(conn, kind, name)
            rows = conn.execute(
                sa.select(t.job_logs)
                .where(t.job_logs.c.job_id == job_id, t.job_logs.c.line_number > after_line)
                .order_by(t.job_logs.c.line_number)
                .limit(limit)
            )
            return q.log_lines(rows)

    def tail_logs(self, kind: JobKind, name: str, limit: int = 1000) -> list[LogLine]:
        """The last ``limit`` log lines, in order: the end is what people look at first."""
        _check_limit(limit)
        with self.db.read() as conn:
            job_id = self._id(conn, kind, name)
            rows = conn.execute(
                sa.select(t.job_logs)
                .where(t.job_logs.c.job_id == job_id)
                .order_by(t.job_logs.c.line_number.desc())
                .limit(limit)
            )
            return q.log_lines(reversed(list(rows)))

    # --- internals ----------------------------------------------------------------------

    def _find(self, conn: Connection, kind: JobKind, name: str) -> int | None:
        return conn.scalar(q.FIND, {"kind_": kind.value, "name_": name})

    def _id(self, conn: Connection, kind: JobKind, name: str) -> int:
        found = self._ids.get((kind, name))
        if found is None:
            found = self._find(conn, kind, name)
            if found is None:
                raise NotFound(f"{kind} {name!r} not found; list them with `{_LISTED_BY[kind]}`")
            self._remember(kind, name, found)
        return found

    def _remember(self, kind: JobKind, name: str, job_id: int) -> None:
        self.db.after_commit(lambda: self._ids.__setitem__((kind, name), job_id))

    def _enter(self, conn: Connection, job_id: int, stages: Sequence[Stage], final: bool) -> None:
        """Close the open history entry and add ``stages``, each ending when the next begins.

        The last stage stays open, unless ``final``: a final status begins and ends at once.
        """
        conn.execute(q.CLOSE_STAGE, {"job_id_": job_id, "closed_at": stages[0].at})
        ends = [stage.at for stage in stages[1:]] + [stages[-1].at if final else None]
        conn.execute(
            q.INSERT_STAGES,
            [
                {
                    "job_id": job_id,
                    "status": stage.status.value,
                    "start_time": stage.at,
                    "end_time": end,
                    "message": stage.message,
                }
                for stage, end in zip(stages, ends, strict=True)
            ],
        )

    def _load(self, conn: Connection, job_id: int) -> Job:
        return q.load_jobs(conn, [job_id])[0]


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= 10_000:
        raise ValidationError(f"limit {limit} is out of range; use 1 to 10000")


def _status(value: JobStatus | str) -> JobStatus:
    try:
        return JobStatus(value)
    except ValueError:
        raise ValidationError(
            f"job status {value!r} is not valid; use one of "
            + ", ".join(s.value for s in JobStatus)
        ) from None
