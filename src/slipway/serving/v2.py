"""Open Inference Protocol V2 (KServe v2 / Triton REST) over an endpoint's models.

Paths, below a base (``/endpoints/{endpoint}`` on ``slipway server``, nothing on
``slipway endpoints serve``): ``/v2``, ``/v2/health/live|ready``,
``/v2/models/{model}[/versions/{v}]``, ``.../ready``, ``.../infer``. The model name is
the TargetModel of a multi-model endpoint (``model-a.tar.gz``) or, for a single model,
its ModelName (the endpoint's name works too). The rows are the first input (shape
``[N, features]``) or, with several inputs of shape ``[N]``/``[N, 1]``, their columns.
JSON tensors and Triton's binary tensor extension (``Inference-Header-Content-Length``,
``binary_data_size``, ``binary_data_output``) are both accepted, so tritonclient works
with its defaults. Errors are ``{"error": "..."}`` with 400, 404 (unknown model) or 500.
"""

from __future__ import annotations

import struct
import time
from typing import Any

import numpy as np
import orjson

from slipway import __version__
from slipway.errors import SlipwayError
from slipway.inference.errors import BadPayload, InferenceError
from slipway.inference.flavours import v2_datatype
from slipway.serving import metrics
from slipway.serving.dataplane import Receive, Scope, Send, TooLarge, headers_of, read_body, reply
from slipway.serving.engine import Engine, Trace
from slipway.serving.runtime import EndpointRuntime, VariantRuntime, check_target_model
from slipway.settings import Settings

_JSON = b"application/json"
_NUMPY = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}


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
    return 400 if isinstance(error, SlipwayError | ValueError | KeyError | TypeError) else 500


def _message(error: BaseException) -> str:
    if isinstance(error, SlipwayError):
        return error.message
    return f"{type(error).__name__}: {error}"


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
    request, rows = _parse(body, headers.get(b"inference-header-content-length"))
    variant, key = _variant(runtime, name)
    trace = Trace(variant=variant.spec.variant_name, model=variant.label(key))
    status = 200
    try:
        model = await _model(engine, runtime, name)
        scheduler = engine.scheduler()
        if model.batchable:
            prediction, trace.model_seconds = await scheduler.predict(model, rows, variant.timeout)
        else:
            prediction, trace.model_seconds = await scheduler.call(
                model, lambda: model.predict_frame(rows), variant.timeout
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


def _parse(body: bytes, header_length: bytes | None) -> tuple[dict[str, Any], Any]:
    """The request JSON and the rows its inputs make."""
    split = int(header_length) if header_length and header_length.isdigit() else len(body)
    try:
        request = orjson.loads(body[:split])
    except orjson.JSONDecodeError as error:
        raise BadPayload(f"the V2 request is not valid JSON: {error}") from None
    inputs = request.get("inputs") if isinstance(request, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise BadPayload('a V2 inference request needs "inputs": [{"name", "shape", ...}]')
    binary, offset, arrays = body[split:], 0, []
    for tensor in inputs:
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        chunk = None
        if size is not None:
            chunk, offset = binary[offset : offset + int(size)], offset + int(size)
        arrays.append(_tensor(tensor, chunk))
    if len(arrays) == 1:
        rows = arrays[0]
        return request, rows.reshape(1, -1) if rows.ndim == 1 else rows
    columns = [a.reshape(len(a), -1) for a in arrays]
    if len({len(c) for c in columns}) != 1:
        raise BadPayload("V2 inputs given as columns must all have the same number of rows")
    return request, np.concatenate(columns, axis=1)


def _tensor(tensor: dict[str, Any], chunk: bytes | None) -> np.ndarray:
    name = tensor.get("name", "?")
    datatype, shape = tensor.get("datatype"), tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise BadPayload(f"input {name!r}: shape must be a list of sizes, got {shape!r}")
    if datatype == "BYTES":
        values = _bytes_elements(chunk) if chunk is not None else tensor.get("data", [])
        array = np.asarray([v.decode() if isinstance(v, bytes) else v for v in values], object)
    elif datatype in _NUMPY:
        dtype = _NUMPY[datatype]
        if chunk is not None:
            array = np.frombuffer(chunk, dtype=dtype)
        else:
            try:
                array = np.asarray(tensor.get("data"), dtype=dtype)
            except (ValueError, TypeError):
                raise BadPayload(f"input {name!r}: data is not {datatype} numbers") from None
    else:
        raise BadPayload(f"input {name!r}: datatype {datatype!r} is not supported")
    try:
        return array.reshape(shape)
    except ValueError:
        raise BadPayload(f"input {name!r}: {array.size} values do not fill shape {shape}") from None


def _bytes_elements(chunk: bytes) -> list[bytes]:
    items, offset = [], 0
    while offset < len(chunk):
        (length,) = struct.unpack_from("<I", chunk, offset)
        items.append(chunk[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return items


def _response(
    request: dict[str, Any], name: str, model: Any, prediction: np.ndarray
) -> tuple[bytes, bytes]:
    wanted = request.get("outputs") or []
    output_name = wanted[0].get("name") if wanted else model.outputs()[0].name
    binary = bool((request.get("parameters") or {}).get("binary_data_output"))
    if wanted:
        binary = bool((wanted[0].get("parameters") or {}).get("binary_data", binary))
    datatype = v2_datatype(prediction.dtype)
    output: dict[str, Any] = {
        "name": output_name,
        "shape": list(prediction.shape),
        "datatype": datatype,
    }
    payload = b""
    if binary:
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
    if "id" in request:
        body["id"] = request["id"]
    return orjson.dumps(body), payload
