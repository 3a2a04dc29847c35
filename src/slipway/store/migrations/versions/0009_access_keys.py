"""access keys: AWS-style key pairs of tokens, for clients that sign requests (SigV4)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import slipway.store.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TIME = slipway.store.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(length=32), nullable=False),
        sa.Column("token_name", sa.String(length=120), nullable=False),
        sa.Column("secret_access_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("access_key_id", name=op.f("pk_access_keys")),
    )
    op.create_index(op.f("ix_access_keys_token_name"), "access_keys", ["token_name"], unique=False)


def downgrade() -> None:
    op.drop_table("access_keys")
