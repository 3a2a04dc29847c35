"""SQL tables of monitoring: schedules, per-feature metrics of executions, alert deliveries.

Executions themselves are rows of the shared ``jobs`` table (kind MonitoringExecution).
"""

from __future__ import annotations

import sqlalchemy as sa

from slipway.store.db import UTCDateTime, metadata

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

monitoring_schedules = sa.Table(
    "monitoring_schedules",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
    sa.Column("endpoint_name", sa.String(120), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("failure_reason", sa.String(1024)),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("modified_at", UTCDateTime, nullable=False),
    # The last firing time an execution was created for: the scheduler's cursor.
    sa.Column("last_fired_at", UTCDateTime),
)

# Which schedule and endpoint each execution (a row of ``jobs``) belongs to, for listing.
monitoring_executions = sa.Table(
    "monitoring_executions",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(120), nullable=False, unique=True),
    sa.Column("schedule_name", sa.String(63), nullable=False),
    sa.Column("endpoint_name", sa.String(120), nullable=False),
    sa.Column("scheduled_time", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "schedule_name", "created_at"),
    sa.Index(None, "endpoint_name", "created_at"),
)

monitoring_metrics = sa.Table(
    "monitoring_metrics",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("execution_name", sa.String(120), nullable=False, index=True),
    sa.Column("schedule_name", sa.String(63), nullable=False),
    sa.Column("endpoint_name", sa.String(120), nullable=False),
    sa.Column("metric", sa.String(64), nullable=False),
    sa.Column("feature", sa.String(256), nullable=False),
    sa.Column("statistic", sa.String(16), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "schedule_name", "created_at"),
)

alert_deliveries = sa.Table(
    "monitor_alert_deliveries",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("execution_name", sa.String(120), nullable=False, index=True),
    sa.Column("schedule_name", sa.String(63), nullable=False),
    sa.Column("alert_name", sa.String(120), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("target", sa.String(2048), nullable=False),
    sa.Column("rule", sa.JSON, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.String(1024)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("delivered_at", UTCDateTime),
    sa.Index(None, "status", "next_attempt_at"),
)
