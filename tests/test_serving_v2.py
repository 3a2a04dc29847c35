"""Malformed Open Inference Protocol V2 requests against a real `slipway server`.

Every field of an inference request, sent wrong: each answer is a 400 whose
``{"error": ...}`` names the field and says what it should hold; none is a 500, and the
endpoint answers a good request afterwards.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from serving_support import IRIS_ROW, deploy, pack, remote, sklearn_model, slipway_server

GOOD_INPUT = {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": IRIS_ROW}


def _input(**fields: Any) -> dict[str, Any]:
    """The good input with some fields replaced; a field set to ... is left out."""
    tensor = {**GOOD_INPUT, **fields}
    return {key: value for key, value in tensor.items() if value is not ...}


def _body(**fields: Any) -> dict[str, Any]:
    return {"inputs": [GOOD_INPUT], **fields}


def _binary(tensor: dict[str, Any], data: bytes, **fields: Any) -> tuple[bytes, dict[str, str]]:
    """A body of the binary tensor extension: the JSON, then ``data``."""
    header = orjson.dumps({"inputs": [tensor], **fields})
    return header + data, {"Inference-Header-Content-Length": str(len(header))}


def _bytes_binary(size: int) -> dict[str, Any]:
    return _input(datatype="BYTES", shape=[1, 1], data=..., parameters={"binary_data_size": size})


def _fp64_binary(size: int) -> dict[str, Any]:
    return _input(data=..., parameters={"binary_data_size": size})


_ROWS = struct.pack("<4d", *IRIS_ROW)

# (what is wrong, the body, its extra headers, what the answer must name)
MALFORMED: list[tuple[str, Any, dict[str, str], str]] = [
    ("not JSON", b'{"inputs": [', {}, "not valid JSON"),
    ("not an object", [GOOD_INPUT], {}, "must be a JSON object"),
    ("id a number", _body(id=5), {}, "id must be a string"),
    ("parameters a number", _body(parameters=5), {}, "parameters must be an object"),
    ("parameter a list", _body(parameters={"tag": [1]}), {}, "parameters.tag must be"),
    (
        "binary_data_output a string",
        _body(parameters={"binary_data_output": "yes"}),
        {},
        "parameters.binary_data_output must be true or false",
    ),
    ("no inputs", {"outputs": []}, {}, "inputs must be a non-empty list"),
    ("empty inputs", {"inputs": []}, {}, "inputs must be a non-empty list"),
    ("input a string", {"inputs": ["x"]}, {}, "inputs[0] must be an object"),
    ("no name", {"inputs": [_input(name=...)]}, {}, "inputs[0].name must be"),
    ("name a number", {"inputs": [_input(name=7)]}, {}, "inputs[0].name must be"),
    ("no shape", {"inputs": [_input(shape=...)]}, {}, "inputs[0].shape must be"),
    ("shape a string", {"inputs": [_input(shape="1,4")]}, {}, "inputs[0].shape must be"),
    ("negative shape", {"inputs": [_input(shape=[-1, 4])]}, {}, "inputs[0].shape must be"),
    ("fractional shape", {"inputs": [_input(shape=[1.5, 4])]}, {}, "inputs[0].shape must be"),
    ("boolean shape", {"inputs": [_input(shape=[True, 4])]}, {}, "inputs[0].shape must be"),
    ("empty shape", {"inputs": [_input(shape=[])]}, {}, "inputs[0].shape must be"),
    ("64 dimensions", {"inputs": [_input(shape=[1] * 64)]}, {}, "inputs[0].shape must be"),
    ("no rows", {"inputs": [_input(shape=[0, 4], data=[])]}, {}, "inputs[0].shape [0, 4]"),
    ("huge shape", {"inputs": [_input(shape=[2**62, 4])]}, {}, "inputs[0] has 4 values"),
    ("too few values", {"inputs": [_input(data=[1.0, 2.0])]}, {}, "inputs[0] has 2 values"),
    ("no datatype", {"inputs": [_input(datatype=...)]}, {}, "inputs[0].datatype null"),
    ("unknown datatype", {"inputs": [_input(datatype="FP128")]}, {}, 'datatype "FP128"'),
    ("no data", {"inputs": [_input(data=...)]}, {}, "inputs[0] needs data"),
    ("data a number", {"inputs": [_input(data=5)]}, {}, "inputs[0].data must be a list"),
    ("data of text", {"inputs": [_input(data=["a"] * 4)]}, {}, "inputs[0].data must hold FP64"),
    (
        "ragged data",
        {"inputs": [_input(shape=[2, 2], data=[[1, 2], [3]])]},
        {},
        "inputs[0].data must hold FP64",
    ),
    (
        "out of range",
        {"inputs": [_input(datatype="UINT8", data=[1, 2, 3, 300])]},
        {},
        "300 out of bounds",
    ),
    (
        "BOOL of text",
        {"inputs": [_input(datatype="BOOL", data=["yes"] * 4)]},
        {},
        "BOOL values are true or false",
    ),
    (
        "BYTES of numbers",
        {"inputs": [_input(datatype="BYTES", data=[1, 2, 3, 4])]},
        {},
        "BYTES values are strings",
    ),
    (
        "input parameters a list",
        {"inputs": [_input(parameters=[1])]},
        {},
        "inputs[0].parameters must be an object",
    ),
    (
        "columns of different lengths",
        {
            "inputs": [
                _input(name="a", shape=[2], data=[1.0, 2.0]),
                _input(name="b", shape=[3], data=[1.0, 2.0, 3.0]),
            ]
        },
        {},
        "inputs[0] has 2, inputs[1] has 3",
    ),
    ("outputs a number", _body(outputs=5), {}, "outputs must be a list"),
    ("output a string", _body(outputs=["x"]), {}, "outputs[0] must be an object"),
    ("output without a name", _body(outputs=[{}]), {}, "outputs[0].name must be"),
    ("unknown output", _body(outputs=[{"name": "nope"}]), {}, "outputs[0].name 'nope'"),
    (
        "output binary_data a string",
        _body(outputs=[{"name": "output-0", "parameters": {"binary_data": "yes"}}]),
        {},
        "outputs[0].parameters.binary_data must be true or false",
    ),
    (
        "binary size a string",
        *_binary(_fp64_binary("32"), _ROWS),
        "inputs[0].parameters.binary_data_size must be a byte count",
    ),
    (
        "negative binary size",
        *_binary(_fp64_binary(-1), _ROWS),
        "inputs[0].parameters.binary_data_size must be a byte count",
    ),
    (
        "binary size past the body",
        *_binary(_fp64_binary(64), _ROWS),
        "only 32 bytes of binary data are left",
    ),
    (
        "binary size and data",
        *_binary(_input(parameters={"binary_data_size": 32}), _ROWS),
        "inputs[0] has both data and parameters.binary_data_size",
    ),
    (
        "binary cut inside a value",
        *_binary(_fp64_binary(30), _ROWS[:30]),
        "30 bytes of binary data are not whole FP64 values",
    ),
    (
        "binary bytes left over",
        *_binary(_fp64_binary(32), _ROWS + b"\0\0"),
        "2 bytes after the JSON belong to no input",
    ),
    (
        "BYTES element cut short",
        *_binary(_bytes_binary(7), struct.pack("<I", 10) + b"abc"),
        "BYTES element 0 says it has 10 bytes, but only 3 are left",
    ),
    (
        "BYTES length cut short",
        *_binary(_bytes_binary(9), struct.pack("<I", 3) + b"abc" + b"\x05\x00"),
        "ends inside the 4-byte length of element 1",
    ),
    (
        "BYTES not UTF-8",
        *_binary(_bytes_binary(6), struct.pack("<I", 2) + b"\xff\xfe"),
        "BYTES element 0 is not UTF-8 text",
    ),
    (
        "header length not a number",
        orjson.dumps(_body()),
        {"Inference-Header-Content-Length": "many"},
        "Inference-Header-Content-Length 'many'",
    ),
    (
        "header length past the body",
        orjson.dumps(_body()),
        {"Inference-Header-Content-Length": "100000"},
        "Inference-Header-Content-Length '100000'",
    ),
]


@pytest.fixture(scope="module")
def infer_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    models = tmp_path_factory.mktemp("models")
    archive = pack(sklearn_model(models / "iris"), models / "iris.tar.gz")
    with slipway_server(tmp_path_factory.mktemp("home")) as (url, _):
        deploy(remote(url), "iris", str(archive))
        yield f"{url}/endpoints/iris/v2/models/iris/infer"


def _post(url: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(url, content=content, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("body", "headers", "named"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_a_malformed_v2_request_is_a_400_naming_the_field(
    infer_url: str, body: Any, headers: dict[str, str], named: str
) -> None:
    answer = _post(infer_url, body, headers)

    assert (answer.status_code, list(answer.json())) == (400, ["error"]), answer.text
    assert named in answer.json()["error"]


def test_the_endpoint_answers_good_requests_after_malformed_ones(infer_url: str) -> None:
    for _, body, headers, _ in MALFORMED:
        _post(infer_url, body, headers)
    as_json = _post(infer_url, _body(id="after", outputs=[{"name": "output-0"}]), {})
    as_binary = _post(infer_url, *_binary(_fp64_binary(32), _ROWS))

    assert as_json.status_code == 200
    assert as_json.json()["id"] == "after"
    assert as_json.json()["outputs"][0]["data"] == [0]
    assert as_binary.status_code == 200
    assert as_binary.json()["outputs"][0]["data"] == [0]
