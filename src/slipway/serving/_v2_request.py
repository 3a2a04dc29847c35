"""The body of an Open Inference Protocol V2 inference request, checked field by field.

A client's mistake in any field is a BadPayload (answered 400) that names the field, as
``inputs[1].shape``, and says what it should hold: nothing a client sends reaches numpy
or the model unchecked. The request is
``{"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "parameters"?,
"data"}], "outputs"?: [{"name", "parameters"?}]}``, parameters being strings, numbers or
booleans. With Triton's binary tensor extension the JSON is the body's first
``Inference-Header-Content-Length`` bytes, and each input with a ``binary_data_size``
parameter takes that many of the bytes after it, in order, instead of ``data``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from slipway.inference.errors import BadPayload

NUMPY_TYPES = {
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
_DATATYPES = ", ".join([*NUMPY_TYPES, "BYTES"])
# numpy's own limit is 64; no model takes tensors of more dimensions than this.
_MAX_DIMENSIONS = 32
_LENGTH = struct.Struct("<I")


@dataclass
class InferRequest:
    """What answering a V2 request needs: its rows and how the answer should look."""

    id: str | None
    rows: np.ndarray
    outputs: list[str]  # the names asked for; none asks for the model's first output
    binary_output: bool

    def output_name(self, available: list[str], model: str) -> str:
        """The output to answer with, once every name asked for is one of the model's."""
        for index, name in enumerate(self.outputs):
            if name not in available:
                raise BadPayload(
                    f"outputs[{index}].name {name!r} is not an output of model {model!r}; "
                    f"it has {', '.join(map(repr, available))}"
                )
        return self.outputs[0] if self.outputs else available[0]


def parse(body: bytes, header_length: bytes | None) -> InferRequest:
    """The request in ``body``; ``header_length`` is Inference-Header-Content-Length."""
    split = _header_length(body, header_length)
    request = _json_object(body[:split])
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadPayload(f"id must be a string, not {_shown(request_id)}")
    parameters = _parameters(request.get("parameters"), "parameters")
    binary_output = _flag(parameters, "binary_data_output", "parameters", False)
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadPayload(
            'inputs must be a non-empty list of tensors: [{"name", "shape", "datatype", '
            f'"data"}}], not {_shown(inputs)}'
        )
    binary, offset, arrays = body[split:], 0, []
    for index, tensor in enumerate(inputs):
        array, offset = _input(tensor, f"inputs[{index}]", binary, offset)
        arrays.append(array)
    if offset != len(binary):
        raise BadPayload(
            f"{len(binary) - offset} bytes after the JSON belong to no input; an input's "
            "parameters.binary_data_size counts the bytes that are its own"
        )
    outputs, binary_output = _outputs(request.get("outputs"), binary_output)
    return InferRequest(request_id, _rows(arrays), outputs, binary_output)


def _shown(value: Any) -> str:
    """A value as the client sent it, in JSON, cut short."""
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def _header_length(body: bytes, value: bytes | None) -> int:
    if value is None:
        return len(body)
    if not (value.isdigit() and len(value) <= 20 and int(value) <= len(body)):
        raise BadPayload(
            f"Inference-Header-Content-Length {value[:40].decode(errors='replace')!r} is not "
            f"the length of the JSON at the start of the {len(body):,}-byte body"
        )
    return int(value)


def _json_object(header: bytes) -> dict[str, Any]:
    try:
        request = orjson.loads(header)
    except orjson.JSONDecodeError as error:
        raise BadPayload(f"the V2 request is not valid JSON: {error}") from None
    if not isinstance(request, dict):
        raise BadPayload(f"the V2 request must be a JSON object, not {_shown(request)}")
    return request


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(
            f"{where} must be an object of names to strings, numbers or booleans, "
            f"not {_shown(value)}"
        )
    for key, item in value.items():
        if not isinstance(item, str | int | float):  # bool is an int
            raise BadPayload(
                f"{where}.{key} must be a string, number or boolean, not {_shown(item)}"
            )
    return value


def _flag(parameters: dict[str, Any], key: str, where: str, default: bool) -> bool:
    value = parameters.get(key, default)
    if not isinstance(value, bool):
        raise BadPayload(f"{where}.{key} must be true or false, not {_shown(value)}")
    return value


def _input(tensor: Any, where: str, binary: bytes, offset: int) -> tuple[np.ndarray, int]:
    """The input's values in its shape, and where the next input's binary data starts."""
    if not isinstance(tensor, dict):
        raise BadPayload(
            f"{where} must be an object with name, shape, datatype and data, not {_shown(tensor)}"
        )
    name = tensor.get("name")
    if not isinstance(name, str) or not name:
        raise BadPayload(f"{where}.name must be a non-empty string, not {_shown(name)}")
    shape = _shape(tensor.get("shape"), f"{where}.shape")
    datatype = tensor.get("datatype")
    if datatype != "BYTES" and datatype not in NUMPY_TYPES:
        raise BadPayload(f"{where}.datatype {_shown(datatype)} is not one of {_DATATYPES}")
    size = _parameters(tensor.get("parameters"), f"{where}.parameters").get("binary_data_size")
    if size is None:
        if "data" not in tensor:
            raise BadPayload(
                f"{where} needs data, or parameters.binary_data_size and binary data after the JSON"
            )
        values = _json_values(tensor["data"], datatype, f"{where}.data")
    else:
        if "data" in tensor:
            raise BadPayload(
                f"{where} has both data and parameters.binary_data_size; send its values once"
            )
        values = _binary_values(_chunk(binary, offset, size, where), datatype, where)
        offset += size
    count = math.prod(shape)
    if values.size != count:
        raise BadPayload(
            f"{where} has {values.size:,} values, and its shape {shape} holds {count:,}"
        )
    return values.reshape(shape), offset


def _shape(shape: Any, where: str) -> list[int]:
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= _MAX_DIMENSIONS
        or not all(type(size) is int and size >= 0 for size in shape)
    ):
        raise BadPayload(
            f"{where} must be a list of 1 to {_MAX_DIMENSIONS} sizes, whole numbers 0 or "
            f"more with the number of rows first, as [2, 4]; not {_shown(shape)}"
        )
    if shape[0] == 0:
        raise BadPayload(f"{where} {shape} has no rows; its first size counts the rows")
    return shape


def _chunk(binary: bytes, offset: int, size: Any, where: str) -> bytes:
    if type(size) is not int or size < 0:
        raise BadPayload(
            f"{where}.parameters.binary_data_size must be a byte count, a whole number 0 or "
            f"more, not {_shown(size)}"
        )
    if offset + size > len(binary):
        raise BadPayload(
            f"{where}.parameters.binary_data_size is {size:,} bytes, but only "
            f"{len(binary) - offset:,} bytes of binary data are left for it after the JSON"
        )
    return binary[offset : offset + size]


def _json_values(data: Any, datatype: str, where: str) -> np.ndarray:
    if not isinstance(data, list):
        raise BadPayload(f"{where} must be a list of values, nested or flat, not {_shown(data)}")
    if datatype in ("BYTES", "BOOL"):
        values = _flatten(data)
        kind, wanted = (str, "strings") if datatype == "BYTES" else (bool, "true or false")
        for value in values:
            if not isinstance(value, kind):
                raise BadPayload(f"{where} holds {_shown(value)}; {datatype} values are {wanted}")
        array = np.empty(len(values), dtype=object if datatype == "BYTES" else np.bool_)
        array[:] = values
        return array
    try:
        # Always with the dtype: inferring one would make a fixed-width string array as
        # wide as the longest string times the number of values.
        return np.asarray(data, dtype=NUMPY_TYPES[datatype])
    except (ValueError, TypeError, OverflowError) as error:
        reason = str(error).splitlines()[0][:100]
        raise BadPayload(
            f"{where} must hold {datatype} numbers, in a flat list or in nested lists of "
            f"equal lengths ({reason})"
        ) from None


def _flatten(data: list[Any]) -> list[Any]:
    """The values of nested lists in row-major order; without recursion, however deep."""
    values: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            values.append(item)
        else:
            stack.pop()
    return values


def _binary_values(chunk: bytes, datatype: str, where: str) -> np.ndarray:
    if datatype == "BYTES":
        return np.asarray(_bytes_elements(chunk, where), dtype=object)
    dtype = np.dtype(NUMPY_TYPES[datatype])
    if len(chunk) % dtype.itemsize:
        raise BadPayload(
            f"{where}: {len(chunk):,} bytes of binary data are not whole {datatype} values "
            f"of {dtype.itemsize} bytes each"
        )
    return np.frombuffer(chunk, dtype=dtype)


def _bytes_elements(chunk: bytes, where: str) -> list[str]:
    """BYTES binary data: each element its length in 4 little-endian bytes, then itself."""
    elements, offset = [], 0
    while offset < len(chunk):
        index = len(elements)
        if offset + _LENGTH.size > len(chunk):
            raise BadPayload(
                f"{where}: BYTES binary data ends inside the 4-byte length of element {index}"
            )
        (length,) = _LENGTH.unpack_from(chunk, offset)
        start, offset = offset + _LENGTH.size, offset + _LENGTH.size + length
        if offset > len(chunk):
            raise BadPayload(
                f"{where}: BYTES element {index} says it has {length:,} bytes, but only "
                f"{len(chunk) - start:,} are left"
            )
        try:
            elements.append(chunk[start:offset].decode())
        except UnicodeDecodeError:
            raise BadPayload(f"{where}: BYTES element {index} is not UTF-8 text") from None
    return elements


def _outputs(value: Any, binary_output: bool) -> tuple[list[str], bool]:
    """The output names asked for, and whether the first is to be binary."""
    if value is None:
        return [], binary_output
    if not isinstance(value, list):
        raise BadPayload(f'outputs must be a list of {{"name": ...}} objects, not {_shown(value)}')
    names, binary = [], []
    for index, output in enumerate(value):
        where = f"outputs[{index}]"
        if not isinstance(output, dict):
            raise BadPayload(f'{where} must be an object {{"name": ...}}, not {_shown(output)}')
        name = output.get("name")
        if not isinstance(name, str) or not name:
            raise BadPayload(f"{where}.name must be a non-empty string, not {_shown(name)}")
        parameters = _parameters(output.get("parameters"), f"{where}.parameters")
        binary.append(_flag(parameters, "binary_data", f"{where}.parameters", binary_output))
        names.append(name)
    return names, binary[0] if binary else binary_output


def _rows(arrays: list[np.ndarray]) -> np.ndarray:
    """One input holds the rows ([features] is one row); several are their columns."""
    if len(arrays) == 1:
        rows = arrays[0]
        return rows.reshape(1, -1) if rows.ndim == 1 else rows
    counts = [len(array) for array in arrays]
    if len(set(counts)) != 1:
        each = ", ".join(f"inputs[{i}] has {count:,}" for i, count in enumerate(counts))
        raise BadPayload(f"inputs given as columns must have as many rows each; {each}")
    return np.concatenate([array.reshape(len(array), -1) for array in arrays], axis=1)
