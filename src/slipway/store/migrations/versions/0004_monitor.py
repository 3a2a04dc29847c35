"""model monitor: schedules, execution metrics and alert deliveries

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 01:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import slipway.store.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = slipway.store.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitoring_schedules",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("endpoint_name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("failure_reason", sa.String(length=1024), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("modified_at", _TIME, nullable=False),
        sa.Column("last_fired_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_monitoring_schedules_name")),
    )
    with op.batch_alter_table("monitoring_schedules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_schedules_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_monitoring_schedules_endpoint_name"), ["endpoint_name"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_monitoring_schedules_status"), ["status"], unique=False
        )

    op.create_table(
        "monitoring_executions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("schedule_name", sa.String(length=63), nullable=False),
        sa.Column("endpoint_name", sa.String(length=120), nullable=False),
        sa.Column("scheduled_time", _TIME, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_executions")),
        sa.UniqueConstraint("name", name=op.f("uq_monitoring_executions_name")),
    )
    with op.batch_alter_table("monitoring_executions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_executions_schedule_name_created_at"),
            ["schedule_name", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_monitoring_executions_endpoint_name_created_at"),
            ["endpoint_name", "created_at"],
            unique=False,
        )

    op.create_table(
        "monitoring_metrics",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("execution_name", sa.String(length=120), nullable=False),
        sa.Column("schedule_name", sa.String(length=63), nullable=False),
        sa.Column("endpoint_name", sa.String(length=120), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("feature", sa.String(length=256), nullable=False),
        sa.Column("statistic", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_metrics")),
    )
    with op.batch_alter_table("monitoring_metrics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_metrics_execution_name"), ["execution_name"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_monitoring_metrics_schedule_name_created_at"),
            ["schedule_name", "created_at"],
            unique=False,
        )

    op.create_table(
        "monitor_alert_deliveries",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("execution_name", sa.String(length=120), nullable=False),
        sa.Column("schedule_name", sa.String(length=63), nullable=False),
        sa.Column("alert_name", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1024), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alert_deliveries")),
    )
    with op.batch_alter_table("monitor_alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_alert_deliveries_execution_name"),
            ["execution_name"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_monitor_alert_deliveries_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("monitor_alert_deliveries")
    op.drop_table("monitoring_metrics")
    op.drop_table("monitoring_executions")
    op.drop_table("monitoring_schedules")
