"""Remote mode for tokens and the audit log, and what role a server gives a token."""

from __future__ import annotations

import datetime as dt
import functools
from urllib.parse import quote

import httpx

from slipway import errors
from slipway._http import HttpClient
from slipway.auth.audit import AuditEvent
from slipway.auth.roles import Role
from slipway.auth.service import CreatedToken, TokenInfo
from slipway.experiments.models import Page


class RemoteTokens:
    """The tokens of a slipway server (an admin's token is needed)."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def required(self) -> bool:
        return self.http.request("GET", "/auth")["AuthRequired"]

    def create_token(
        self,
        name: str,
        role: Role | str | None = None,
        expires_in: dt.timedelta | None = None,
        *,
        access_key: bool = False,
    ) -> CreatedToken:
        body = {
            "Name": name,
            "Role": str(role) if role else None,
            "ExpiresInSeconds": int(expires_in.total_seconds()) if expires_in else None,
            "AccessKey": access_key or None,
        }
        clean = {key: value for key, value in body.items() if value is not None}
        return CreatedToken.model_validate(self.http.request("POST", "/tokens", json=clean))

    def list_tokens(self) -> list[TokenInfo]:
        items = self.http.request("GET", "/tokens")["Items"]
        return [TokenInfo.model_validate(item) for item in items]

    def revoke_token(self, name: str) -> None:
        self.http.request("DELETE", f"/tokens/{quote(name, safe='')}")


class RemoteAudit:
    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def list_audit_events(
        self, *, actor: str | None = None, max_results: int = 100, next_token: str | None = None
    ) -> Page[AuditEvent]:
        params = {"actor": actor, "max_results": max_results, "next_token": next_token}
        body = self.http.request("GET", "/audit", params=params)
        return Page[AuditEvent](
            items=[AuditEvent.model_validate(item) for item in body["Items"]],
            next_token=body.get("NextToken"),
        )


@functools.cache
def remote_tokens(server_url: str, token: str | None) -> RemoteTokens:
    return RemoteTokens(HttpClient(server_url, token))


@functools.cache
def remote_audit(server_url: str, token: str | None) -> RemoteAudit:
    return RemoteAudit(HttpClient(server_url, token))


def token_role(server_url: str, token: str | None) -> Role:
    """The role the server at ``server_url`` gives ``token`` (None: a caller without one).

    ``GET /api/v1/auth`` names the role of every token but an invoke one, which the whole
    REST API refuses (403). A token refused there that the data plane accepts (``GET /v2``
    needs the right to invoke) may call endpoints and nothing else: by the role table,
    that is an invoke token. An invalid or expired token raises Unauthorized.
    """
    http = HttpClient(server_url, token)
    try:
        return Role(http.request("GET", "/auth")["Role"])
    except errors.Forbidden:
        if not token or not _may_invoke(http.base_url, token):
            raise
        return Role.INVOKE
    finally:
        http.close()


def _may_invoke(base_url: str, token: str) -> bool:
    try:
        answer = httpx.get(f"{base_url}/v2", headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as error:
        raise errors.RemoteError(
            f"cannot reach the slipway server at {base_url}: {error}"
        ) from None
    return answer.status_code == 200
