"""Alembic migrations, run from code: `slipway db upgrade` and the embedded first use."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "slipway.store:migrations")
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Migrate to head; cheap when the schema is current, which is the common case."""
    if current_revision(engine) == head_revision():
        return
    command.upgrade(alembic_config(engine), "head")
