"""Tokens with roles and expiry, and whether the server requires them.

Only a SHA-256 of each token is stored. A token may also have an AWS-style access key
pair for clients that sign their requests (``slipway.sigv4`` says why its
secret is stored as is). Whether authentication is on is a stored fact
(``server_state``): the first token turns it on and nothing turns it off by accident;
revoking or outliving every token leaves a server nobody can use without a new admin
token, never an open one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from slipway.auth.roles import Principal, Role
from slipway.errors import AlreadyExists, Conflict, NotFound, Unauthorized, ValidationError
from slipway.experiments.models import WireModel
from slipway.names import check_name
from slipway.store.db import Database
from slipway.store.tables import access_keys, api_tokens, server_state, sessions

TOKEN_PREFIX = "slw_"
ACCESS_KEY_PREFIX = "SLWK"
MIN_SECRET_LENGTH = 32
_AUTH_MODE = "auth_mode"
_DURATION = re.compile(r"(\d+)([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_duration(text: str) -> dt.timedelta:
    """A lifetime such as ``90m``, ``12h``, ``30d`` or ``2w``."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or int(match[1]) == 0:
        raise ValidationError(
            f"expiry {text!r} is not a duration; give a whole number with a unit: "
            "90m, 12h, 30d or 2w"
        )
    return dt.timedelta(**{_UNITS[match[2]]: int(match[1])})


class TokenInfo(WireModel):
    """What is known of a token: never the token itself."""

    name: str
    role: Role
    created_at: dt.datetime
    expires_at: dt.datetime | None = None


class CreatedToken(TokenInfo):
    token: str
    access_key_id: str | None = None
    secret_access_key: str | None = None


@dataclass(frozen=True)
class AccessKey:
    """Who signs with an access key id, and the secret to check their signatures with."""

    principal: Principal
    secret_access_key: str


def _new_access_key() -> tuple[str, str]:
    # The form of AWS's keys (20 upper-case characters, a 40-character secret), so that
    # clients which check the form accept them.
    key_id = ACCESS_KEY_PREFIX + secrets.token_hex(8).upper()
    return key_id, secrets.token_urlsafe(30)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _active(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now)


class TokenService:
    """The tokens of one metadata database."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def create_token(
        self,
        name: str,
        role: Role | str | None = None,
        expires_in: dt.timedelta | None = None,
        *,
        secret: str | None = None,
        access_key: bool = False,
    ) -> CreatedToken:
        """Make a token and return it; the secret is shown this once and never stored.

        The first token turns authentication on, so it must be an admin's (it is the one
        that can make the others); later tokens are editors' unless told otherwise. A
        ``secret`` chosen by the caller (a deployment's bootstrap token) must be long.
        With ``access_key``, the token also gets an access key pair for signed requests.
        """
        check_name("token name", name)
        if secret is not None and len(secret) < MIN_SECRET_LENGTH:
            raise ValidationError(
                f"a chosen token secret must have at least {MIN_SECRET_LENGTH} characters "
                f"(got {len(secret)}); make one with `openssl rand -hex 32`"
            )
        secret = secret or TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = _now()
        with self.db.write() as conn:
            if conn.scalar(sa.select(api_tokens.c.name).where(api_tokens.c.name == name)):
                raise AlreadyExists(
                    f"token {name!r} exists already; revoke it first or pick another name"
                )
            has_admin = self._admins(conn, now) > 0
            chosen = Role.parse(role) if isinstance(role, str) else role
            chosen = chosen or (Role.EDITOR if has_admin else Role.ADMIN)
            if not has_admin and chosen is not Role.ADMIN:
                raise ValidationError(
                    f"the first token must have the role 'admin' (asked: {chosen.value!r}): it "
                    "turns authentication on and is the one that can make the other tokens"
                )
            info = CreatedToken(
                name=name,
                role=chosen,
                created_at=now,
                expires_at=now + expires_in if expires_in else None,
                token=secret,
            )
            if access_key:
                info.access_key_id, info.secret_access_key = _new_access_key()
                conn.execute(
                    sa.insert(access_keys).values(
                        access_key_id=info.access_key_id,
                        token_name=name,
                        secret_access_key=info.secret_access_key,
                        created_at=now,
                    )
                )
            conn.execute(
                sa.insert(api_tokens).values(
                    name=name,
                    token_hash=token_hash(secret),
                    created_at=now,
                    role=chosen.value,
                    expires_at=info.expires_at,
                )
            )
            self._turn_auth_on(conn)
        return info

    def list_tokens(self) -> list[TokenInfo]:
        columns = (api_tokens.c.name, api_tokens.c.role, api_tokens.c.created_at)
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(*columns, api_tokens.c.expires_at).order_by(api_tokens.c.name)
            )
            return [
                TokenInfo(
                    name=r.name, role=r.role, created_at=r.created_at, expires_at=r.expires_at
                )
                for r in rows
            ]

    def revoke_token(self, name: str) -> None:
        """Revoke a token and end its Studio sessions; the last admin token stays."""
        with self.db.write() as conn:
            row = conn.execute(
                sa.select(api_tokens.c.role, api_tokens.c.expires_at).where(
                    api_tokens.c.name == name
                )
            ).first()
            if row is None:
                raise NotFound(f"token {name!r} not found; list tokens with `slipway token list`")
            now = _now()
            active_admin = row.role == Role.ADMIN and (
                row.expires_at is None or row.expires_at > now
            )
            if active_admin and self._admins(conn, now) == 1:
                raise Conflict(
                    f"token {name!r} is the last admin token: revoking it would leave nobody "
                    "able to manage this server; create another admin token first "
                    "(`slipway token create NAME --role admin`)"
                )
            conn.execute(sa.delete(api_tokens).where(api_tokens.c.name == name))
            conn.execute(sa.delete(sessions).where(sessions.c.token_name == name))
            conn.execute(sa.delete(access_keys).where(access_keys.c.token_name == name))

    def required(self) -> bool:
        """Whether the server requires a token: stored when the first one was made."""
        with self.db.read() as conn:
            mode = conn.scalar(
                sa.select(server_state.c.value).where(server_state.c.key == _AUTH_MODE)
            )
        return mode == "tokens"

    def authenticate(self, secret: str) -> Principal | None:
        """Who bears this token; None for a token that does not exist.

        An expired token raises Unauthorized saying so, so its holder knows what to do.
        """
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(api_tokens.c.name, api_tokens.c.role, api_tokens.c.expires_at).where(
                    api_tokens.c.token_hash == token_hash(secret)
                )
            ).first()
        if row is None:
            return None
        if row.expires_at is not None and row.expires_at <= _now():
            raise Unauthorized(
                f"token {row.name!r} expired at {row.expires_at:%Y-%m-%dT%H:%M:%SZ}; "
                "ask an admin for a new one"
            )
        return Principal(row.name, Role(row.role))

    def access_key(self, access_key_id: str) -> AccessKey | None:
        """The token behind an access key id, if the key exists; expired raises Unauthorized."""
        columns = (api_tokens.c.name, api_tokens.c.role, api_tokens.c.expires_at)
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(*columns, access_keys.c.secret_access_key)
                .join(api_tokens, api_tokens.c.name == access_keys.c.token_name)
                .where(access_keys.c.access_key_id == access_key_id)
            ).first()
        if row is None:
            return None
        if row.expires_at is not None and row.expires_at <= _now():
            raise Unauthorized(
                f"the token {row.name!r} of access key {access_key_id!r} expired at "
                f"{row.expires_at:%Y-%m-%dT%H:%M:%SZ}; ask an admin for a new one"
            )
        return AccessKey(Principal(row.name, Role(row.role)), row.secret_access_key)

    def principal_named(self, name: str) -> Principal | None:
        """The principal of a token by name, if it exists and has not expired."""
        with self.db.read() as conn:
            role = conn.scalar(
                sa.select(api_tokens.c.role).where(api_tokens.c.name == name, _active(_now()))
            )
        return Principal(name, Role(role)) if role else None

    def _admins(self, conn: sa.Connection, now: dt.datetime) -> int:
        return conn.scalar(
            sa.select(sa.func.count())
            .select_from(api_tokens)
            .where(api_tokens.c.role == Role.ADMIN.value, _active(now))
        )

    def _turn_auth_on(self, conn: sa.Connection) -> None:
        on = conn.scalar(sa.select(server_state.c.value).where(server_state.c.key == _AUTH_MODE))
        if on is None:
            conn.execute(sa.insert(server_state).values(key=_AUTH_MODE, value="tokens"))
