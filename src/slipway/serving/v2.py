"""Open Inference Protocol V2 (KServe v2 / Triton REST) over an endpoint's models.

Paths, below a base (``/endpoints/{endpoint}`` on ``slipway server``, nothing on
``slipway endpoints serve``): ``/v2``, ``/v2/health/live|ready``,
``/v2/models/{model}[/versions/{v}]``, ``.../ready``, ``.../infer``. The model name is
the TargetModel of a multi-model endpoint (``model-a.tar.gz``) or, for a single model,
its ModelName (the endpoint's name works too). The rows are the first input (shape
``[N, features]``) or, with several inputs of shape ``[N]``/``[N, 1]``, their columns.
JSON tensors and Triton's binary tensor extension (``Inference-Header-Content-Length``,
``binary_data_size``, ``binary_data_output``) are both accepted, so tritonclient works
with its defaults. Errors are ``{"error": "..."}``: 400 naming the field for a malformed
request (``slipway.serving._v2_request`` reads it), 404 for an unknown model, 500 for a
model that fails or a fault of the server's own, whose details go to its log.
"""

from __future__ import annotations

import logging
import struct
import time
from typing import Any

import numpy as np
import orjson

from slipway import __version__
from slipway.errors import SlipwayError
from slipway.inference.errors import InferenceError
from slipway.inference.flavours import v2_datatype
from slipway.serving import metrics
from slipway.serving._v2_request import InferRequest, parse
from slipway.serving.dataplane import Receive, Scope, Send, TooLarge, headers_of, read_body, reply
from slipway.serving.engine import Engine, Trace
from slipway.serving.runtime import EndpointRuntime, VariantRuntime, check_target_model
from slipway.settings import Settings

_JSON = b"application/json"
log = logging.getLogger("slipway.serving")


class UnknownModel(InferenceError):
    status_code = 404
    code = "ModelNotFound"


async def handle(
    engine: Engine, settings: Settings, endpoint: str | None, rest: str,
    scope: Scope, receive: Receive, send: Send,
) -> None:  # fmt: skip
    """Answer one V2 request; ``rest`` is the path after ``/v2``."""
    method = scope["method"]
    try:
        if rest in ("", "/") and method == "GET":
            body = {"name": "slipway", "version": __version__, "extensions": ["binary_tensor_data"]}
            return await _json(send, 200, body)
        if rest in ("/health/live", "/health/ready") and method == "GET":
            return await _json(send, 200, {rest.rsplit("/", 1)[1]: True})
        if not rest.startswith("/models/") or endpoint is None:
            return await _json(send, 404, {"error": f"no V2 route for {method} /v2{rest}"})
        tail = rest[len("/models/") :]
        runtime = await engine.lookup(endpoint)
        runtime.check_servable()
        if tail.endswith("/infer") and method == "POST":
            return await _infer(engine, settings, runtime, tail[:-6], scope, receive, send)
        if tail.endswith("/ready") and method == "GET":
            name = _name(tail[:-6])
            await _model(engine, runtime, name)
            return await _json(send, 200, {"name": name, "ready": True})
        if method == "GET":
            name = _name(tail)
            model = await _model(engine, runtime, name)
            inputs = [t.to_dict() for t in model.inputs()]
            outputs = [t.to_dict() for t in model.outputs()]
            meta = {"name": name, "versions": [], "platform": model.flavour}
            return await _json(send, 200, meta | {"inputs": inputs, "outputs": outputs})
        return await _json(send, 405, {"error": f"{method} is not allowed on /v2{rest}"})
    except Exception as error:
        await _json(send, _status(error), {"error": _message(error)})


def _status(error: BaseException) -> int:
    if isinstance(error, TooLarge):
        return 413
    if isinstance(error, InferenceError):
        if error.status_code == 404:
            return 404
        return 500 if error.runtime_code == "ModelError" else 400
    return 400 if isinstance(error, SlipwayError) else 500


def _message(error: BaseException) -> str:
    if isinstance(error, SlipwayError):
        return error.message
    # Every mistake of a client's is a SlipwayError; anything else is the server's own.
    log.exception("a V2 request failed", exc_info=error)
    return f"the server failed: {type(error).__name__}"


async def _json(send: Send, status: int, body: Any) -> None:
    await reply(send, status, orjson.dumps(body), _JSON)


def _name(part: str) -> str:
    return part.rsplit("/versions/", 1)[0] if "/versions/" in part else part


def _variant(runtime: EndpointRuntime, name: str) -> tuple[VariantRuntime, str]:
    for variant in runtime.variants:
        if not variant.spec.multi_model and name in (variant.spec.model_name, runtime.spec.name):
            return variant, ""
    multi = [v for v in runtime.variants if v.spec.multi_model]
    if not multi:
        known = ", ".join(v.spec.model_name for v in runtime.variants)
        raise UnknownModel(f"endpoint {runtime.spec.name!r} has no model {name!r}; it has {known}")
    return (multi[0] if len(multi) == 1 else runtime.pick(None)), check_target_model(name)


async def _model(engine: Engine, runtime: EndpointRuntime, name: str) -> Any:
    variant, key = _variant(runtime, name)
    try:
        return await engine.model(variant, key)
    except InferenceError as error:
        if error.status_code == 404:
            raise UnknownModel(f"model {name!r} not found: {error.message}") from None
        raise


async def _infer(
    engine: Engine, settings: Settings, runtime: EndpointRuntime, part: str,
    scope: Scope, receive: Receive, send: Send,
) -> None:  # fmt: skip
    started = time.perf_counter()
    name = _name(part)
    headers = headers_of(scope)
    body = await read_body(receive, headers, settings.max_invocation_bytes)
    request = parse(body, headers.get(b"inference-header-content-length"))
    variant, key = _variant(runtime, name)
    trace = Trace(variant=variant.spec.variant_name, model=variant.label(key))
    status = 200
    try:
        model = await _model(engine, runtime, name)
        scheduler = engine.scheduler()
        if model.batchable:
            prediction, trace.model_seconds = await scheduler.predict(
                model, request.rows, variant.timeout
            )
        else:
            prediction, trace.model_seconds = await scheduler.call(
                model, lambda: model.predict_frame(request.rows), variant.timeout
            )
        header, payload = _response(request, name, model, np.asarray(prediction))
        extra = [(b"inference-header-content-length", str(len(header)).encode())] if payload else []
        kind = b"application/octet-stream" if payload else _JSON
        await reply(send, 200, header + payload, kind, extra)
    except Exception as error:
        status = _status(error)
        await _json(send, status, {"error": _message(error)})
    metrics.invocation_metrics(runtime.spec.name, trace.variant, trace.model).record(
        status, time.perf_counter() - started, trace.model_seconds
    )


def _response(
    request: InferRequest, name: str, model: Any, prediction: np.ndarray
) -> tuple[bytes, bytes]:
    output_name = request.output_name([t.name for t in model.outputs()], name)
    datatype = v2_datatype(prediction.dtype)
    output: dict[str, Any] = {
        "name": output_name,
        "shape": list(prediction.shape),
        "datatype": datatype,
    }
    payload = b""
    if request.binary_output:
        if datatype == "BYTES":
            payload = b"".join(
                struct.pack("<I", len(e)) + e
                for e in (str(v).encode() for v in prediction.ravel().tolist())
            )
        else:
            payload = np.ascontiguousarray(prediction).tobytes()
        output["parameters"] = {"binary_data_size": len(payload)}
    else:
        values = prediction.ravel().tolist()
        output["data"] = [str(v) for v in values] if datatype == "BYTES" else values
    body: dict[str, Any] = {"model_name": name, "outputs": [output]}
    if request.id is not None:
        body["id"] = request.id
    return orjson.dumps(body), payload
