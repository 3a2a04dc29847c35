"""ASGI middleware of the server: token checks and request size limits.

Both are plain ASGI (not BaseHTTPMiddleware) so they add no task or copy per request.
"""

from __future__ import annotations

from urllib.parse import quote

import orjson
from fastapi import HTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.auth.service import TokenService

# Studio's sign-in stores the token in this cookie (HttpOnly, SameSite=Lax).
SESSION_COOKIE = "slipway_session"
SIGN_IN_PATH = "/signin"
_OPEN_PATHS = ("/healthz", SIGN_IN_PATH)
# Studio's own CSS and JavaScript (no secrets): the sign-in page needs them.
_OPEN_PREFIX = "/studio/static/"
# Artifact uploads stream to disk and are not held to the JSON body limit.
_UNLIMITED = "/artifacts/"


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


def _wants_page(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """A browser navigating to a Studio page, not a client calling the API."""
    return (
        scope["method"] in ("GET", "HEAD")
        and not scope["path"].startswith("/api/")
        and b"text/html" in headers.get(b"accept", b"")
    )


async def _redirect_to_sign_in(scope: Scope, send: Send) -> None:
    target = scope["path"] + (
        f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else ""
    )
    location = f"{SIGN_IN_PATH}?next={quote(target, safe='')}"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


class TokenAuthMiddleware:
    """Once a token exists, every request but /healthz and sign-in must bear a valid one.

    The token comes in the ``Authorization: Bearer`` header or, from Studio's pages, in
    the session cookie. A page asked for without one is redirected to the sign-in page.
    """

    def __init__(self, app: ASGIApp, tokens: TokenService) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if scope["type"] != "http" or path in _OPEN_PATHS or path.startswith(_OPEN_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        header = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        if not header:
            cookies = cookie_parser(headers.get(b"cookie", b"").decode("latin-1"))
            scheme, token = "bearer", cookies.get(SESSION_COOKIE, "")
        name = self.tokens.name_of(token.strip()) if scheme.lower() == "bearer" and token else None
        if name is not None:
            # Routes that record who acted read the token's name from the request state.
            scope.setdefault("state", {})["token_name"] = name
            await self.app(scope, receive, send)
            return
        if not self.tokens.required():
            await self.app(scope, receive, send)
            return
        if _wants_page(scope, headers):
            await _redirect_to_sign_in(scope, send)
            return
        message = (
            "this server needs a token: send 'Authorization: Bearer <token>' "
            "(set SLIPWAY_TOKEN for the SDK and CLI)"
            if not header
            else "the token is not valid; create one with `slipway token create NAME`"
        )
        await _reply(send, 401, "Unauthorized", message)


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _UNLIMITED in scope["path"]:
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
