"""The rules of hosting: models, endpoint configs, endpoints, and invoking them in-process.

Every public method is one transaction (endpoint creation and update also start a
background check). The REST API and the embedded SDK call these methods; the remote SDK
calls the REST API, so both modes follow the same rules.

Life cycle of an endpoint, as in the reference: ``create_endpoint`` stores it as
``Creating`` with a snapshot of its config and models, then a background thread loads
each single model once (so an untrusted pickle or a broken archive fails the endpoint
with a FailureReason rather than its first caller) and sets ``InService`` or
``Failed``. ``update_endpoint`` sets ``Updating``, checks the new config the same way and
swaps it in; if the check fails, the endpoint keeps serving the old config and says why
in FailureReason. Invocations are served while InService or Updating. The threads are
not daemons: a CLI process that created an endpoint finishes its check before it exits.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from slipway.errors import AlreadyExists, Conflict, NotFound, ValidationError
from slipway.experiments.expressions import decode_token, encode_token
from slipway.names import check_name
from slipway.serving import repository
from slipway.serving import spec as specs
from slipway.serving._validation import check_uri, check_variants, spec_problem, validated
from slipway.serving.models import (
    ContainerDefinition,
    DataCaptureConfig,
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Model,
    Page,
    ProductionVariant,
    SortOrder,
    Tag,
)
from slipway.settings import Settings, get_settings
from slipway.store.db import Database

SORT_BY = ("Name", "CreationTime")
log = logging.getLogger("slipway.serving")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _tags(tags: Iterable[Tag | dict[str, str]] | None) -> list[dict[str, str]]:
    return [(t if isinstance(t, Tag) else Tag.model_validate(t)).to_wire() for t in tags or []]


class ServingService:
    """Hosting on one metadata database; in-process invocation for embedded mode."""

    def __init__(self, database: Database, settings: Settings | None = None) -> None:
        self.db = database
        self.settings = settings or get_settings()
        self._checks: dict[str, threading.Thread] = {}
        self._engine = None
        self._engine_lock = threading.Lock()

    # --- models -----------------------------------------------------------------------

    def create_model(
        self,
        model_name: str,
        primary_container: ContainerDefinition | dict[str, Any],
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Model:
        check_name("model name", model_name, 63)
        container = validated(ContainerDefinition, primary_container, "PrimaryContainer")
        check_uri("ModelDataUrl", container.model_data_url)
        with self.db.write() as conn:
            if repository.row(conn, "model", model_name) is not None:
                raise AlreadyExists(f"model {model_name!r} exists already; pick another name")
            repository.insert(
                conn,
                "model",
                {
                    "name": model_name,
                    "container": container.to_wire(),
                    "tags": _tags(tags),
                    "created_at": _now(),
                },
            )
            return repository.model_of(repository.row(conn, "model", model_name))

    def get_model(self, model_name: str) -> Model:
        with self.db.read() as conn:
            return repository.model_of(self._row(conn, "model", model_name))

    def list_models(
        self,
        *,
        name_contains: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[Model]:
        return self._page(
            "model", repository.model_of, name_contains, created_after, created_before,
            sort_by, sort_order, max_results, next_token,
        )  # fmt: skip

    def delete_model(self, model_name: str) -> None:
        with self.db.write() as conn:
            if repository.delete(conn, "model", model_name) == 0:
                raise self._missing("model", model_name)

    # --- endpoint configs -------------------------------------------------------------

    def create_endpoint_config(
        self,
        endpoint_config_name: str,
        production_variants: Sequence[ProductionVariant | dict[str, Any]],
        data_capture_config: DataCaptureConfig | dict[str, Any] | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> EndpointConfig:
        check_name("endpoint config name", endpoint_config_name, 63)
        variants = [
            validated(ProductionVariant, v, f"ProductionVariants[{i}]")
            for i, v in enumerate(production_variants)
        ]
        check_variants(variants)
        capture = None
        if data_capture_config is not None:
            capture = validated(DataCaptureConfig, data_capture_config, "DataCaptureConfig")
            check_uri("DataCaptureConfig.DestinationS3Uri", capture.destination_s3_uri)
        with self.db.write() as conn:
            if repository.row(conn, "config", endpoint_config_name) is not None:
                raise AlreadyExists(
                    f"endpoint config {endpoint_config_name!r} exists already; configs "
                    "cannot change: create one with another name and update the endpoint to it"
                )
            for variant in variants:
                if repository.row(conn, "model", variant.model_name) is None:
                    raise NotFound(
                        f"model {variant.model_name!r} of variant {variant.variant_name!r} "
                        "not found; create it first with `slipway endpoints models create`"
                    )
            repository.insert(
                conn,
                "config",
                {
                    "name": endpoint_config_name,
                    "variants": [v.to_wire() for v in variants],
                    "data_capture": capture.to_wire() if capture else None,
                    "tags": _tags(tags),
                    "created_at": _now(),
                },
            )
            return repository.config_of(repository.row(conn, "config", endpoint_config_name))

    def get_endpoint_config(self, endpoint_config_name: str) -> EndpointConfig:
        with self.db.read() as conn:
            return repository.config_of(self._row(conn, "config", endpoint_config_name))

    def list_endpoint_configs(
        self,
        *,
        name_contains: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[EndpointConfig]:
        return self._page(
            "config", repository.config_of, name_contains, created_after, created_before,
            sort_by, sort_order, max_results, next_token,
        )  # fmt: skip

    def delete_endpoint_config(self, endpoint_config_name: str) -> None:
        with self.db.write() as conn:
            if repository.delete(conn, "config", endpoint_config_name) == 0:
                raise self._missing("config", endpoint_config_name)

    # --- endpoints --------------------------------------------------------------------

    def create_endpoint(
        self,
        endpoint_name: str,
        endpoint_config_name: str,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Endpoint:
        check_name("endpoint name", endpoint_name, 63)
        now = _now()
        with self.db.write() as conn:
            if repository.row(conn, "endpoint", endpoint_name) is not None:
                raise AlreadyExists(
                    f"endpoint {endpoint_name!r} exists already; update it with "
                    "`slipway endpoints update` or pick another name"
                )
            snapshot = self._snapshot(conn, endpoint_config_name)
            repository.insert(
                conn,
                "endpoint",
                {
                    "name": endpoint_name,
                    "config_name": endpoint_config_name,
                    "status": EndpointStatus.CREATING.value,
                    "spec": None,
                    "version": 0,
                    "pending_config_name": endpoint_config_name,
                    "pending_spec": snapshot,
                    "tags": _tags(tags),
                    "created_at": now,
                    "modified_at": now,
                },
            )
            endpoint = repository.endpoint_of(repository.row(conn, "endpoint", endpoint_name))
        self._start_check(endpoint_name)
        return endpoint

    def get_endpoint(self, endpoint_name: str) -> Endpoint:
        with self.db.read() as conn:
            return repository.endpoint_of(self._row(conn, "endpoint", endpoint_name))

    def list_endpoints(
        self,
        *,
        name_contains: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
        status_equals: EndpointStatus | str | None = None,
    ) -> Page[Endpoint]:
        status = None
        if status_equals is not None:
            try:
                status = EndpointStatus(status_equals).value
            except ValueError:
                raise ValidationError(
                    f"StatusEquals {status_equals!r} is not valid; use one of "
                    + ", ".join(s.value for s in EndpointStatus)
                ) from None
        return self._page(
            "endpoint", repository.endpoint_of, name_contains, created_after, created_before,
            sort_by, sort_order, max_results, next_token, status=status,
        )  # fmt: skip

    def update_endpoint(self, endpoint_name: str, endpoint_config_name: str) -> Endpoint:
        with self.db.write() as conn:
            row = self._row(conn, "endpoint", endpoint_name)
            if row.status != EndpointStatus.IN_SERVICE.value:
                raise Conflict(
                    f"endpoint {endpoint_name!r} is {row.status}; only an InService endpoint "
                    "can be updated"
                    + (" (delete and create it again)" if row.status == "Failed" else "")
                )
            snapshot = self._snapshot(conn, endpoint_config_name)
            repository.update(
                conn,
                "endpoint",
                endpoint_name,
                {
                    "status": EndpointStatus.UPDATING.value,
                    "pending_config_name": endpoint_config_name,
                    "pending_spec": snapshot,
                    "failure_reason": None,
                    "modified_at": _now(),
                },
            )
            endpoint = repository.endpoint_of(repository.row(conn, "endpoint", endpoint_name))
        self._start_check(endpoint_name)
        return endpoint

    def delete_endpoint(self, endpoint_name: str) -> None:
        with self.db.write() as conn:
            self._row(conn, "endpoint", endpoint_name)
            repository.update(
                conn, "endpoint", endpoint_name, {"status": EndpointStatus.DELETING.value}
            )
        with self.db.write() as conn:
            repository.delete(conn, "endpoint", endpoint_name)

    def wait_for_endpoint(self, endpoint_name: str, timeout: float = 300) -> Endpoint:
        """Wait for this process's check of the endpoint (if any), then describe it."""
        check = self._checks.get(endpoint_name)
        if check is not None:
            check.join(timeout)
        return self.get_endpoint(endpoint_name)

    # --- what the data plane reads ----------------------------------------------------

    def get_endpoint_deployment(self, endpoint_name: str) -> dict[str, Any]:
        """What the endpoint serves: its status, version and deployed config and models."""
        with self.db.read() as conn:
            row = self._row(conn, "endpoint", endpoint_name)
        return {
            "EndpointName": row.name,
            "EndpointStatus": row.status,
            "Version": row.version,
            "DeployedSpec": row.spec,
        }

    def endpoint_spec(self, endpoint_name: str) -> specs.EndpointSpec:
        """The deployed spec of an endpoint (NotFound if it does not exist)."""
        return specs.from_deployment(self.get_endpoint_deployment(endpoint_name))

    def endpoint_version(self, endpoint_name: str) -> tuple[int, str] | None:
        """(version, status) of an endpoint, or None: the cheap check of a cached spec."""
        table = repository.t.endpoints
        with self.db.read() as conn:
            found = conn.execute(
                sa.select(table.c.version, table.c.status).where(table.c.name == endpoint_name)
            ).first()
        return (found.version, found.status) if found else None

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
    ) -> Any:
        """Invoke an endpoint in this process (embedded mode); returns an Invocation."""
        from slipway.serving.engine import Engine

        with self._engine_lock:
            if self._engine is None:
                self._engine = Engine(self, self.settings, workers=1)
        return self._engine.invoke_sync(
            endpoint_name, body, content_type, accept, target_model, target_variant,
            custom_attributes, inference_id,
        )  # fmt: skip

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()

    # --- helpers ----------------------------------------------------------------------

    def _snapshot(self, conn: Any, config_name: str) -> dict[str, Any]:
        config = repository.config_of(self._row(conn, "config", config_name))
        models = {}
        for variant in config.production_variants:
            row = repository.row(conn, "model", variant.model_name)
            if row is None:
                raise NotFound(
                    f"model {variant.model_name!r} of endpoint config {config_name!r} no "
                    "longer exists; create it again or use another config"
                )
            models[variant.model_name] = repository.model_of(row)
        return specs.snapshot(config, models)

    def _start_check(self, endpoint_name: str) -> None:
        thread = threading.Thread(
            target=self._check, args=(endpoint_name,), name=f"check-{endpoint_name}"
        )
        self._checks[endpoint_name] = thread
        thread.start()

    def _check(self, endpoint_name: str) -> None:
        try:
            self._check_once(endpoint_name)
        except Exception:  # the process is shutting down, or the database went away
            log.exception("checking endpoint %s failed", endpoint_name)

    def _check_once(self, endpoint_name: str) -> None:
        with self.db.read() as conn:
            row = repository.row(conn, "endpoint", endpoint_name)
        if row is None or row.pending_spec is None:
            return
        problem = spec_problem(
            specs.build(endpoint_name, row.status, 0, row.pending_spec), self.settings
        )
        creating = row.status == EndpointStatus.CREATING.value
        with self.db.write() as conn:
            current = repository.row(conn, "endpoint", endpoint_name)
            if current is None or current.pending_spec != row.pending_spec:
                return  # deleted, or superseded meanwhile
            values: dict[str, Any] = {
                "pending_spec": None,
                "pending_config_name": None,
                "modified_at": _now(),
            }
            if problem is None:
                values |= {
                    "status": EndpointStatus.IN_SERVICE.value,
                    "spec": row.pending_spec,
                    "config_name": row.pending_config_name,
                    "version": current.version + 1,
                    "failure_reason": None,
                }
            elif creating:
                values |= {"status": EndpointStatus.FAILED.value, "failure_reason": problem}
            else:
                values |= {
                    "status": EndpointStatus.IN_SERVICE.value,
                    "failure_reason": f"update to {row.pending_config_name!r} failed, the "
                    f"endpoint kept its previous config: {problem}"[:1024],
                }
            repository.update(conn, "endpoint", endpoint_name, values)

    def _page(
        self,
        kind: str,
        convert: Any,
        name_contains: str | None,
        created_after: dt.datetime | None,
        created_before: dt.datetime | None,
        sort_by: str | None,
        sort_order: SortOrder | str | None,
        max_results: int,
        next_token: str | None,
        status: str | None = None,
    ) -> Page[Any]:
        sort_by = sort_by or "CreationTime"
        if sort_by not in SORT_BY:
            raise ValidationError(f"SortBy {sort_by!r} is not valid; use Name or CreationTime")
        try:
            order = SortOrder(sort_order or SortOrder.DESCENDING)
        except ValueError:
            raise ValidationError(
                f"SortOrder {sort_order!r} is not valid; use Ascending or Descending"
            ) from None
        if not 1 <= max_results <= 1000:
            raise ValidationError(f"MaxResults {max_results} is out of range; use 1 to 1000")
        offset = decode_token(next_token)
        with self.db.read() as conn:
            rows = repository.page(
                conn,
                kind,
                name_contains=name_contains,
                created_after=created_after,
                created_before=created_before,
                sort_by=sort_by,
                descending=order == SortOrder.DESCENDING,
                offset=offset,
                limit=max_results,
                status=status,
            )
        more = len(rows) > max_results
        return Page[Any](
            items=[convert(r) for r in rows[:max_results]],
            next_token=encode_token(offset + max_results) if more else None,
        )

    def _row(self, conn: Any, kind: str, name: str) -> Any:
        found = repository.row(conn, kind, name)
        if found is None:
            raise self._missing(kind, name)
        return found

    @staticmethod
    def _missing(kind: str, name: str) -> NotFound:
        noun, command = {
            "model": ("model", "slipway endpoints models list"),
            "config": ("endpoint config", "slipway endpoints configs list"),
            "endpoint": ("endpoint", "slipway endpoints list"),
        }[kind]
        return NotFound(f"{noun} {name!r} not found; list them with `{command}`")
