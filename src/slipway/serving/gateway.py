"""The serving data plane in front of ``slipway server``'s REST API (an ASGI middleware).

Routes ``/endpoints/{name}/invocations``, ``/endpoints/{name}/v2/...``, ``/v2``,
``/v2/health/*`` and ``/metrics`` (which needs a token once tokens exist, as invocations
do) to the hot-path handlers of ``dataplane`` and ``v2``;
every other request goes to the wrapped app. It wraps the whole app (it is the outermost
middleware), so invocations skip FastAPI's routing, dependency injection and pydantic.

Each worker process gets its own Engine (model caches, prediction thread, data capture
writer), set up on the first request and closed at lifespan shutdown, when captured
data is flushed. A worker whose prediction got stuck shuts itself down after answering;
its supervisor (``supervisor.run``) starts a replacement.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from typing import Any
from urllib.parse import unquote

from slipway.inference.model import preload
from slipway.serving import dataplane, v2
from slipway.serving.dataplane import Forbidden, Receive, Scope, Send
from slipway.serving.engine import Engine
from slipway.serving.metrics import forget_dead_workers
from slipway.settings import Settings

_TOKEN_TTL = 1.0


class TokenCache:
    """Whether a request may invoke, with token checks remembered for a second."""

    def __init__(self, tokens: Any) -> None:
        self.tokens = tokens
        self._required: tuple[float, bool] = (0.0, False)
        self._valid: dict[str, float] = {}

    def _is_required(self) -> bool:
        checked, required = self._required
        now = time.monotonic()
        if now - checked >= _TOKEN_TTL:
            required = self.tokens.required()
            self._required = (now, required)
        return required

    def check(self, headers: dict[bytes, bytes]) -> None:
        if self.tokens is None or not self._is_required():
            return
        token = _token_of(headers.get(b"authorization", b"").decode("latin-1"))
        if not token:
            raise Forbidden(
                "this server needs a token: send 'Authorization: Bearer <token>', or use the "
                "token as the AWS access key id (any secret) with an AWS SDK"
            )
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        if now - self._valid.get(digest, -_TOKEN_TTL) < _TOKEN_TTL:
            return
        if not self.tokens.is_valid(token):
            raise Forbidden("the token is not valid; create one with `slipway token create`")
        if len(self._valid) > 10_000:
            self._valid.clear()
        self._valid[digest] = now


def _token_of(header: str) -> str:
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip()
    if scheme == "AWS4-HMAC-SHA256":
        # "Credential=<access key id>/<date>/<region>/<service>/aws4_request, ..."
        for part in rest.split(","):
            name, _, value = part.strip().partition("=")
            if name == "Credential":
                return value.split("/", 1)[0]
    return ""


class ServingMiddleware:
    """Serve invocations, V2 and metrics; hand everything else to ``app``."""

    def __init__(self, app: Any, source: Any, settings: Settings, tokens: Any = None) -> None:
        self.app = app
        self.source = source
        self.settings = settings
        self.tokens = TokenCache(tokens)
        self.workers = int(os.environ.get("SLIPWAY_SERVER_WORKERS", "1"))
        self._engine: Engine | None = None

    def engine(self) -> Engine:
        if self._engine is None:
            loop = asyncio.get_running_loop()
            self._engine = Engine(
                self.source, self.settings, self.workers, dataplane.recycle_soon(loop)
            )
        return self._engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if path.startswith("/endpoints/"):
                await self._endpoint(path, scope, receive, send)
                return
            if path == "/metrics":
                try:
                    self.tokens.check(dataplane.headers_of(scope))
                except Forbidden as error:
                    await dataplane.send_runtime_error(send, error, "-")
                    return
                await dataplane.metrics_reply(send)
                return
            if path == "/v2" or path.startswith("/v2/"):
                await v2.handle(self.engine(), self.settings, None, path[3:], scope, receive, send)
                return
        elif kind == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        await self.app(scope, receive, send)

    async def _endpoint(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        name, _, rest = path[len("/endpoints/") :].partition("/")
        name = unquote(name)
        try:
            self.tokens.check(dataplane.headers_of(scope))
        except Forbidden as error:
            await dataplane.send_runtime_error(send, error, name)
            return
        if rest == "invocations":
            await dataplane.invoke(self.engine(), self.settings, name, scope, receive, send)
        elif rest == "v2" or rest.startswith("v2/"):
            await v2.handle(self.engine(), self.settings, name, rest[2:], scope, receive, send)
        else:
            error = dataplane.MethodNotAllowed(
                f"no route for {scope['method']} {path}; invoke with POST "
                f"/endpoints/{name}/invocations"
            )
            error.status_code = 404
            await dataplane.send_runtime_error(send, error, name)

    def _lifespan_send(self, send: Send) -> Send:
        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                forget_dead_workers()
                threading.Thread(target=preload, name="slipway-preload", daemon=True).start()
            if message["type"] == "lifespan.shutdown.complete" and self._engine is not None:
                engine, self._engine = self._engine, None
                stuck = engine._scheduler is not None and engine._scheduler.stuck
                await asyncio.get_running_loop().run_in_executor(None, engine.close)
                await send(message)
                if stuck:
                    os._exit(0)  # a stuck prediction thread must not keep this process
                return
            await send(message)

        return wrapped
