"""SQL tables of experiments, trials, trial components and their metrics."""

from __future__ import annotations

import sqlalchemy as sa

from slipway.store.db import UTCDateTime, metadata

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete="CASCADE")


experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(120), nullable=False, unique=True),
    sa.Column("display_name", sa.String(120), nullable=False),
    sa.Column("description", sa.String(3072)),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("modified_at", UTCDateTime, nullable=False),
)

trials = sa.Table(
    "trials",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(120), nullable=False, unique=True),
    sa.Column("display_name", sa.String(120), nullable=False),
    sa.Column("experiment_id", _ID, _fk("experiments"), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("modified_at", UTCDateTime, nullable=False),
)

trial_components = sa.Table(
    "trial_components",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(120), nullable=False, unique=True),
    sa.Column("display_name", sa.String(120), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("status_message", sa.String(1024)),
    sa.Column("start_time", UTCDateTime),
    sa.Column("end_time", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("modified_at", UTCDateTime, nullable=False),
    sa.Column("source_arn", sa.String(256), index=True),
    sa.Column("source_type", sa.String(64)),
)

trial_component_links = sa.Table(
    "trial_component_links",
    metadata,
    sa.Column("trial_id", _ID, _fk("trials"), primary_key=True),
    # No cascade: a component still in a trial must be disassociated before deletion.
    sa.Column("trial_component_id", _ID, sa.ForeignKey("trial_components.id"), primary_key=True),
    sa.Index(None, "trial_component_id"),
)


def _tag_table(owner: str) -> sa.Table:
    singular = owner.removesuffix("s")
    return sa.Table(
        f"{singular}_tags",
        metadata,
        sa.Column("owner_id", _ID, _fk(owner), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Index(None, "key", "value"),
    )


experiment_tags = _tag_table("experiments")
trial_tags = _tag_table("trials")
trial_component_tags = _tag_table("trial_components")

parameters = sa.Table(
    "trial_component_parameters",
    metadata,
    sa.Column("trial_component_id", _ID, _fk("trial_components"), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("number_value", sa.Float),
    sa.Column("string_value", sa.String(2500)),
    sa.Index(None, "name", "number_value"),
    sa.Index(None, "name", "string_value"),
)

artifacts = sa.Table(
    "trial_component_artifacts",
    metadata,
    sa.Column("trial_component_id", _ID, _fk("trial_components"), primary_key=True),
    sa.Column("direction", sa.String(6), primary_key=True),  # "input" | "output"
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("value", sa.String(2048), nullable=False),
    sa.Column("media_type", sa.String(64)),
)

# One row per (component, metric), updated in place by each batch of points: the running
# count, mean and sum of squared deviations (Welford/Chan) give an exact standard deviation.
metric_summaries = sa.Table(
    "metric_summaries",
    metadata,
    sa.Column("trial_component_id", _ID, _fk("trial_components"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("min", sa.Float),
    sa.Column("max", sa.Float),
    sa.Column("avg", sa.Float),
    sa.Column("m2", sa.Float),
    sa.Column("std_dev", sa.Float),
    sa.Column("last", sa.Float),
    sa.Column("last_timestamp", sa.Float),
    sa.Index(None, "name", "max"),
    sa.Index(None, "name", "min"),
    sa.Index(None, "name", "avg"),
    sa.Index(None, "name", "last"),
)

# Every point as logged. value NULL stands for NaN (SQLite cannot store NaN).
metric_points = sa.Table(
    "metric_points",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("trial_component_id", _ID, _fk("trial_components"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("step", sa.BigInteger),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("value", sa.Float),
    # In the order a metric's points are read, so that a page of them starts where it should.
    sa.Index(None, "trial_component_id", "name", "step", "timestamp", "id"),
)

# Ids of metric batches already stored: a client that resends a batch after losing the
# server's answer (a timeout, a restart) must not count its points twice.
metric_batches = sa.Table(
    "metric_batches",
    metadata,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("trial_component_id", _ID, _fk("trial_components"), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
