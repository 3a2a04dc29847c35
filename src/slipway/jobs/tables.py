"""SQL tables of jobs: one row per job, its status history and its log lines."""

from __future__ import annotations

import sqlalchemy as sa

from slipway.store.db import UTCDateTime, metadata

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("secondary_status", sa.String(40), nullable=False),
    sa.Column("failure_reason", sa.String(1024)),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("started_at", UTCDateTime),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("modified_at", UTCDateTime, nullable=False),
    sa.Column("parent_id", _ID, sa.ForeignKey("jobs.id", ondelete="SET NULL"), index=True),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    # Who watches the job: the watching process ("host:pid"), its heartbeat, and the pid of
    # the job's own process if it has one. A job whose watcher stopped beating, or died on
    # this host, is adopted by the next slipway process that looks (see jobs.lifecycle).
    sa.Column("pid", sa.Integer),
    sa.Column("heartbeat_at", UTCDateTime),
    sa.Column("watcher", sa.String(128)),
    sa.Column("stop_requested", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("kind", "name"),
)

job_transitions = sa.Table(
    "job_transitions",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("job_id", _ID, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("start_time", UTCDateTime, nullable=False),
    sa.Column("end_time", UTCDateTime),
    sa.Column("message", sa.String(1024)),
    sa.Index(None, "job_id", "id"),
)

job_logs = sa.Table(
    "job_logs",
    metadata,
    sa.Column("job_id", _ID, sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("line_number", sa.BigInteger, primary_key=True),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
)
