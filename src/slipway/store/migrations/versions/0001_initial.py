"""experiments, trial components, metrics, tokens

Revision ID: 0001
Revises:
Create Date: 2026-11-26 00:37:58.123978
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import slipway.store.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_tokens",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", slipway.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "artifact_records",
        sa.Column("uri", sa.String(length=2048), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", slipway.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_artifact_records")),
    )
    op.create_table(
        "experiments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=3072), nullable=True),
        sa.Column("created_at", slipway.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", slipway.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("name", name=op.f("uq_experiments_name")),
    )
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_experiments_created_at"), ["created_at"], unique=False)

    op.create_table(
        "trial_components",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_message", sa.String(length=1024), nullable=True),
        sa.Column("start_time", slipway.store.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_time", slipway.store.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", slipway.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", slipway.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source_arn", sa.String(length=256), nullable=True),
        sa.Column("source_type", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_components")),
        sa.UniqueConstraint("name", name=op.f("uq_trial_components_name")),
    )
    with op.batch_alter_table("trial_components", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trial_components_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_trial_components_display_name"), ["display_name"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_trial_components_source_arn"), ["source_arn"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_trial_components_status"), ["status"], unique=False)

    op.create_table(
        "experiment_tags",
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_tags_owner_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "key", name=op.f("pk_experiment_tags")),
    )
    with op.batch_alter_table("experiment_tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_experiment_tags_key_value"), ["key", "value"], unique=False
        )

    op.create_table(
        "metric_batches",
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column(
            "trial_component_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("created_at", slipway.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_component_id"],
            ["trial_components.id"],
            name=op.f("fk_metric_batches_trial_component_id_trial_components"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_metric_batches")),
    )
    with op.batch_alter_table("metric_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_metric_batches_trial_component_id"), ["trial_component_id"], unique=False
        )

    op.create_table(
        "metric_points",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "trial_component_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=True),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["trial_component_id"],
            ["trial_components.id"],
            name=op.f("fk_metric_points_trial_component_id_trial_components"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_points")),
    )
    with op.batch_alter_table("metric_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_metric_points_trial_component_id_name_step"),
            ["trial_component_id", "name", "step"],
            unique=False,
        )

    op.create_table(
        "metric_summaries",
        sa.Column(
            "trial_component_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("min", sa.Float(), nullable=True),
        sa.Column("max", sa.Float(), nullable=True),
        sa.Column("avg", sa.Float(), nullable=True),
        sa.Column("m2", sa.Float(), nullable=True),
        sa.Column("std_dev", sa.Float(), nullable=True),
        sa.Column("last", sa.Float(), nullable=True),
        sa.Column("last_timestamp", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["trial_component_id"],
            ["trial_components.id"],
            name=op.f("fk_metric_summaries_trial_component_id_trial_components"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trial_component_id", "name", name=op.f("pk_metric_summaries")),
    )
    with op.batch_alter_table("metric_summaries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_metric_summaries_name_avg"), ["name", "avg"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_metric_summaries_name_last"), ["name", "last"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_metric_summaries_name_max"), ["name", "max"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_metric_summaries_name_min"), ["name", "min"], unique=False
        )

    op.create_table(
        "trial_component_artifacts",
        sa.Column(
            "trial_component_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["trial_component_id"],
            ["trial_components.id"],
            name=op.f("fk_trial_component_artifacts_trial_component_id_trial_components"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "trial_component_id", "direction", "name", name=op.f("pk_trial_component_artifacts")
        ),
    )
    op.create_table(
        "trial_component_parameters",
        sa.Column(
            "trial_component_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("number_value", sa.Float(), nullable=True),
        sa.Column("string_value", sa.String(length=2500), nullable=True),
        sa.ForeignKeyConstraint(
            ["trial_component_id"],
            ["trial_components.id"],
            name=op.f("fk_trial_component_parameters_trial_component_id_trial_components"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "trial_component_id", "name", name=op.f("pk_trial_component_parameters")
        ),
    )
    with op.batch_alter_table("trial_component_parameters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trial_component_parameters_name_number_value"),
            ["name", "number_value"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_trial_component_parameters_name_string_value"),
            ["name", "string_value"],
            unique=False,
        )

    op.create_table(
        "trial_component_tags",
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["trial_components.id"],
            name=op.f("fk_trial_component_tags_owner_id_trial_components"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "key", name=op.f("pk_trial_component_tags")),
    )
    with op.batch_alter_table("trial_component_tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trial_component_tags_key_value"), ["key", "value"], unique=False
        )

    op.create_table(
        "trials",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column(
            "experiment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", slipway.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", slipway.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_trials_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
        sa.UniqueConstraint("name", name=op.f("uq_trials_name")),
    )
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trials_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_trials_experiment_id"), ["experiment_id"], unique=False
        )

    op.create_table(
        "trial_component_links",
        sa.Column("trial_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "trial_component_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["trial_component_id"],
            ["trial_components.id"],
            name=op.f("fk_trial_component_links_trial_component_id_trial_components"),
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trials.id"],
            name=op.f("fk_trial_component_links_trial_id_trials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "trial_id", "trial_component_id", name=op.f("pk_trial_component_links")
        ),
    )
    with op.batch_alter_table("trial_component_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trial_component_links_trial_component_id"),
            ["trial_component_id"],
            unique=False,
        )

    op.create_table(
        "trial_tags",
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["trials.id"],
            name=op.f("fk_trial_tags_owner_id_trials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "key", name=op.f("pk_trial_tags")),
    )
    with op.batch_alter_table("trial_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trial_tags_key_value"), ["key", "value"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("trial_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_tags_key_value"))

    op.drop_table("trial_tags")
    with op.batch_alter_table("trial_component_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_component_links_trial_component_id"))

    op.drop_table("trial_component_links")
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trials_experiment_id"))
        batch_op.drop_index(batch_op.f("ix_trials_created_at"))

    op.drop_table("trials")
    with op.batch_alter_table("trial_component_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_component_tags_key_value"))

    op.drop_table("trial_component_tags")
    with op.batch_alter_table("trial_component_parameters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_component_parameters_name_string_value"))
        batch_op.drop_index(batch_op.f("ix_trial_component_parameters_name_number_value"))

    op.drop_table("trial_component_parameters")
    op.drop_table("trial_component_artifacts")
    with op.batch_alter_table("metric_summaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_summaries_name_min"))
        batch_op.drop_index(batch_op.f("ix_metric_summaries_name_max"))
        batch_op.drop_index(batch_op.f("ix_metric_summaries_name_last"))
        batch_op.drop_index(batch_op.f("ix_metric_summaries_name_avg"))

    op.drop_table("metric_summaries")
    with op.batch_alter_table("metric_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_points_trial_component_id_name_step"))

    op.drop_table("metric_points")
    with op.batch_alter_table("metric_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_batches_trial_component_id"))

    op.drop_table("metric_batches")
    with op.batch_alter_table("experiment_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experiment_tags_key_value"))

    op.drop_table("experiment_tags")
    with op.batch_alter_table("trial_components", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_components_status"))
        batch_op.drop_index(batch_op.f("ix_trial_components_source_arn"))
        batch_op.drop_index(batch_op.f("ix_trial_components_display_name"))
        batch_op.drop_index(batch_op.f("ix_trial_components_created_at"))

    op.drop_table("trial_components")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experiments_created_at"))

    op.drop_table("experiments")
    op.drop_table("artifact_records")
    op.drop_table("api_tokens")
