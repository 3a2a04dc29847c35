"""Alembic environment: the engine comes from the caller, the tables from slipway."""

from __future__ import annotations

from alembic import context

# Importing the table modules registers their tables on the shared metadata.
import slipway.experiments.tables
import slipway.jobs.tables
import slipway.monitor.tables
import slipway.registry.tables
import slipway.serving.tables
import slipway.store.tables  # noqa: F401
from slipway.store.db import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    if engine.dialect.name == "sqlite":  # its driver opens no transaction: one migration, one
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # transaction, under the writer's lock
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
