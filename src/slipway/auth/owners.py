"""Who created what through the server, so that editors may delete their own work."""

from __future__ import annotations

import sqlalchemy as sa

from slipway.store.db import Database
from slipway.store.tables import resource_owners


class OwnerService:
    def __init__(self, database: Database) -> None:
        self.db = database

    def set_owner(self, kind: str, name: str, owner: str) -> None:
        with self.db.write() as conn:
            key = (resource_owners.c.kind == kind) & (resource_owners.c.name == name)
            conn.execute(sa.delete(resource_owners).where(key))
            conn.execute(sa.insert(resource_owners).values(kind=kind, name=name, owner=owner))

    def owner_of(self, kind: str, name: str) -> str | None:
        with self.db.read() as conn:
            return conn.scalar(
                sa.select(resource_owners.c.owner).where(
                    resource_owners.c.kind == kind, resource_owners.c.name == name
                )
            )

    def forget(self, kind: str, name: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                sa.delete(resource_owners).where(
                    resource_owners.c.kind == kind, resource_owners.c.name == name
                )
            )
