"""metric points: an index in the order a metric's points are read

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 19:30:00.000000

A page of a metric's points starts after the last point of the previous page; with
(step, timestamp, id) in the index, the database finds that place and reads the page in
order without sorting or skipping the points before it.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_OLD = ["trial_component_id", "name", "step"]
_NEW = ["trial_component_id", "name", "step", "timestamp", "id"]


def upgrade() -> None:
    with op.batch_alter_table("metric_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_points_trial_component_id_name_step"))
        batch_op.create_index(
            batch_op.f("ix_metric_points_trial_component_id_name_step_timestamp_id"), _NEW
        )


def downgrade() -> None:
    with op.batch_alter_table("metric_points", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_metric_points_trial_component_id_name_step_timestamp_id")
        )
        batch_op.create_index(batch_op.f("ix_metric_points_trial_component_id_name_step"), _OLD)
