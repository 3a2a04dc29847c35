"""REST routes of access control under ``/api/v1``: tokens, the audit log, who am I."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field, StrictBool

from slipway.auth.audit import MAX_RESULTS
from slipway.auth.guard import GuardedServices, request_services
from slipway.auth.roles import Role
from slipway.auth.service import CreatedToken, TokenInfo
from slipway.experiments.models import WireModel
from slipway.names import entity_name
from slipway.wire import PageToken

router = APIRouter(prefix="/api/v1", tags=["access"])
Services = Annotated[GuardedServices, Depends(request_services)]
TokenName = entity_name("token name")


class CreateToken(WireModel):
    name: TokenName
    role: Role | None = None
    expires_in_seconds: Annotated[int, Field(ge=60, le=10 * 365 * 86400)] | None = None
    access_key: StrictBool = False


class AuthStatus(WireModel):
    auth_required: bool
    caller: str
    role: Role


@router.get("/auth")
def auth_status(request: Request, svc: Services) -> AuthStatus:
    principal = request.state.principal
    return AuthStatus(
        auth_required=svc.tokens.required(), caller=principal.name, role=principal.role
    )


@router.get("/tokens")
def list_tokens(svc: Services) -> dict[str, list[TokenInfo]]:
    return {"Items": svc.tokens.list_tokens()}


@router.post("/tokens", status_code=201)
def create_token(body: CreateToken, svc: Services) -> CreatedToken:
    lifetime = dt.timedelta(seconds=body.expires_in_seconds) if body.expires_in_seconds else None
    return svc.tokens.create_token(body.name, body.role, lifetime, access_key=body.access_key)


@router.delete("/tokens/{name}", status_code=204)
def revoke_token(name: TokenName, svc: Services) -> None:
    svc.tokens.revoke_token(name)


@router.get("/audit")
def list_audit_events(
    svc: Services,
    actor: str | None = None,
    max_results: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 100,
    next_token: PageToken | None = None,
) -> dict[str, Any]:
    page = svc.audit.list_audit_events(actor=actor, max_results=max_results, next_token=next_token)
    return {"Items": [e.to_wire() for e in page.items], "NextToken": page.next_token}
