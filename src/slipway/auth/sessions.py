"""Studio's sign-in sessions: opaque, stored server-side, with expiry and revocation.

The cookie holds a random id, never a token; the database keeps only its hash. A
session acts with its token's current role, so revoking the token (or its expiry) ends
the session at once.
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa

from slipway.auth.roles import Principal
from slipway.auth.service import TokenService, token_hash
from slipway.store.db import Database
from slipway.store.tables import sessions

# Over HTTPS the cookie takes the __Host- prefix: the browser then keeps it to this exact
# host, path / and secure connections, and no sibling subdomain can set or shadow it.
SESSION_COOKIE = "slipway_session"
SECURE_SESSION_COOKIE = "__Host-slipway_session"


def session_id_of(cookies: dict[str, str]) -> str:
    return cookies.get(SECURE_SESSION_COOKIE) or cookies.get(SESSION_COOKIE) or ""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SessionService:
    """Start, resolve and end sign-in sessions."""

    def __init__(self, database: Database, tokens: TokenService, lifetime: dt.timedelta) -> None:
        self.db = database
        self.tokens = tokens
        self.lifetime = lifetime

    def start_session(self, principal: Principal) -> str:
        """A new session id for the token's holder; it is handed to the browser once."""
        session_id = secrets.token_urlsafe(32)
        now = _now()
        with self.db.write() as conn:
            # Sign-ins are rare: sweeping expired rows here keeps the table small.
            conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= now))
            conn.execute(
                sa.insert(sessions).values(
                    id_hash=token_hash(session_id),
                    token_name=principal.name,
                    created_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        return session_id

    def principal_of(self, session_id: str) -> Principal | None:
        """Who the session acts for; None once it ended, expired or lost its token."""
        with self.db.read() as conn:
            name = conn.scalar(
                sa.select(sessions.c.token_name).where(
                    sessions.c.id_hash == token_hash(session_id), sessions.c.expires_at > _now()
                )
            )
        return self.tokens.principal_named(name) if name else None

    def end_session(self, session_id: str) -> None:
        with self.db.write() as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.id_hash == token_hash(session_id)))
