"""The serving hot path as plain ASGI: the SageMaker runtime API and /metrics.

No framework and no pydantic per request: headers are read from the ASGI scope in one
pass, bodies are joined once, replies are sent as two ASGI messages. Errors on the
runtime paths use the reference's shape so that boto3 raises the right exception class:
header ``x-amzn-ErrorType: <Code>`` and a JSON body with ``Message`` (ModelError adds
``OriginalStatusCode``, ``OriginalMessage`` and ``LogStreamArn``).

``ServingMiddleware`` puts this in front of the REST API of ``slipway server``:
``/endpoints/{name}/invocations`` (runtime), ``/endpoints/{name}/v2/...`` (Open
Inference Protocol, see ``v2``), ``/v2/health/*`` and ``/metrics``; every other path
goes to the REST API unchanged. Once API tokens exist, invocations need one too, as a
bearer token or, for AWS SDKs, as the access key id of a SigV4 ``Authorization`` header
(any secret); token checks are cached for a second so they cost no query per request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from slipway.errors import SlipwayError
from slipway.inference.errors import InferenceError
from slipway.serving import metrics
from slipway.serving.engine import Engine, Trace
from slipway.settings import Settings

log = logging.getLogger("slipway.serving")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = b"application/json"
_LOG_GROUP = "arn:slipway:logs:local:log-group:/slipway/endpoints"


class TooLarge(SlipwayError):
    status_code = 413
    code = "PayloadTooLarge"


class MethodNotAllowed(SlipwayError):
    status_code = 405
    code = "MethodNotAllowed"


class ClientGone(Exception):
    """The client closed the connection before sending its whole body."""


class Forbidden(SlipwayError):
    status_code = 403
    code = "UnrecognizedClientException"


# --- requests -------------------------------------------------------------------------


def headers_of(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


async def read_body(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes:
    length = headers.get(b"content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise TooLarge(_too_large(int(length), limit))
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        if message["type"] == "http.disconnect":
            raise ClientGone
        if len(body) > limit:
            raise TooLarge(_too_large(len(body), limit))
        return body
    chunks, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(_too_large(size, limit))
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return (
        f"the request body is {size} bytes, over the invocation limit of {limit} bytes "
        f"({limit / 1024 / 1024:g} MB); send fewer rows per request, or use batch transform"
    )


def text(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


# --- replies --------------------------------------------------------------------------


async def reply(
    send: Send, status: int, body: bytes, content_type: bytes, extra: list | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def runtime_error(error: BaseException, endpoint: str) -> tuple[int, str, dict[str, Any]]:
    """(status, x-amzn-ErrorType, body) of an error in the reference runtime shape."""
    if isinstance(error, InferenceError):
        if error.runtime_code == "ModelError":
            kind = "server" if error.original_status >= 500 else "client"
            return (
                424,
                "ModelError",
                {
                    "Message": f"Received {kind} error ({error.original_status}) from model "
                    f'with message "{error.message}". See the serving log of endpoint '
                    f"{endpoint} for more information.",
                    "OriginalStatusCode": error.original_status,
                    "OriginalMessage": error.message,
                    "LogStreamArn": f"{_LOG_GROUP}/{endpoint}",
                },
            )
        return error.status_code, error.runtime_code, {"Message": error.message}
    if isinstance(error, Forbidden):
        return 403, error.code, {"Message": error.message}
    if isinstance(error, SlipwayError):
        status = error.status_code if error.status_code != 422 else 400
        return status, "ValidationError", {"Message": error.message}
    log.exception("invocation of endpoint %s failed", endpoint, exc_info=error)
    return 500, "InternalFailure", {"Message": f"the server failed: {type(error).__name__}"}


async def send_runtime_error(send: Send, error: BaseException, endpoint: str) -> int:
    status, code, body = runtime_error(error, endpoint)
    extra = [(b"x-amzn-errortype", code.encode()), (b"x-amzn-requestid", _request_id())]
    await reply(send, status, orjson.dumps(body), _JSON, extra)
    return status


def _request_id() -> bytes:
    return uuid.uuid4().hex.encode()


# --- invocations ----------------------------------------------------------------------


async def invoke(
    engine: Engine, settings: Settings, endpoint: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """``POST /endpoints/{name}/invocations`` (or a serve process's ``/invocations``)."""
    started = time.perf_counter()
    trace = Trace()
    status = 200
    try:
        if scope["method"] != "POST":
            raise MethodNotAllowed(f"invocations are POST requests, not {scope['method']}")
        headers = headers_of(scope)
        body = await read_body(receive, headers, settings.max_invocation_bytes)
        runtime = await engine.lookup(endpoint)
        result = await engine.invoke(
            runtime,
            trace,
            body,
            text(headers, b"content-type"),
            text(headers, b"accept"),
            text(headers, b"x-amzn-sagemaker-target-model"),
            text(headers, b"x-amzn-sagemaker-target-variant"),
            text(headers, b"x-amzn-sagemaker-custom-attributes"),
            text(headers, b"x-amzn-sagemaker-inference-id"),
        )
        extra = [
            (b"x-amzn-invoked-production-variant", result.invoked_variant.encode()),
            (b"x-amzn-requestid", _request_id()),
        ]
        if result.custom_attributes:
            extra.append((b"x-amzn-sagemaker-custom-attributes", result.custom_attributes.encode()))
        await reply(send, 200, result.body, result.content_type.encode(), extra)
    except ClientGone:
        status = 499
    except Exception as error:
        status = await send_runtime_error(send, error, endpoint)
    if trace.model:
        metrics.invocation_metrics(endpoint, trace.variant, trace.model).record(
            status, time.perf_counter() - started, trace.model_seconds
        )


async def metrics_reply(send: Send) -> None:
    body, content_type = await asyncio.get_running_loop().run_in_executor(None, metrics.render)
    await reply(send, 200, body, content_type.encode())


def recycle_soon(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """A callback that asks this worker process to shut down gracefully.

    Its supervisor starts a replacement; the current replies are sent first.
    """

    def recycle() -> None:
        log.error("a prediction is stuck; replacing worker process %s", os.getpid())
        loop.call_later(0.2, os.kill, os.getpid(), signal.SIGTERM)

    return recycle
