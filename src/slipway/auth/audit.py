"""The audit log: every state-changing request to the server, who made it, from where."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from slipway.errors import ValidationError
from slipway.experiments.expressions import decode_token, encode_token
from slipway.experiments.models import Page, WireModel
from slipway.store.db import Database
from slipway.store.tables import audit_events

MAX_RESULTS = 1000


class AuditEvent(WireModel):
    id: int
    at: dt.datetime
    actor: str
    role: str
    method: str
    path: str
    status: int
    client: str
    user_agent: str


class AuditService:
    """Writes and reads the audit log of one metadata database."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def record_event(
        self,
        *,
        actor: str,
        role: str,
        method: str,
        path: str,
        status: int,
        client: str,
        user_agent: str,
    ) -> None:
        with self.db.write() as conn:
            conn.execute(
                sa.insert(audit_events).values(
                    at=dt.datetime.now(dt.UTC),
                    actor=actor[:120],
                    role=role[:16],
                    method=method[:10],
                    path=path[:2048],
                    status=status,
                    client=client[:64],
                    user_agent=user_agent[:256],
                )
            )

    def list_audit_events(
        self,
        *,
        actor: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[AuditEvent]:
        """Newest first; ``next_token`` continues below the last event of a page."""
        if not 1 <= max_results <= MAX_RESULTS:
            raise ValidationError(
                f"max_results {max_results} is out of range; give 1 to {MAX_RESULTS}"
            )
        query = sa.select(audit_events).order_by(audit_events.c.id.desc()).limit(max_results + 1)
        if next_token:
            query = query.where(audit_events.c.id < decode_token(next_token))
        if actor:
            query = query.where(audit_events.c.actor == actor)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        items = [AuditEvent.model_validate(row._mapping) for row in rows[:max_results]]
        more = len(rows) > max_results
        return Page[AuditEvent](
            items=items, next_token=encode_token(items[-1].id) if more else None
        )
