"""SQL tables of hosting: models, endpoint configs and endpoints.

Nested reference structures (a container definition, production variants, a data
capture config) are stored as JSON in their wire shape: they are read and written whole.
An endpoint keeps a snapshot of the config and models it was deployed with (``spec``),
as the reference does: deleting a config or model later leaves a running endpoint as it is.
"""

from __future__ import annotations

import sqlalchemy as sa

from slipway.store.db import UTCDateTime, metadata

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

serving_models = sa.Table(
    "serving_models",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
    sa.Column("container", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
)

endpoint_configs = sa.Table(
    "endpoint_configs",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
    sa.Column("variants", sa.JSON, nullable=False),
    sa.Column("data_capture", sa.JSON),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
)

endpoints = sa.Table(
    "endpoints",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
    sa.Column("config_name", sa.String(63), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("failure_reason", sa.String(1024)),
    # The deployed {"EndpointConfig": ..., "Models": {...}}; bumped `version` on change.
    sa.Column("spec", sa.JSON),
    sa.Column("version", sa.Integer, nullable=False),
    # What an update is bringing in while the endpoint is Updating.
    sa.Column("pending_config_name", sa.String(63)),
    sa.Column("pending_spec", sa.JSON),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("modified_at", UTCDateTime, nullable=False),
)
