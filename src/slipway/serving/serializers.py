"""Serializers and deserializers of a Predictor, shaped like the SageMaker Python SDK's."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import orjson


class JSONSerializer:
    CONTENT_TYPE = "application/json"

    def serialize(self, data: Any) -> bytes:
        if isinstance(data, bytes | str):
            return data.encode() if isinstance(data, str) else data
        return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)


class CSVSerializer:
    CONTENT_TYPE = "text/csv"

    def serialize(self, data: Any) -> bytes:
        if isinstance(data, bytes | str):
            return data.encode() if isinstance(data, str) else data
        rows = np.asarray(data)
        if rows.ndim == 1:
            rows = rows.reshape(1, -1)
        return "\n".join(",".join(map(str, row)) for row in rows.tolist()).encode()


class NumpySerializer:
    CONTENT_TYPE = "application/x-npy"

    def serialize(self, data: Any) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(data), allow_pickle=False)
        return buffer.getvalue()


class IdentitySerializer:
    def __init__(self, content_type: str = "application/octet-stream") -> None:
        self.CONTENT_TYPE = content_type

    def serialize(self, data: bytes) -> bytes:
        return data


class JSONDeserializer:
    ACCEPT = ("application/json",)

    def deserialize(self, body: bytes, content_type: str) -> Any:
        return orjson.loads(body)


class CSVDeserializer:
    ACCEPT = ("text/csv",)

    def deserialize(self, body: bytes, content_type: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(body.decode())))


class NumpyDeserializer:
    ACCEPT = ("application/x-npy",)

    def deserialize(self, body: bytes, content_type: str) -> np.ndarray:
        if content_type.startswith("application/x-npy"):
            return np.load(io.BytesIO(body), allow_pickle=False)
        return np.asarray(orjson.loads(body))


class BytesDeserializer:
    ACCEPT = ("*/*",)

    def deserialize(self, body: bytes, content_type: str) -> bytes:
        return body
