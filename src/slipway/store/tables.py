"""Tables that belong to no single capability: artifact records, and who may do what."""

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
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
)

# Facts about the whole server, one row each: whether it requires authentication is stored
# here when the first token is made, never inferred from the tokens that happen to exist.
server_state = sa.Table(
    "server_state",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

# Studio's sign-ins: the cookie holds a random id whose hash is the key.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("token_name", sa.String(120), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

# AWS-style access keys of tokens, for clients that sign requests (SigV4). The secret is
# kept as is: verifying a signature recomputes it (see slipway.sigv4).
access_keys = sa.Table(
    "access_keys",
    metadata,
    sa.Column("access_key_id", sa.String(32), primary_key=True),
    sa.Column("token_name", sa.String(120), nullable=False, index=True),
    sa.Column("secret_access_key", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Who created a thing through the server, so that an editor may delete their own work.
resource_owners = sa.Table(
    "resource_owners",
    metadata,
    sa.Column("kind", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("owner", sa.String(120), nullable=False),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.String(2048), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("user_agent", sa.String(256), nullable=False),
)
