"""ASGI middleware of the server: host and origin checks, authentication, the audit log,
request size limits.

All are plain ASGI (not BaseHTTPMiddleware) so they add no task or copy per request.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.auth.roles import OWNER, Principal, Role
from slipway.auth.sessions import session_id_of
from slipway.errors import SlipwayError
from slipway.s3 import auth as s3_auth
from slipway.sagemaker import auth as aws_auth

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Open to anyone: health, and Studio's sign-in page with its own CSS and JavaScript.
_OPEN_PATHS = frozenset({"/healthz"})
_OPEN_PREFIX = "/studio/static/"
# A monitor report's scripts (plotly.js and the code that draws its charts; no data): the
# report runs sandboxed, in an opaque origin whose requests carry no session cookie.
_REPORT_SCRIPTS = re.compile(r"/api/v1/monitoring-executions/[^/]+/(plotly\.min|report)\.js")
# Artifact uploads (also S3's) stream to disk and are not held to the JSON body limit.
_UNLIMITED = "/artifacts/"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


async def _reply(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error": code, "message": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    """The name of a Host header, without its port; IPv6 addresses keep no brackets."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")].lower()
    return host_header.rsplit(":", 1)[0].lower() if ":" in host_header else host_header.lower()


class OriginCheckMiddleware:
    """Refuse requests for other host names, and state changes sent from other sites.

    A page on another site can make the browser send requests here: to a name that the
    attacker points at this machine (DNS rebinding: the Host header is the attacker's) or
    straight at this server's address (cross-site requests carry the browser's cookies).
    Requests that bear an ``Authorization`` header are not at risk: a page cannot add one
    to another site's request without a CORS preflight, which this server never allows.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        hosts = {host.lower().strip("[]") for host in allowed_hosts}
        self.any_host = "*" in hosts
        self.exact = {host for host in hosts if not host.startswith("*.")}
        self.suffixes = tuple(host[1:] for host in hosts if host.startswith("*."))

    def _allowed(self, host: str) -> bool:
        return self.any_host or host in self.exact or host.endswith(self.suffixes or ("\0",))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host_header = _header(scope, b"host")
        host = _host_name(host_header)
        if not self._allowed(host):
            await _reply(
                send, 400, "BadRequest",
                f"host {host_header!r} is not served here; start the server with "
                f"--allowed-hosts {host or 'NAME'} if clients reach it by that name",
            )  # fmt: skip
            return
        if scope["type"] == "http" and scope["method"] not in _SAFE_METHODS:
            problem = self._cross_site(scope, host_header)
            if problem:
                await _reply(send, 403, "Forbidden", problem)
                return
        await self.app(scope, receive, send)

    def _cross_site(self, scope: Scope, host_header: str) -> str:
        if _header(scope, b"authorization"):
            return ""
        fetch_site = _header(scope, b"sec-fetch-site")
        origin = _header(scope, b"origin")
        if fetch_site in ("cross-site", "same-site") or (
            origin and (origin == "null" or urlsplit(origin).netloc != host_header)
        ):
            return (
                f"a {scope['method']} from another site (origin {origin or fetch_site!r}) "
                "is refused; send the request from this server's own pages, or with "
                "'Authorization: Bearer <token>'"
            )
        return ""


def _wants_page(scope: Scope) -> bool:
    """A browser navigating to a Studio page, not a client calling the API."""
    return (
        scope["method"] in ("GET", "HEAD")
        and not scope["path"].startswith("/api/")
        and "text/html" in _header(scope, b"accept")
    )


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


class AuthMiddleware:
    """Say who calls (``scope["state"]["principal"]``), refuse who may not, audit changes.

    The caller bears a token (``Authorization: Bearer``), signs with a token's AWS access
    key (``slipway.sagemaker.auth``; ``slipway.s3.auth`` for S3's requests) or, from
    Studio's pages, has a session cookie. A server that does not require tokens treats an
    anonymous caller as its owner. What each caller may do is decided by the services'
    guard (``slipway.auth.guard``); here only who it is. Every state-changing request is
    written to the audit log with its outcome, refused ones too.
    """

    def __init__(self, app: ASGIApp, services: Any, sign_in_path: str) -> None:
        self.app = app
        self.services = services
        self.sign_in_path = sign_in_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIX) or _REPORT_SCRIPTS.fullmatch(path):
            await self.app(scope, receive, send)
            return
        audited = scope["method"] not in _SAFE_METHODS
        status = 500
        principal: Principal | None = None

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if s3_auth.is_s3_request(scope):
                principal = await s3_auth.authenticate(
                    scope, receive, send_noting_status, self.services.tokens
                )
            elif aws_auth.is_aws_request(scope):
                max_bytes = self.services.settings.max_body_bytes
                principal, receive = await aws_auth.authenticate(
                    scope, receive, send_noting_status, self.services.tokens, max_bytes
                )
            else:
                principal = await self._authenticate(scope, send_noting_status)
            if principal is not None:
                scope.setdefault("state", {})["principal"] = principal
                await self.app(scope, receive, send_noting_status)
        finally:
            if audited:
                await run_in_threadpool(self._audit, scope, principal, status)

    async def _authenticate(self, scope: Scope, send: Send) -> Principal | None:
        """The caller, or None once a refusal has been sent."""
        header = _header(scope, b"authorization")
        scheme, _, secret = header.partition(" ")
        try:
            if header:
                principal = None
                if scheme.lower() == "bearer" and secret.strip():
                    principal = await run_in_threadpool(
                        self.services.tokens.authenticate, secret.strip()
                    )
                if principal is None:
                    await _reply(
                        send, 401, "Unauthorized",
                        "the token is not valid; create one with `slipway token create NAME`",
                    )  # fmt: skip
                    return None
            else:
                principal = await run_in_threadpool(self._anonymous_or_session, scope)
        except SlipwayError as error:
            await _reply(send, error.status_code, error.code, error.message)
            return None
        if principal is None:
            if _wants_page(scope):
                await _redirect(send, self._sign_in_location(scope))
            else:
                await _reply(
                    send, 401, "Unauthorized",
                    "this server needs a token: send 'Authorization: Bearer <token>' "
                    "(set SLIPWAY_TOKEN for the SDK and CLI)",
                )  # fmt: skip
            return None
        if principal.role is Role.INVOKE and scope["path"] != self.sign_in_path:
            await _reply(
                send, 403, "Forbidden",
                f"token {principal.name!r} has the role 'invoke', which may only call "
                "endpoints (POST /endpoints/NAME/invocations)",
            )  # fmt: skip
            return None
        return principal

    def _anonymous_or_session(self, scope: Scope) -> Principal | None:
        cookies = cookie_parser(_header(scope, b"cookie"))
        session_id = session_id_of(cookies)
        if session_id:
            principal = self.services.sessions.principal_of(session_id)
            if principal is not None:
                return principal
        if not self.services.tokens.required():
            return OWNER
        # Signing in is the one thing a caller without a token may do.
        return Principal("anonymous", Role.VIEWER) if scope["path"] == self.sign_in_path else None

    def _sign_in_location(self, scope: Scope) -> str:
        query = scope["query_string"].decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        return f"{self.sign_in_path}?next={quote(target, safe='')}"

    def _audit(self, scope: Scope, principal: Principal | None, status: int) -> None:
        client = scope.get("client")
        self.services.audit.record_event(
            actor=principal.name if principal else "unknown",
            role=principal.role.value if principal else "",
            method=scope["method"],
            path=scope["path"],
            status=status,
            client=client[0] if client else "",
            user_agent=_header(scope, b"user-agent"),
        )


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _UNLIMITED in scope["path"] or s3_auth.is_s3_request(scope):
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is over the limit of {self.max_bytes} bytes"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _reply(send, 413, "PayloadTooLarge", too_large)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body reading; the app's handler answers 413.
                    raise HTTPException(status_code=413, detail=too_large)
            return message

        await self.app(scope, counting_receive, send)
