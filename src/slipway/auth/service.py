"""Create, check and revoke API tokens. Only a SHA-256 of each token is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from slipway.errors import AlreadyExists, NotFound
from slipway.names import check_name
from slipway.store.db import Database
from slipway.store.tables import api_tokens

TOKEN_PREFIX = "slw_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    """The tokens of one metadata database."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def create_token(self, name: str) -> str:
        """Make a new token and return it; it is shown this once and never stored."""
        check_name("token name", name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.write() as conn:
            exists = conn.scalar(sa.select(api_tokens.c.name).where(api_tokens.c.name == name))
            if exists:
                raise AlreadyExists(
                    f"token {name!r} exists already; revoke it first or pick another name"
                )
            conn.execute(
                sa.insert(api_tokens).values(
                    name=name, token_hash=_hash(token), created_at=dt.datetime.now(dt.UTC)
                )
            )
        return token

    def list_tokens(self) -> list[dict[str, object]]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(api_tokens.c.name, api_tokens.c.created_at))
            return [{"name": r.name, "created_at": r.created_at} for r in rows]

    def revoke_token(self, name: str) -> None:
        with self.db.write() as conn:
            result = conn.execute(sa.delete(api_tokens).where(api_tokens.c.name == name))
        if result.rowcount == 0:
            raise NotFound(f"token {name!r} not found; list tokens with `slipway token list`")

    def required(self) -> bool:
        """Tokens are required as soon as one exists."""
        with self.db.read() as conn:
            return (
                conn.scalar(sa.select(sa.literal(1)).select_from(api_tokens).limit(1)) is not None
            )

    def name_of(self, token: str) -> str | None:
        """The name of the token presented, or None when no such token exists."""
        with self.db.read() as conn:
            return conn.scalar(
                sa.select(api_tokens.c.name).where(api_tokens.c.token_hash == _hash(token))
            )

    def is_valid(self, token: str) -> bool:
        return self.name_of(token) is not None
