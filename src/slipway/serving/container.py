"""One endpoint served alone, under the reference's inference container contract.

``slipway endpoints serve NAME --port P`` runs this app (in ``--workers`` processes under
the supervisor). Routes:

- ``GET /ping``: 200 with an empty body once a single-model endpoint's model is loaded
  (each worker loads it at start), or at once for a multi-model endpoint.
- ``POST /invocations``: the payload, with Content-Type, Accept,
  ``X-Amzn-SageMaker-Target-Model`` (multi-model) and custom attributes.
- The multi-model container API: ``POST /models`` ``{"model_name", "url"}`` (200; 409 if
  loaded; 507 if it cannot fit), ``GET /models`` (``limit``, ``next_page_token``),
  ``GET /models/{name}``, ``DELETE /models/{name}``, ``POST /models/{name}/invoke``.
- ``/v2/...`` (Open Inference Protocol, see ``v2``) and ``/metrics``.

Workers are separate processes, so the container API keeps its name -> url table in
files under ``SLIPWAY_RUNTIME_DIR`` that every worker reads: a model loaded through one
worker is loaded by another on its first invoke there, and an unloaded one is refused
(and dropped) by each worker at its next invoke of it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

import orjson

from slipway.inference.errors import InferenceError, InsufficientMemory, ModelNotFound
from slipway.inference.model import preload
from slipway.serving import dataplane, v2
from slipway.serving.dataplane import Receive, Scope, Send
from slipway.serving.engine import Engine, Trace
from slipway.serving.metrics import forget_dead_workers
from slipway.serving.runtime import EndpointRuntime, VariantRuntime
from slipway.settings import Settings, get_settings

_JSON = b"application/json"


class Registry:
    """The container API's loaded models (name -> url), shared by the worker processes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.folder / quote(name, safe="")

    def add(self, name: str, url: str) -> bool:
        try:
            fd = os.open(self._path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as file:
            file.write(orjson.dumps({"modelName": name, "modelUrl": url}))
        return True

    def get(self, name: str) -> dict[str, str] | None:
        try:
            return orjson.loads(self._path(name).read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None

    def remove(self, name: str) -> bool:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self) -> list[str]:
        return sorted(unquote(p.name) for p in self.folder.iterdir())


class ContainerApp:
    """The ASGI app of ``slipway endpoints serve``."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.settings = get_settings()
        self.source = _spec_source(self.settings)
        self.workers = int(os.environ.get("SLIPWAY_SERVER_WORKERS", "1"))
        runtime_dir = os.environ.get("SLIPWAY_RUNTIME_DIR") or tempfile.mkdtemp()
        self.registry = Registry(Path(runtime_dir) / "models")
        self.engine: Engine | None = None
        self.ready = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        engine = self.engine
        assert engine is not None
        if path == "/ping":
            await dataplane.reply(send, 200 if self.ready else 503, b"", b"text/plain")
        elif path == "/invocations":
            await dataplane.invoke(engine, self.settings, self.endpoint, scope, receive, send)
        elif path == "/metrics":
            await dataplane.metrics_reply(send)
        elif path == "/v2" or path.startswith("/v2/"):
            await v2.handle(engine, self.settings, self.endpoint, path[3:], scope, receive, send)
        elif path == "/models" or path.startswith("/models/"):
            await self._models(path, method, scope, receive, send)
        else:
            await _error(send, 404, f"no route for {method} {path}")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                forget_dead_workers()
                loop = asyncio.get_running_loop()
                self.engine = Engine(
                    self.source, self.settings, self.workers, dataplane.recycle_soon(loop)
                )
                try:
                    await self._warm_up()
                except Exception as error:
                    text = f"cannot serve endpoint {self.endpoint!r}: {_text(error)}"
                    await send({"type": "lifespan.startup.failed", "message": text})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                engine, self.engine = self.engine, None
                stuck = (
                    engine is not None and engine._scheduler is not None and engine._scheduler.stuck
                )
                if engine is not None:
                    await asyncio.get_running_loop().run_in_executor(None, engine.close)
                await send({"type": "lifespan.shutdown.complete"})
                if stuck:
                    os._exit(0)
                return

    async def _warm_up(self) -> None:
        """Load each single model before answering /ping, as a container does."""
        assert self.engine is not None
        await asyncio.get_running_loop().run_in_executor(None, preload)
        runtime = await self.engine.lookup(self.endpoint)
        for variant in runtime.variants:
            if not variant.spec.multi_model:
                await self.engine.model(variant, "")
        self.ready = True

    # --- the multi-model container API --------------------------------------------------

    async def _variant(self) -> VariantRuntime:
        assert self.engine is not None
        runtime: EndpointRuntime = await self.engine.lookup(self.endpoint)
        for variant in runtime.variants:
            if variant.spec.multi_model:
                return variant
        raise ModelNotFound(
            f"endpoint {self.endpoint!r} serves a single model; the model API "
            "(/models) is for multi-model endpoints"
        )

    async def _models(self, path: str, method: str, scope: Scope, receive: Receive, send: Send):
        rest = path[len("/models") :].strip("/")
        try:
            variant = await self._variant()
            if not rest and method == "POST":
                return await self._load(variant, scope, receive, send)
            if not rest and method == "GET":
                return await self._list(scope, send)
            name, _, action = rest.partition("/")
            name = unquote(name)
            if action == "invoke" and method == "POST":
                return await self._invoke(variant, name, scope, receive, send)
            entry = self.registry.get(name)
            if entry is None:
                return await _error(send, 404, f"model {name!r} is not loaded")
            if not action and method == "GET":
                return await _json(send, 200, entry)
            if not action and method == "DELETE":
                self.registry.remove(name)
                variant.explicit.pop(name, None)
                variant.cache.remove(name)
                return await _json(send, 200, {"status": f"model {name!r} unloaded"})
            return await _error(send, 405, f"{method} is not allowed on {path}")
        except InferenceError as error:
            status = 507 if isinstance(error, InsufficientMemory) else error.status_code
            await _error(send, 500 if status == 424 else status, error.message)

    async def _load(self, variant: VariantRuntime, scope: Scope, receive: Receive, send: Send):
        headers = dataplane.headers_of(scope)
        body = await dataplane.read_body(receive, headers, self.settings.max_invocation_bytes)
        try:
            request = orjson.loads(body)
            name, url = request["model_name"], request["url"]
            if not (isinstance(name, str) and isinstance(url, str) and name and url):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return await _error(send, 400, 'send {"model_name": "...", "url": "..."}')
        if not self.registry.add(name, url):
            return await _error(send, 409, f"model {name!r} is loaded already")
        variant.explicit[name] = url
        assert self.engine is not None
        try:
            await self.engine.model(variant, name, url)
        except Exception:
            self.registry.remove(name)
            variant.explicit.pop(name, None)
            raise
        await _json(send, 200, {"status": f"model {name!r} loaded"})

    async def _list(self, scope: Scope, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        limit = int((query.get("limit") or ["100"])[0] or 100)
        start = int((query.get("next_page_token") or ["0"])[0] or 0)
        names = self.registry.names()
        page = [self.registry.get(n) for n in names[start : start + limit]]
        body: dict[str, Any] = {"models": [p for p in page if p]}
        if start + limit < len(names):
            body["nextPageToken"] = str(start + limit)
        await _json(send, 200, body)

    async def _invoke(
        self, variant: VariantRuntime, name: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        entry = self.registry.get(name)
        if entry is None:
            variant.explicit.pop(name, None)
            variant.cache.remove(name)
            return await _error(send, 404, f"model {name!r} is not loaded; load it first")
        variant.explicit[name] = entry["modelUrl"]
        assert self.engine is not None
        headers = dataplane.headers_of(scope)
        body = await dataplane.read_body(receive, headers, self.settings.max_invocation_bytes)
        model = await self.engine.model(variant, name, entry["modelUrl"])
        trace = Trace(variant=variant.spec.variant_name, model=name)
        out, out_type = await self.engine.predict(
            model, variant.timeout, trace, body,
            dataplane.text(headers, b"content-type"), dataplane.text(headers, b"accept"),
        )  # fmt: skip
        await dataplane.reply(send, 200, out, out_type.encode())


async def _json(send: Send, status: int, body: Any) -> None:
    await dataplane.reply(send, status, orjson.dumps(body), _JSON)


async def _error(send: Send, status: int, message: str) -> None:
    await _json(send, status, {"code": status, "message": message})


def _text(error: BaseException) -> str:
    return getattr(error, "message", None) or f"{type(error).__name__}: {error}"


def _spec_source(settings: Settings) -> Any:
    """The serving service alone (not every capability's): a worker starts faster."""
    if settings.server_url:
        from slipway.serving.client import remote_serving

        return remote_serving(settings.server_url, settings.token)
    from slipway.serving.service import ServingService
    from slipway.store.db import open_database

    return ServingService(open_database(settings.resolved_database_url), settings)


def create_app() -> ContainerApp:
    """The app factory the supervisor's workers call (endpoint from the environment)."""
    return ContainerApp(os.environ["SLIPWAY_SERVE_ENDPOINT"])


def serve(endpoint: str, host: str, port: int, workers: int) -> None:
    from slipway.serving import supervisor

    os.environ["SLIPWAY_SERVE_ENDPOINT"] = endpoint
    supervisor.run("slipway.serving.container:create_app", host, port, workers)
