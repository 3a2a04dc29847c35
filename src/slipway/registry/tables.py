"""SQL tables of the model registry: groups, their versions and each version's approvals."""

from __future__ import annotations

import sqlalchemy as sa

from slipway.store.db import UTCDateTime, metadata

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

model_package_groups = sa.Table(
    "model_package_groups",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
    sa.Column("description", sa.String(1024)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("created_by", sa.String(120), nullable=False),
    # The last version number handed out. Registering increments it in place, which
    # serialises concurrent registrations on this row; numbers of deleted versions are
    # never handed out again, so an ARN always means one model.
    sa.Column("last_version", sa.Integer, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
)

model_packages = sa.Table(
    "model_packages",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "group_id",
        _ID,
        sa.ForeignKey("model_package_groups.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("description", sa.String(1024)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("approval_status", sa.String(32), nullable=False, index=True),
    sa.Column("approval_description", sa.String(1024)),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("created_by", sa.String(120), nullable=False),
    sa.Column("modified_at", UTCDateTime, nullable=False),
    sa.Column("modified_by", sa.String(120), nullable=False),
    sa.Column("training_job_name", sa.String(120), index=True),
    sa.Column("inference_specification", sa.JSON, nullable=False),
    sa.Column("model_metrics", sa.JSON, nullable=False),
    sa.Column("metadata_properties", sa.JSON),
    sa.Column("lineage", sa.JSON),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.UniqueConstraint("group_id", "version"),
    # The latest approved version of a group is one index lookup (deployments ask often).
    sa.Index(None, "group_id", "approval_status", "version"),
)

model_package_approvals = sa.Table(
    "model_package_approvals",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "package_id",
        _ID,
        sa.ForeignKey("model_packages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("description", sa.String(1024)),
    sa.Column("changed_by", sa.String(120), nullable=False),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Index(None, "package_id", "id"),
)
