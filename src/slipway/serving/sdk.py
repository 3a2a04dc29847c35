"""The hosting SDK, shaped like the SageMaker Python SDK's Model, MultiDataModel and Predictor.

::

    predictor = Model(model_data="s3://bucket/model.tar.gz").deploy(endpoint_name="churn")
    predictor.predict([[5.1, 3.5, 1.4, 0.2]])

    mme = MultiDataModel("many", model_data_prefix="s3://bucket/models/")
    mme.add_model("/tmp/a.tar.gz", "a.tar.gz")
    mme.deploy(endpoint_name="many").predict(rows, target_model="a.tar.gz")

Every call goes to the backend of the current settings: the in-process ServingService
(embedded; predictions run in this process) or a slipway server (remote).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import fsspec

from slipway.errors import SlipwayError
from slipway.names import generate_name
from slipway.platform import serving_backend
from slipway.serving import models as m
from slipway.serving.serializers import JSONDeserializer, JSONSerializer


class DataCaptureConfig:
    """What to capture of an endpoint's traffic, as ``sagemaker.model_monitor`` has it."""

    def __init__(
        self,
        enable_capture: bool = True,
        sampling_percentage: int = 20,
        destination_s3_uri: str | None = None,
        capture_options: list[str] | None = None,
        csv_content_types: list[str] | None = None,
        json_content_types: list[str] | None = None,
    ) -> None:
        if destination_s3_uri is None:
            raise SlipwayError("DataCaptureConfig needs destination_s3_uri (a folder or s3://)")
        self.enable_capture = enable_capture
        self.sampling_percentage = sampling_percentage
        self.destination_s3_uri = destination_s3_uri
        self.capture_options = capture_options or ["REQUEST", "RESPONSE"]
        self.csv_content_types = csv_content_types or ["text/csv"]
        self.json_content_types = json_content_types or ["application/json"]

    def to_entity(self) -> m.DataCaptureConfig:
        modes = {"REQUEST": "Input", "RESPONSE": "Output", "INPUT": "Input", "OUTPUT": "Output"}
        return m.DataCaptureConfig(
            enable_capture=self.enable_capture,
            initial_sampling_percentage=self.sampling_percentage,
            destination_s3_uri=self.destination_s3_uri,
            capture_options=[
                m.CaptureOption(capture_mode=modes[o.upper()]) for o in self.capture_options
            ],
            capture_content_type_header=m.CaptureContentTypeHeader(
                csv_content_types=self.csv_content_types,
                json_content_types=self.json_content_types,
            ),
        )


class Predictor:
    """Makes predictions with an endpoint."""

    def __init__(self, endpoint_name: str, serializer: Any = None, deserializer: Any = None):
        self.endpoint_name = endpoint_name
        self.serializer = serializer or JSONSerializer()
        self.deserializer = deserializer or JSONDeserializer()

    def predict(
        self,
        data: Any,
        initial_args: dict[str, str] | None = None,
        target_model: str | None = None,
        target_variant: str | None = None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
    ) -> Any:
        args = dict(initial_args or {})
        result = serving_backend().invoke_endpoint(
            self.endpoint_name,
            self.serializer.serialize(data),
            content_type=args.get("ContentType", self.serializer.CONTENT_TYPE),
            accept=args.get("Accept", ", ".join(self.deserializer.ACCEPT)),
            target_model=target_model,
            target_variant=target_variant,
            custom_attributes=custom_attributes,
            inference_id=inference_id,
        )
        return self.deserializer.deserialize(result.body, result.content_type)

    def endpoint(self) -> m.Endpoint:
        return serving_backend().get_endpoint(self.endpoint_name)

    def update_endpoint(self, endpoint_config_name: str, wait: bool = True) -> m.Endpoint:
        serving_backend().update_endpoint(self.endpoint_name, endpoint_config_name)
        return wait_for_endpoint(self.endpoint_name) if wait else self.endpoint()

    def delete_endpoint(self, delete_endpoint_config: bool = True) -> None:
        backend = serving_backend()
        config = backend.get_endpoint(self.endpoint_name).endpoint_config_name
        backend.delete_endpoint(self.endpoint_name)
        if delete_endpoint_config:
            backend.delete_endpoint_config(config)


def wait_for_endpoint(endpoint_name: str, timeout: float = 600, poll: float = 0.2) -> m.Endpoint:
    """Wait until the endpoint is neither Creating nor Updating; raise if it Failed."""
    backend = serving_backend()
    deadline = time.monotonic() + timeout
    while True:
        endpoint = backend.wait_for_endpoint(endpoint_name, timeout)
        status = endpoint.endpoint_status
        if status == m.EndpointStatus.FAILED:
            raise SlipwayError(f"endpoint {endpoint_name!r} failed: {endpoint.failure_reason}")
        if status not in (m.EndpointStatus.CREATING, m.EndpointStatus.UPDATING):
            return endpoint
        if time.monotonic() > deadline:
            raise SlipwayError(f"endpoint {endpoint_name!r} is still {status} after {timeout} s")
        time.sleep(poll)


class Model:
    """A model to host: a ``model.tar.gz`` (or folder) and its container environment."""

    mode = m.ContainerMode.SINGLE_MODEL

    def __init__(
        self,
        model_data: str,
        name: str | None = None,
        env: dict[str, str] | None = None,
        image_uri: str | None = None,
        predictor_cls: type[Predictor] = Predictor,
    ) -> None:
        self.model_data = model_data
        self.name = name
        self.env = dict(env or {})
        self.image_uri = image_uri
        self.predictor_cls = predictor_cls
        self.endpoint_name: str | None = None

    def create(self) -> m.Model:
        """Create the Model entity (once)."""
        self.name = self.name or generate_name("slipway-model")[:63]
        container = m.ContainerDefinition(
            model_data_url=self.model_data, mode=self.mode, environment=self.env,
            image=self.image_uri,
        )  # fmt: skip
        return serving_backend().create_model(self.name, container)

    def deploy(
        self,
        initial_instance_count: int = 1,
        instance_type: str | None = None,
        endpoint_name: str | None = None,
        data_capture_config: DataCaptureConfig | None = None,
        wait: bool = True,
        serializer: Any = None,
        deserializer: Any = None,
        model_server_workers: int | None = None,
        invocation_timeout: float | None = None,
        **variant: Any,
    ) -> Predictor:
        """Create the model, an endpoint config and an endpoint; return its Predictor."""
        self.create()
        assert self.name is not None
        endpoint_name = endpoint_name or self.name
        production_variant = m.ProductionVariant(
            model_name=self.name,
            initial_instance_count=initial_instance_count,
            model_server_workers=model_server_workers,
            invocation_timeout_seconds=invocation_timeout,
            **variant,
        )
        capture = data_capture_config.to_entity() if data_capture_config else None
        backend = serving_backend()
        backend.create_endpoint_config(endpoint_name, [production_variant], capture)
        backend.create_endpoint(endpoint_name, endpoint_name)
        self.endpoint_name = endpoint_name
        if wait:
            wait_for_endpoint(endpoint_name)
        return self.predictor_cls(endpoint_name, serializer, deserializer)

    def delete_model(self) -> None:
        if self.name:
            serving_backend().delete_model(self.name)


class MultiDataModel(Model):
    """Many models under one prefix, loaded on first call by TargetModel."""

    mode = m.ContainerMode.MULTI_MODEL

    def __init__(
        self,
        name: str,
        model_data_prefix: str,
        env: dict[str, str] | None = None,
        predictor_cls: type[Predictor] = Predictor,
    ) -> None:
        super().__init__(model_data_prefix, name, env, predictor_cls=predictor_cls)
        self.model_data_prefix = model_data_prefix

    def add_model(self, model_data_source: str, model_data_path: str | None = None) -> str:
        """Copy a ``model.tar.gz`` under the prefix; returns its TargetModel key."""
        key = model_data_path or model_data_source.rstrip("/").rsplit("/", 1)[-1]
        target = f"{self.model_data_prefix.rstrip('/')}/{key}"
        with fsspec.open(model_data_source, "rb") as source, fsspec.open(target, "wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
        return key

    def list_models(self) -> Iterator[str]:
        """The TargetModel keys under the prefix."""
        fs, root = fsspec.core.url_to_fs(self.model_data_prefix)
        root = root.rstrip("/")
        for path in sorted(fs.find(root)):
            yield path[len(root) + 1 :]
