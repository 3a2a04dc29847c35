"""serving: models, endpoint configs and endpoints

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 01:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import slipway.store.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = slipway.store.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "serving_models",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("container", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serving_models")),
        sa.UniqueConstraint("name", name=op.f("uq_serving_models_name")),
    )
    with op.batch_alter_table("serving_models", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_serving_models_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "endpoint_configs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("data_capture", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endpoint_configs")),
        sa.UniqueConstraint("name", name=op.f("uq_endpoint_configs_name")),
    )
    with op.batch_alter_table("endpoint_configs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_endpoint_configs_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "endpoints",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("config_name", sa.String(length=63), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.String(length=1024), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pending_config_name", sa.String(length=63), nullable=True),
        sa.Column("pending_spec", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("modified_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endpoints")),
        sa.UniqueConstraint("name", name=op.f("uq_endpoints_name")),
    )
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_endpoints_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_endpoints_status"), ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("endpoints")
    op.drop_table("endpoint_configs")
    op.drop_table("serving_models")
