"""SQL for models, endpoint configs and endpoints: rows in, entities out.

Functions take an open connection; the service decides where transactions begin and end.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from slipway.serving import tables as t
from slipway.serving.models import (
    CaptureStatus,
    DataCaptureConfigSummary,
    Endpoint,
    EndpointConfig,
    Model,
    ProductionVariantSummary,
)

_TABLES = {"model": t.serving_models, "config": t.endpoint_configs, "endpoint": t.endpoints}


def row(conn: Connection, kind: str, name: str) -> Row | None:
    table = _TABLES[kind]
    return conn.execute(sa.select(table).where(table.c.name == name)).first()


def insert(conn: Connection, kind: str, values: dict[str, Any]) -> None:
    conn.execute(sa.insert(_TABLES[kind]).values(values))


def update(conn: Connection, kind: str, name: str, values: dict[str, Any]) -> None:
    table = _TABLES[kind]
    conn.execute(sa.update(table).where(table.c.name == name).values(values))


def delete(conn: Connection, kind: str, name: str) -> int:
    table = _TABLES[kind]
    return conn.execute(sa.delete(table).where(table.c.name == name)).rowcount


def page(
    conn: Connection,
    kind: str,
    *,
    name_contains: str | None,
    created_after: dt.datetime | None,
    created_before: dt.datetime | None,
    sort_by: str,
    descending: bool,
    offset: int,
    limit: int,
    status: str | None = None,
) -> list[Row]:
    """One page of rows (``limit`` + 1, to tell whether another page follows)."""
    table = _TABLES[kind]
    query = sa.select(table)
    if name_contains:
        query = query.where(table.c.name.contains(name_contains, autoescape=True))
    if created_after is not None:
        query = query.where(table.c.created_at > created_after)
    if created_before is not None:
        query = query.where(table.c.created_at < created_before)
    if status is not None:
        query = query.where(table.c.status == status)
    column = table.c.name if sort_by == "Name" else table.c.created_at
    order = (column.desc(), table.c.id.desc()) if descending else (column.asc(), table.c.id.asc())
    return list(conn.execute(query.order_by(*order).offset(offset).limit(limit + 1)))


def model_of(r: Row) -> Model:
    return Model.model_validate(
        {
            "ModelName": r.name,
            "PrimaryContainer": r.container,
            "CreationTime": r.created_at,
            "Tags": r.tags,
        }
    )


def config_of(r: Row) -> EndpointConfig:
    return EndpointConfig.model_validate(
        {
            "EndpointConfigName": r.name,
            "ProductionVariants": r.variants,
            "DataCaptureConfig": r.data_capture,
            "CreationTime": r.created_at,
            "Tags": r.tags,
        }
    )


def endpoint_of(r: Row) -> Endpoint:
    variants: list[ProductionVariantSummary] = []
    capture = None
    if r.spec:
        config = EndpointConfig.model_validate(r.spec["EndpointConfig"])
        variants = [
            ProductionVariantSummary(
                variant_name=v.variant_name,
                current_weight=v.initial_variant_weight,
                desired_weight=v.initial_variant_weight,
                current_instance_count=v.initial_instance_count,
                desired_instance_count=v.initial_instance_count,
            )
            for v in config.production_variants
        ]
        dcc = config.data_capture_config
        if dcc is not None:
            capture = DataCaptureConfigSummary(
                enable_capture=dcc.enable_capture,
                capture_status=CaptureStatus.STARTED
                if dcc.enable_capture
                else CaptureStatus.STOPPED,
                current_sampling_percentage=dcc.initial_sampling_percentage,
                destination_s3_uri=dcc.destination_s3_uri,
                kms_key_id=dcc.kms_key_id,
            )
    return Endpoint(
        endpoint_name=r.name,
        endpoint_config_name=r.config_name,
        endpoint_status=r.status,
        failure_reason=r.failure_reason,
        production_variants=variants,
        data_capture_config=capture,
        creation_time=r.created_at,
        last_modified_time=r.modified_at,
        tags=r.tags,
    )
