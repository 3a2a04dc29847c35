"""Remote mode: the ServingService's methods, carried out by a slipway server.

Control-plane calls go to the REST API; ``invoke_endpoint`` goes to the runtime path
``/endpoints/{name}/invocations`` and turns the reference error shape back into the
errors embedded mode raises.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from slipway import errors
from slipway._http import HttpClient
from slipway.inference import errors as inference_errors
from slipway.serving import spec as specs
from slipway.serving.engine import Invocation
from slipway.serving.models import (
    ContainerDefinition,
    DataCaptureConfig,
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Model,
    Page,
    ProductionVariant,
    Tag,
)

_INVOKE_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


def _q(name: str) -> str:
    return quote(name, safe="")


def _wire(value: Any) -> Any:
    return value.to_wire() if hasattr(value, "to_wire") else value


def _tags(tags: Iterable[Tag | dict[str, str]] | None) -> list[Any]:
    return [_wire(tag) for tag in tags or []]


def _listing(**values: Any) -> dict[str, Any]:
    params = {}
    for key, value in values.items():
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        elif value is not None and not isinstance(value, str | int):
            value = str(value)
        params[key] = value
    return params


def _page(body: dict[str, Any], entity: type) -> Page[Any]:
    return Page[Any](
        items=[entity.model_validate(item) for item in body["Items"]],
        next_token=body.get("NextToken"),
    )


class RemoteServing:
    """Hosting through a slipway server's REST API and runtime paths."""

    def __init__(self, http: HttpClient, token: str | None = None) -> None:
        self.http = http
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._runtime = httpx.Client(
            base_url=http.base_url, headers=headers, timeout=_INVOKE_TIMEOUT
        )

    # --- models -----------------------------------------------------------------------

    def create_model(
        self,
        model_name: str,
        primary_container: ContainerDefinition | dict[str, Any],
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Model:
        body = {"ModelName": model_name, "PrimaryContainer": _wire(primary_container)}
        body["Tags"] = _tags(tags)
        return Model.model_validate(self.http.request("POST", "/models", json=body))

    def get_model(self, model_name: str) -> Model:
        return Model.model_validate(self.http.request("GET", f"/models/{_q(model_name)}"))

    def list_models(self, **listing: Any) -> Page[Model]:
        return _page(self.http.request("GET", "/models", params=_listing(**listing)), Model)

    def delete_model(self, model_name: str) -> None:
        self.http.request("DELETE", f"/models/{_q(model_name)}")

    # --- endpoint configs -------------------------------------------------------------

    def create_endpoint_config(
        self,
        endpoint_config_name: str,
        production_variants: Sequence[ProductionVariant | dict[str, Any]],
        data_capture_config: DataCaptureConfig | dict[str, Any] | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> EndpointConfig:
        body = {
            "EndpointConfigName": endpoint_config_name,
            "ProductionVariants": [_wire(v) for v in production_variants],
            "DataCaptureConfig": _wire(data_capture_config),
            "Tags": _tags(tags),
        }
        if data_capture_config is None:
            del body["DataCaptureConfig"]
        found = self.http.request("POST", "/endpoint-configs", json=body)
        return EndpointConfig.model_validate(found)

    def get_endpoint_config(self, endpoint_config_name: str) -> EndpointConfig:
        found = self.http.request("GET", f"/endpoint-configs/{_q(endpoint_config_name)}")
        return EndpointConfig.model_validate(found)

    def list_endpoint_configs(self, **listing: Any) -> Page[EndpointConfig]:
        found = self.http.request("GET", "/endpoint-configs", params=_listing(**listing))
        return _page(found, EndpointConfig)

    def delete_endpoint_config(self, endpoint_config_name: str) -> None:
        self.http.request("DELETE", f"/endpoint-configs/{_q(endpoint_config_name)}")

    # --- endpoints --------------------------------------------------------------------

    def create_endpoint(
        self,
        endpoint_name: str,
        endpoint_config_name: str,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Endpoint:
        body = {
            "EndpointName": endpoint_name,
            "EndpointConfigName": endpoint_config_name,
            "Tags": _tags(tags),
        }
        return Endpoint.model_validate(self.http.request("POST", "/endpoints", json=body))

    def get_endpoint(self, endpoint_name: str) -> Endpoint:
        found = self.http.request("GET", f"/endpoints/{_q(endpoint_name)}")
        return Endpoint.model_validate(found)

    def list_endpoints(
        self, *, status_equals: EndpointStatus | str | None = None, **listing: Any
    ) -> Page[Endpoint]:
        params = _listing(status_equals=status_equals, **listing)
        return _page(self.http.request("GET", "/endpoints", params=params), Endpoint)

    def update_endpoint(self, endpoint_name: str, endpoint_config_name: str) -> Endpoint:
        body = {"EndpointConfigName": endpoint_config_name}
        found = self.http.request("PATCH", f"/endpoints/{_q(endpoint_name)}", json=body)
        return Endpoint.model_validate(found)

    def delete_endpoint(self, endpoint_name: str) -> None:
        self.http.request("DELETE", f"/endpoints/{_q(endpoint_name)}")

    def wait_for_endpoint(self, endpoint_name: str, timeout: float = 300) -> Endpoint:
        return self.get_endpoint(endpoint_name)

    def get_endpoint_deployment(self, endpoint_name: str) -> dict[str, Any]:
        return self.http.request("GET", f"/endpoints/{_q(endpoint_name)}/deployment")

    def endpoint_spec(self, endpoint_name: str) -> specs.EndpointSpec:
        return specs.from_deployment(self.get_endpoint_deployment(endpoint_name))

    def endpoint_version(self, endpoint_name: str) -> tuple[int, str] | None:
        try:
            found = self.get_endpoint_deployment(endpoint_name)
        except errors.NotFound:
            return None
        return found["Version"], found["EndpointStatus"]

    # --- invoking ---------------------------------------------------------------------

    def invoke_endpoint(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str | None = None,
        accept: str | None = None,
        target_model: str | None = None,
        target_variant: str | None = None,
        custom_attributes: str | None = None,
        inference_id: str | None = None,
    ) -> Invocation:
        headers = {
            "Content-Type": content_type,
            "Accept": accept,
            "X-Amzn-SageMaker-Target-Model": target_model,
            "X-Amzn-SageMaker-Target-Variant": target_variant,
            "X-Amzn-SageMaker-Custom-Attributes": custom_attributes,
            "X-Amzn-SageMaker-Inference-Id": inference_id,
        }
        try:
            response = self._runtime.post(
                f"/endpoints/{_q(endpoint_name)}/invocations",
                content=body,
                headers={k: v for k, v in headers.items() if v is not None},
            )
        except httpx.HTTPError as error:
            raise errors.RemoteError(
                f"cannot reach the slipway server at {self.http.base_url}: {error}"
            ) from None
        if response.status_code >= 400:
            raise runtime_error(response)
        return Invocation(
            body=response.content,
            content_type=response.headers.get("content-type", ""),
            invoked_variant=response.headers.get("x-amzn-invoked-production-variant", ""),
            custom_attributes=response.headers.get("x-amzn-sagemaker-custom-attributes"),
        )

    def close(self) -> None:
        self._runtime.close()


_BY_STATUS: dict[int, type[errors.SlipwayError]] = {
    400: inference_errors.BadPayload,
    403: errors.Forbidden,
    404: inference_errors.ModelNotFound,
    406: inference_errors.NotAcceptable,
    413: errors.PayloadTooLarge,
    415: inference_errors.UnsupportedContentType,
}
_BY_ORIGINAL: dict[int, type[errors.SlipwayError]] = {
    403: inference_errors.UntrustedModel,
    504: inference_errors.PredictionTimeout,
    507: inference_errors.InsufficientMemory,
}


def runtime_error(response: httpx.Response) -> errors.SlipwayError:
    """The error embedded mode would have raised, from a runtime error reply."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = {}
    message = body.get("Message") or f"server answered {response.status_code}"
    if response.headers.get("x-amzn-errortype") == "ModelError":
        original = int(body.get("OriginalStatusCode") or 500)
        cls = _BY_ORIGINAL.get(original, inference_errors.PredictionError)
        return cls(body.get("OriginalMessage") or message)
    cls = _BY_STATUS.get(response.status_code, errors.SlipwayError)
    error = cls(message)
    error.status_code = response.status_code
    return error


@functools.cache
def remote_serving(server_url: str, token: str | None) -> RemoteServing:
    return RemoteServing(HttpClient(server_url, token), token)
