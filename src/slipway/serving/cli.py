"""The hosting commands: `slipway endpoints create|list|show|update|delete|invoke|serve`,
and `slipway endpoints models ...` / `slipway endpoints configs ...` for the entities
an endpoint is made of.

`slipway endpoints create NAME --model-data URI` makes a model, a config and an endpoint
all named NAME in one step; `--config CFG` deploys an existing config instead. Commands
call the backend of the current settings; `--json` prints the reference wire shapes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from slipway.errors import ValidationError
from slipway.platform import serving_backend
from slipway.serving import models as m

endpoints_app = typer.Typer(help="Endpoints: models served over HTTP.", no_args_is_help=True)
models_app = typer.Typer(help="Models that endpoints serve.", no_args_is_help=True)
configs_app = typer.Typer(help="Endpoint configs: variants and data capture.", no_args_is_help=True)
endpoints_app.add_typer(models_app, name="models")
endpoints_app.add_typer(configs_app, name="configs")

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_out = Console(soft_wrap=True)


def _print_json(value: Any) -> None:
    def wire(item: Any) -> Any:
        return item.to_wire() if hasattr(item, "to_wire") else item

    data = [wire(v) for v in value] if isinstance(value, list) else wire(value)
    typer.echo(json.dumps(data, indent=2, default=str))


def _env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(f"--env {pair!r} is not KEY=VALUE")
        env[key] = value
    return env


def _all(list_page) -> list[Any]:
    items, token = [], None
    while True:
        page = list_page(next_token=token, max_results=100)
        items.extend(page.items)
        token = page.next_token
        if not token:
            return items


# --- models -----------------------------------------------------------------------------


@models_app.command("create")
def create_model(
    name: str,
    model_data: str = typer.Option(..., "--model-data", help="model.tar.gz, folder or prefix."),
    multi_model: bool = typer.Option(False, "--multi-model", help="MODEL_DATA is a prefix."),
    env: list[str] = typer.Option([], "--env", help="KEY=VALUE for the container (repeat)."),
    as_json: bool = _JSON,
) -> None:
    """Create a model from stored model files."""
    mode = m.ContainerMode.MULTI_MODEL if multi_model else m.ContainerMode.SINGLE_MODEL
    container = m.ContainerDefinition(model_data_url=model_data, mode=mode, environment=_env(env))
    model = serving_backend().create_model(name, container)
    _print_json(model) if as_json else typer.echo(f"model {name!r} created")


@models_app.command("list")
def list_models(as_json: bool = _JSON) -> None:
    """List models, newest first."""
    found = _all(serving_backend().list_models)
    if as_json:
        return _print_json(found)
    table = Table("Name", "Mode", "Model data", "Created")
    for model in found:
        c = model.primary_container
        table.add_row(model.model_name, c.mode, c.model_data_url, f"{model.creation_time:%c}")
    _out.print(table)


@models_app.command("show")
def show_model(name: str) -> None:
    """Show a model."""
    _print_json(serving_backend().get_model(name))


@models_app.command("delete")
def delete_model(name: str) -> None:
    """Delete a model (endpoints deployed with it keep serving it)."""
    serving_backend().delete_model(name)
    typer.echo(f"model {name!r} deleted")


# --- configs ----------------------------------------------------------------------------


def _variant(model: str, options: dict[str, Any]) -> m.ProductionVariant:
    return m.ProductionVariant(
        model_name=model,
        model_server_workers=options["workers"],
        model_cache_bytes=options["cache_bytes"],
        max_models=options["max_models"],
        invocation_timeout_seconds=options["timeout"],
    )


def _capture(uri: str | None, percent: int) -> m.DataCaptureConfig | None:
    if uri is None:
        return None
    from slipway.serving.sdk import DataCaptureConfig

    return DataCaptureConfig(sampling_percentage=percent, destination_s3_uri=uri).to_entity()


_WORKERS = typer.Option(None, "--workers", help="Worker processes when served alone.")
_CACHE = typer.Option(None, "--cache-bytes", help="Multi-model memory budget per instance.")
_MAX = typer.Option(None, "--max-models", help="Most models loaded per instance.")
_TIMEOUT = typer.Option(None, "--timeout", help="Seconds a prediction may take.")
_CAPTURE = typer.Option(None, "--capture-uri", help="Capture traffic under this folder/URI.")
_PERCENT = typer.Option(100, "--capture-percent", help="Sampling percentage of capture.")


@configs_app.command("create")
def create_config(
    name: str,
    model: str = typer.Option(..., "--model", help="The model of the variant."),
    workers: int | None = _WORKERS,
    cache_bytes: int | None = _CACHE,
    max_models: int | None = _MAX,
    timeout: float | None = _TIMEOUT,
    capture_uri: str | None = _CAPTURE,
    capture_percent: int = _PERCENT,
    as_json: bool = _JSON,
) -> None:
    """Create an endpoint config with one variant."""
    variant = _variant(model, locals())
    config = serving_backend().create_endpoint_config(
        name, [variant], _capture(capture_uri, capture_percent)
    )
    _print_json(config) if as_json else typer.echo(f"endpoint config {name!r} created")


@configs_app.command("list")
def list_configs(as_json: bool = _JSON) -> None:
    """List endpoint configs, newest first."""
    found = _all(serving_backend().list_endpoint_configs)
    if as_json:
        return _print_json(found)
    table = Table("Name", "Variants", "Capture", "Created")
    for config in found:
        variants = ", ".join(f"{v.variant_name}={v.model_name}" for v in config.production_variants)
        capture = (
            config.data_capture_config.destination_s3_uri if config.data_capture_config else ""
        )
        table.add_row(config.endpoint_config_name, variants, capture, f"{config.creation_time:%c}")
    _out.print(table)


@configs_app.command("show")
def show_config(name: str) -> None:
    """Show an endpoint config."""
    _print_json(serving_backend().get_endpoint_config(name))


@configs_app.command("delete")
def delete_config(name: str) -> None:
    """Delete an endpoint config (endpoints deployed with it keep serving)."""
    serving_backend().delete_endpoint_config(name)
    typer.echo(f"endpoint config {name!r} deleted")


# --- endpoints --------------------------------------------------------------------------


def _wait(name: str, wait: bool) -> m.Endpoint:
    from slipway.serving.sdk import wait_for_endpoint

    return wait_for_endpoint(name) if wait else serving_backend().get_endpoint(name)


@endpoints_app.command("create")
def create_endpoint(
    name: str,
    config: str | None = typer.Option(None, "--config", help="Deploy this endpoint config."),
    model_data: str | None = typer.Option(None, "--model-data", help="Or: model files to serve."),
    multi_model: bool = typer.Option(False, "--multi-model", help="MODEL_DATA is a prefix."),
    env: list[str] = typer.Option([], "--env", help="KEY=VALUE for the container (repeat)."),
    workers: int | None = _WORKERS,
    cache_bytes: int | None = _CACHE,
    max_models: int | None = _MAX,
    timeout: float | None = _TIMEOUT,
    capture_uri: str | None = _CAPTURE,
    capture_percent: int = _PERCENT,
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until InService."),
    as_json: bool = _JSON,
) -> None:
    """Create an endpoint from a config, or from model files in one step."""
    backend = serving_backend()
    if (config is None) == (model_data is None):
        raise ValidationError("give either --config CFG or --model-data URI")
    if model_data is not None:
        mode = m.ContainerMode.MULTI_MODEL if multi_model else m.ContainerMode.SINGLE_MODEL
        container = m.ContainerDefinition(
            model_data_url=model_data, mode=mode, environment=_env(env)
        )
        backend.create_model(name, container)
        variant = _variant(name, locals())
        backend.create_endpoint_config(name, [variant], _capture(capture_uri, capture_percent))
        config = name
    assert config is not None
    backend.create_endpoint(name, config)
    endpoint = _wait(name, wait)
    _print_json(endpoint) if as_json else typer.echo(
        f"endpoint {name!r} is {endpoint.endpoint_status}"
    )


@endpoints_app.command("list")
def list_endpoints(
    status: str | None = typer.Option(None, "--status", help="Only endpoints in this status."),
    as_json: bool = _JSON,
) -> None:
    """List endpoints, newest first."""
    backend = serving_backend()
    found = _all(lambda **kw: backend.list_endpoints(status_equals=status, **kw))
    if as_json:
        return _print_json(found)
    table = Table("Name", "Status", "Config", "Created")
    for e in found:
        table.add_row(
            e.endpoint_name, e.endpoint_status, e.endpoint_config_name, f"{e.creation_time:%c}"
        )
    _out.print(table)


@endpoints_app.command("show")
def show_endpoint(name: str) -> None:
    """Describe an endpoint."""
    _print_json(serving_backend().get_endpoint(name))


@endpoints_app.command("update")
def update_endpoint(
    name: str,
    config: str = typer.Option(..., "--config", help="The endpoint config to switch to."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until InService."),
) -> None:
    """Switch an endpoint to another config; it keeps serving meanwhile."""
    serving_backend().update_endpoint(name, config)
    endpoint = _wait(name, wait)
    reason = f" ({endpoint.failure_reason})" if endpoint.failure_reason else ""
    typer.echo(f"endpoint {name!r} is {endpoint.endpoint_status}{reason}")


@endpoints_app.command("delete")
def delete_endpoint(name: str) -> None:
    """Delete an endpoint (its config and models stay)."""
    serving_backend().delete_endpoint(name)
    typer.echo(f"endpoint {name!r} deleted")


@endpoints_app.command("invoke")
def invoke_endpoint(
    name: str,
    body: str | None = typer.Option(None, "--body", help="The request body."),
    file: Path | None = typer.Option(None, "--file", help="Read the body from a file (- = stdin)."),
    content_type: str = typer.Option("application/json", "--content-type"),
    accept: str | None = typer.Option(None, "--accept"),
    target_model: str | None = typer.Option(None, "--target-model"),
    target_variant: str | None = typer.Option(None, "--target-variant"),
    custom_attributes: str | None = typer.Option(None, "--custom-attributes"),
) -> None:
    """Send one request to an endpoint and print the answer."""
    if (body is None) == (file is None):
        raise ValidationError("give the request with --body TEXT or --file PATH")
    data = body.encode() if body is not None else _read(file)
    result = serving_backend().invoke_endpoint(
        name, data, content_type, accept, target_model, target_variant, custom_attributes
    )
    sys.stdout.buffer.write(result.body)
    if not result.body.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")


def _read(file: Path | None) -> bytes:
    assert file is not None
    return sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()


@endpoints_app.command("serve")
def serve_endpoint(
    name: str,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on (the container contract's 8080)."),
    workers: int | None = typer.Option(None, help="Worker processes (default: the variant's)."),
) -> None:
    """Serve one endpoint alone with the container contract: /ping, /invocations."""
    import os

    from slipway.serving.container import serve

    backend = serving_backend()
    endpoint = backend.get_endpoint(name)
    if workers is None:
        config = backend.get_endpoint_config(endpoint.endpoint_config_name)
        configured = [v.model_server_workers for v in config.production_variants]
        workers = max([w for w in configured if w] or [os.cpu_count() or 1])
    serve(name, host, port, workers)
