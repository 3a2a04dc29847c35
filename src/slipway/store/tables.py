"""Tables that belong to no single capability: artifact records and API tokens."""

from __future__ import annotations

import sqlalchemy as sa

from slipway.store.db import UTCDateTime, metadata

artifact_records = sa.Table(
    "artifact_records",
    metadata,
    sa.Column("uri", sa.String(2048), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("name", sa.String(120), primary_key=True),
    # Only a hash is kept: a leaked database does not leak working tokens.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
