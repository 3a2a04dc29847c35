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

from starlette.requests import cookie_parser

from slipway import sigv4
from slipway.auth.roles import Action, Role, allows
from slipway.auth.sessions import session_id_of
from slipway.errors import SlipwayError
from slipway.inference.model import preload
from slipway.sagemaker import auth as aws_auth
from slipway.sagemaker.protocol import error_response
from slipway.serving import dataplane, v2
from slipway.serving.dataplane import Forbidden, Receive, Scope, Send
from slipway.serving.engine import Engine
from slipway.serving.metrics import forget_dead_workers
from slipway.settings import Settings

_TOKEN_TTL = 1.0


class TokenCache:
    """Whether a request may use the data plane, with token checks remembered for a second."""

    def __init__(self, tokens: Any, sessions: Any = None) -> None:
        self.tokens = tokens
        self.sessions = sessions
        self._required: tuple[float, bool] = (0.0, False)
        self._roles: dict[str, tuple[float, Role | None]] = {}

    def is_required(self) -> bool:
        checked, required = self._required
        now = time.monotonic()
        if now - checked >= _TOKEN_TTL:
            required = self.tokens.required()
            self._required = (now, required)
        return required

    def check(self, headers: dict[bytes, bytes], action: Action = Action.INVOKE) -> None:
        if self.tokens is None or not self.is_required():
            return
        token = _token_of(headers.get(b"authorization", b"").decode("latin-1"))
        if not token and self.sessions is not None:
            # Studio's test form invokes with its session; cross-site posts never get here.
            cookies = cookie_parser(headers.get(b"cookie", b"").decode("latin-1"))
            token = session_id_of(cookies)
            session = True
        else:
            session = False
        if not token:
            raise Forbidden(
                "this server needs a token: send 'Authorization: Bearer <token>', or sign with "
                "an access key (`slipway token create NAME --access-key`) with an AWS SDK"
            )
        role = self._role_of(token, session)
        if role is None:
            raise Forbidden("the token is not valid; create one with `slipway token create`")
        if not allows(role, action):
            raise Forbidden(
                f"a token with the role {role.value!r} may not {action.value} here; "
                "use a token whose role is invoke, editor or admin"
            )

    def _role_of(self, secret: str, session: bool) -> Role | None:
        digest = hashlib.sha256(secret.encode()).hexdigest()
        now = time.monotonic()
        checked, role = self._roles.get(digest, (-_TOKEN_TTL, None))
        if now - checked < _TOKEN_TTL:
            return role
        try:
            if session:
                principal = self.sessions.principal_of(secret)
            else:
                principal = self.tokens.authenticate(secret)
        except SlipwayError:  # expired
            principal = None
        role = principal.role if principal else None
        if len(self._roles) > 10_000:
            self._roles.clear()
        self._roles[digest] = (now, role)
        return role


def _token_of(header: str) -> str:
    scheme, _, rest = header.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else ""


class ServingMiddleware:
    """Serve invocations, V2 and metrics; hand everything else to ``app``."""

    def __init__(
        self, app: Any, source: Any, settings: Settings, tokens: Any = None, sessions: Any = None
    ) -> None:
        self.app = app
        self.source = source
        self.settings = settings
        self.tokens = TokenCache(tokens, sessions)
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
                    self.tokens.check(dataplane.headers_of(scope), Action.READ)
                except Forbidden as error:
                    await dataplane.send_runtime_error(send, error, "-")
                    return
                await dataplane.metrics_reply(send)
                return
            if path == "/v2" or path.startswith("/v2/"):
                # Liveness and readiness stay open for probes; the rest is the model's.
                if not path.startswith("/v2/health/"):
                    try:
                        self.tokens.check(dataplane.headers_of(scope))
                    except Forbidden as error:
                        await dataplane.send_runtime_error(send, error, "-")
                        return
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
            receive = await self._check_caller(scope, receive)
        except Forbidden as error:
            await dataplane.send_runtime_error(send, error, name)
            return
        except SlipwayError as error:  # a signature refused, in AWS's shape
            await error_response(error)(scope, receive, send)
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

    async def _check_caller(self, scope: Scope, receive: Receive) -> Receive:
        """Refuse a caller who may not invoke; a SigV4 signature is checked with its body."""
        headers = dataplane.headers_of(scope)
        signed = headers.get(b"authorization", b"").startswith(sigv4.ALGORITHM.encode())
        if not signed or self.tokens.tokens is None or not self.tokens.is_required():
            self.tokens.check(headers)
            return receive
        max_bytes = self.settings.max_invocation_bytes
        principal, receive = await aws_auth.signer(scope, receive, self.tokens.tokens, max_bytes)
        if not allows(principal.role, Action.INVOKE):
            raise Forbidden(
                f"a token with the role {principal.role.value!r} may not invoke here; "
                "use a token whose role is invoke, editor or admin"
            )
        return receive

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
