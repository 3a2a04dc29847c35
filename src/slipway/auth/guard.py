"""The one place where a caller's role is checked: a view of the services per caller.

Interfaces (REST routes, Studio pages, and any API surface added later) take their
services from ``request_services``; each method call is checked against the role table
in ``slipway.auth.policy`` before it reaches the service. Work the server does for itself
uses the services directly.
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request

from slipway.auth.owners import OwnerService
from slipway.auth.policy import POLICY, Creates, Deletes
from slipway.auth.roles import Action, Principal, allows
from slipway.errors import Forbidden, Unauthorized


class GuardedServices:
    """The platform's services as one caller may use them."""

    def __init__(self, services: Any, principal: Principal) -> None:
        self._services = services
        self._principal = principal

    def __getattr__(self, capability: str) -> _GuardedService:
        rules = POLICY.get(capability)
        if rules is None:
            raise AttributeError(f"no service {capability!r} is open to callers")
        guarded = _GuardedService(
            capability, getattr(self._services, capability), rules, self._principal,
            self._services.owners,
        )  # fmt: skip
        setattr(self, capability, guarded)
        return guarded


class _GuardedService:
    def __init__(
        self,
        capability: str,
        service: Any,
        rules: dict[str, Any],
        principal: Principal,
        owners: OwnerService,
    ) -> None:
        self._capability = capability
        self._service = service
        self._rules = rules
        self._principal = principal
        self._owners = owners

    def __getattr__(self, method: str) -> Any:
        rule = self._rules.get(method)
        if rule is None:
            raise AttributeError(f"{self._capability}.{method} is not open to callers")
        target = getattr(self._service, method)
        what = f"call {self._capability}.{method}"
        if isinstance(rule, Deletes):
            return functools.partial(self._delete, rule, target, what)
        if isinstance(rule, Creates):
            self._principal.require(rule.action, what)
            return functools.partial(self._create, rule, target)
        self._principal.require(rule, what)
        return target

    def _create(self, rule: Creates, target: Any, *args: Any, **kwargs: Any) -> Any:
        result = target(*args, **kwargs)
        self._owners.set_owner(rule.kind, rule.name_of(result), self._principal.name)
        return result

    def _delete(self, rule: Deletes, target: Any, what: str, *args: Any, **kwargs: Any) -> Any:
        name = rule.name_of(*args, **kwargs)
        principal = self._principal
        if not allows(principal.role, Action.ADMIN):
            principal.require(Action.DELETE_OWN, what)
            if self._owners.owner_of(rule.kind, name) != principal.name:
                raise Forbidden(
                    f"{rule.kind} {name!r} was not created with token {principal.name!r}; "
                    "only its creator or an admin may delete it"
                )
        result = target(*args, **kwargs)
        self._owners.forget(rule.kind, name)
        return result


def request_services(request: Request) -> GuardedServices:
    """The services as the caller of this request may use them.

    The authentication middleware puts the caller in ``request.state.principal``; a
    request without one is refused, never trusted.
    """
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthorized("this request was not authenticated; send a token")
    return GuardedServices(request.app.state.services, principal)
