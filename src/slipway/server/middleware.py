"""ASGI middleware of the server: token checks and request size limits.

Both are plain ASGI (not BaseHTTPMiddleware) so they add no task or copy per request.
"""

from __future__ import annotations

import orjson
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.auth.service import TokenService

_OPEN_PATHS = ("/healthz",)
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


class TokenAuthMiddleware:
    """Once a token exists, every request but /healthz must bear a valid one."""

    def __init__(self, app: ASGIApp, tokens: TokenService) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        name = self.tokens.name_of(token.strip()) if scheme.lower() == "bearer" else None
        if name is not None:
            # Routes that record who acted read the token's name from the request state.
            scope.setdefault("state", {})["token_name"] = name
            await self.app(scope, receive, send)
            return
        if not self.tokens.required():
            await self.app(scope, receive, send)
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
