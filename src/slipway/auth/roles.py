"""Roles, the actions each may take, and who is calling.

One table says what a role may do; every check in slipway asks it (``allows``), so a
role means the same through the REST API, Studio, the data plane and any other surface.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from slipway.errors import Forbidden, ValidationError


class Role(enum.StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"
    # For SQL functions and applications: may call endpoints and nothing else.
    INVOKE = "invoke"

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.strip().lower())
        except ValueError:
            names = ", ".join(role.value for role in cls)
            raise ValidationError(f"role {value!r} is not one of: {names}") from None


class Action(enum.StrEnum):
    READ = "read"  # look at anything: lists, descriptions, logs, Studio pages
    WRITE = "write"  # log, create, update, run jobs, deploy, stop
    INVOKE = "invoke"  # call an endpoint's model
    DELETE_OWN = "delete-own"  # delete what this token created
    ADMIN = "admin"  # tokens, the audit log, deleting anyone's work


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset({Action.READ}),
    Role.EDITOR: frozenset({Action.READ, Action.WRITE, Action.INVOKE, Action.DELETE_OWN}),
    Role.ADMIN: frozenset(Action),
    Role.INVOKE: frozenset({Action.INVOKE}),
}


def allows(role: Role, action: Action) -> bool:
    return action in _ALLOWED[role]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name and role (``anonymous`` on a server without auth)."""

    name: str
    role: Role

    def require(self, action: Action, what: str) -> None:
        if not allows(self.role, action):
            raise Forbidden(
                f"token {self.name!r} has the role {self.role.value!r}, which may not {what}; "
                f"ask an admin for a token whose role allows it"
            )


# A server that runs without authentication (loopback only, or told so) trusts everyone
# as its owner.
OWNER = Principal("anonymous", Role.ADMIN)
# In-process callers (embedded SDK, CLI on the local home, background work) own the store.
LOCAL = Principal("local", Role.ADMIN)
