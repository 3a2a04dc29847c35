"""What scores a function's rows: a model in this process, or an endpoint in batches.

A model is loaded once, with the shared loader, and called once per vector of rows. An
endpoint is called through the runtime route of a slipway server
(``POST /endpoints/{name}/invocations``) with at most ``batch_size`` rows per request
and a timeout, so a slow or stopped endpoint fails the query instead of hanging it.
Without a server URL (embedded mode) endpoints are invoked in this process.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import orjson

from slipway.errors import NotFound, SlipwayError
from slipway.inference import LoadedModel, load_model
from slipway.settings import get_settings
from slipway.sql.errors import SqlError
from slipway.sql.rows import Rows
from slipway.sql.spec import FunctionSpec

_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_PACKAGE_ARN = "arn:slipway:model-package/"
_SERVING = ("InService", "Updating")


class Scorer(Protocol):
    target: str

    def check(self, spec: FunctionSpec) -> None:
        """Fail now, at declaration, when the function cannot work."""

    def score(self, rows: Rows, spec: FunctionSpec) -> Any:
        """One prediction per row."""


# --- a model in this process ------------------------------------------------------------


class ModelScorer:
    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.target = f"model {model.source!r}"
        shape = model.inputs()[0].shape if model.inputs() else [-1]
        self.width = shape[-1] if len(shape) == 2 else -1

    def check(self, spec: FunctionSpec) -> None:
        if spec.params is not None:
            self._check_width(spec, len(spec.params))

    def _check_width(self, spec: FunctionSpec, count: int) -> None:
        if self.width >= 0 and count != self.width:
            raise spec.error(
                f"{count} argument{'s' * (count != 1)} given, but {self.target} takes "
                f"{self.width} features per row"
            )

    def score(self, rows: Rows, spec: FunctionSpec) -> Any:
        if spec.params is None:
            self._check_width(spec, len(rows.columns))
        return self.model.predict_frame(rows.model_input())


def resolve_model(model: Any) -> LoadedModel:
    """A LoadedModel from a registered model package (object or ARN) or a model URI/path."""
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, str) and model.startswith(_PACKAGE_ARN):
        from slipway.registry.sdk import ModelPackage

        model = ModelPackage.load(model)
    if hasattr(model, "model_data_url"):
        container = model.inference_specification.containers[0]
        return load_model(container.model_data_url, environment=dict(container.environment))
    if isinstance(model, str | Path):
        return load_model(model)
    raise SqlError(
        f"model={model!r} is not a model: give a model URI or path, a model package ARN "
        f"({_PACKAGE_ARN}<group>/<version>) or a registered ModelPackage"
    )


def is_endpoint_name(target: str) -> bool:
    return bool(_ENDPOINT_NAME.fullmatch(target)) and len(target) <= 63


# --- an endpoint --------------------------------------------------------------------------


class Transport(Protocol):
    where: str

    def status(self, endpoint: str) -> str: ...

    def invoke(self, endpoint: str, body: bytes, content_type: str) -> tuple[bytes, str]: ...


class HttpTransport:
    """The runtime route of a slipway server, with a timeout on every request."""

    def __init__(self, server_url: str, token: str | None, timeout: float) -> None:
        self.where = f"the slipway server at {server_url}"
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(
            base_url=server_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )

    def status(self, endpoint: str) -> str:
        response = self._send("GET", f"/api/v1/endpoints/{quote(endpoint, safe='')}", endpoint)
        if response.status_code == 404:
            raise NotFound(f"endpoint {endpoint!r} not found on {self.where}")
        if response.status_code >= 400:
            raise SlipwayError(
                f"{self.where} answered {response.status_code} for endpoint {endpoint!r}: "
                f"{response.text[:200]}"
            )
        return str(response.json().get("EndpointStatus", ""))

    def invoke(self, endpoint: str, body: bytes, content_type: str) -> tuple[bytes, str]:
        from slipway.serving.client import runtime_error

        headers = {"Content-Type": content_type, "Accept": "application/json"}
        path = f"/endpoints/{quote(endpoint, safe='')}/invocations"
        response = self._send("POST", path, endpoint, content=body, headers=headers)
        if response.status_code >= 400:
            raise runtime_error(response)
        return response.content, response.headers.get("content-type", "")

    def _send(self, method: str, path: str, endpoint: str, **options: Any) -> httpx.Response:
        try:
            return self.client.request(method, path, **options)
        except httpx.TimeoutException:
            raise SlipwayError(
                f"endpoint {endpoint!r} did not answer within {self.timeout:g} s "
                f"(on {self.where}); give the function a longer timeout, or fewer rows "
                "per batch"
            ) from None
        except httpx.HTTPError as error:
            raise SlipwayError(
                f"cannot reach {self.where} to call endpoint {endpoint!r}: {error}; check "
                "the server URL (SLIPWAY_SERVER_URL) and that `slipway server` is running"
            ) from None


class EmbeddedTransport:
    """Endpoints served in this process (embedded mode: no server URL is set)."""

    where = "this process (embedded mode; set SLIPWAY_SERVER_URL to use a server)"

    def __init__(self) -> None:
        from slipway.platform import services

        self.serving = services().serving

    def status(self, endpoint: str) -> str:
        return str(self.serving.get_endpoint(endpoint).endpoint_status)

    def invoke(self, endpoint: str, body: bytes, content_type: str) -> tuple[bytes, str]:
        result = self.serving.invoke_endpoint(endpoint, body, content_type, "application/json")
        return result.body, result.content_type


def build_scorer(
    spec: FunctionSpec,
    model: Any,
    endpoint: str | None,
    connect: Callable[[], Transport],
    batch_size: int,
) -> Scorer:
    """The scorer of a declared function, checked: errors name the function."""
    try:
        if model is not None:
            scorer: Scorer = ModelScorer(resolve_model(model))
        else:
            scorer = EndpointScorer(str(endpoint), connect(), batch_size)
    except SlipwayError as error:
        raise spec.error(error.message) from None
    scorer.check(spec)
    return scorer


def transport(server_url: str | None, token: str | None, timeout: float) -> Transport:
    settings = get_settings()
    url = server_url or settings.server_url
    if url:
        return HttpTransport(url, token or settings.token, timeout)
    return EmbeddedTransport()


class EndpointScorer:
    def __init__(self, endpoint: str, via: Transport, batch_size: int) -> None:
        if batch_size < 1:
            raise SqlError(f"batch_size={batch_size} is not valid: give 1 or more rows")
        self.endpoint = endpoint
        self.via = via
        self.batch_size = batch_size
        self.target = f"endpoint {endpoint!r}"

    def check(self, spec: FunctionSpec) -> None:
        try:
            status = self.via.status(self.endpoint)
        except NotFound:
            raise spec.error(
                f"endpoint {self.endpoint!r} not found on {self.via.where}; list endpoints "
                "with `slipway endpoints list`"
            ) from None
        except SlipwayError as error:
            raise spec.error(error.message) from None
        if status not in _SERVING:
            raise spec.error(
                f"endpoint {self.endpoint!r} is {status}, not InService; see "
                f"`slipway endpoints show {self.endpoint}`"
            )

    def score(self, rows: Rows, spec: FunctionSpec) -> Any:
        answers: list[Any] = []
        for batch in rows.batches(self.batch_size):
            if batch.numeric:
                body, kind = batch.to_csv(), "text/csv"
            else:
                body, kind = batch.to_json(), "application/json"
            reply, reply_type = self.via.invoke(self.endpoint, body, kind)
            found = parse_reply(reply, reply_type)
            if len(found) != batch.count:
                raise SqlError(
                    f"{self.target} answered {len(found)} predictions for {batch.count} rows"
                )
            answers.extend(found)
        return answers


def parse_reply(body: bytes, content_type: str) -> list[Any]:
    """Predictions from a JSON list (or ``{"predictions": [...]}``), else one per line."""
    kind = content_type.split(";", 1)[0].strip()
    if kind in ("text/csv", "text/plain"):
        return _lines(body)
    try:
        found = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _lines(body)
    if isinstance(found, dict) and "predictions" in found:
        found = found["predictions"]
    if not isinstance(found, list):
        found = [found]
    if found and isinstance(found[0], list) and all(len(row) == 1 for row in found):
        found = [row[0] for row in found]
    return found


def _lines(body: bytes) -> list[Any]:
    return [_csv_value(line) for line in body.decode("utf-8", "replace").splitlines() if line]


def _csv_value(line: str) -> Any:
    values = line.split(",")
    parsed = []
    for value in values:
        try:
            parsed.append(float(value))
        except ValueError:
            parsed.append(value)
    return parsed[0] if len(parsed) == 1 else parsed
