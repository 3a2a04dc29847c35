"""SQL of the model registry: rows in, entities out.

Functions take an open connection, so the service decides where a transaction begins
and ends. A page of versions loads with two queries (the versions, their approvals).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from slipway.experiments.models import Tag
from slipway.registry import tables as t
from slipway.registry.models import (
    ApprovalChange,
    InferenceSpecification,
    MetadataProperties,
    ModelApprovalStatus,
    ModelLineage,
    ModelMetrics,
    ModelPackage,
    ModelPackageGroup,
    ModelPackageGroupStatus,
    ModelPackageStatus,
    group_arn,
    package_arn,
)

groups, packages, approvals = t.model_package_groups, t.model_packages, t.model_package_approvals


# --- groups ---------------------------------------------------------------------------


def group_id(conn: Connection, name: str) -> int | None:
    return conn.scalar(sa.select(groups.c.id).where(groups.c.name == name))


def insert_group(conn: Connection, values: dict[str, Any], *, if_missing: bool = False) -> None:
    """Insert a group; with ``if_missing``, leave an existing one (racing creators) alone."""
    row = {**values, "status": ModelPackageGroupStatus.COMPLETED.value, "last_version": 0}
    if not if_missing:
        conn.execute(sa.insert(groups).values(row))
        return
    insert = (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(groups)
    conn.execute(insert.values(row).on_conflict_do_nothing(index_elements=["name"]))


def next_version(conn: Connection, group: int) -> int:
    """Take the group's next version number; the row stays locked until commit."""
    return conn.execute(
        sa.update(groups)
        .where(groups.c.id == group)
        .values(last_version=groups.c.last_version + 1)
        .returning(groups.c.last_version)
    ).scalar_one()


def count_packages(conn: Connection, group: int) -> int:
    query = sa.select(sa.func.count()).select_from(packages).where(packages.c.group_id == group)
    return conn.scalar(query) or 0


def delete_group(conn: Connection, group: int) -> None:
    package_ids = sa.select(packages.c.id).where(packages.c.group_id == group)
    conn.execute(sa.delete(approvals).where(approvals.c.package_id.in_(package_ids)))
    conn.execute(sa.delete(packages).where(packages.c.group_id == group))
    conn.execute(sa.delete(groups).where(groups.c.id == group))


def load_groups(conn: Connection, ids: Sequence[int]) -> list[ModelPackageGroup]:
    if not ids:
        return []
    rows = {r.id: r for r in conn.execute(sa.select(groups).where(groups.c.id.in_(ids)))}
    return [
        ModelPackageGroup(
            model_package_group_name=row.name,
            model_package_group_arn=group_arn(row.name),
            model_package_group_description=row.description,
            model_package_group_status=ModelPackageGroupStatus(row.status),
            creation_time=row.created_at,
            created_by=row.created_by,
            tags=[Tag.model_validate(tag) for tag in row.tags],
        )
        for row in (rows[i] for i in ids if i in rows)
    ]


# --- versions -------------------------------------------------------------------------


def package_id(conn: Connection, group: int, version: int) -> int | None:
    return conn.scalar(
        sa.select(packages.c.id).where(packages.c.group_id == group, packages.c.version == version)
    )


def latest_approved_id(conn: Connection, group: int) -> int | None:
    return conn.scalar(
        sa.select(packages.c.id)
        .where(
            packages.c.group_id == group,
            packages.c.approval_status == ModelApprovalStatus.APPROVED.value,
        )
        .order_by(packages.c.version.desc())
        .limit(1)
    )


def insert_package(conn: Connection, values: dict[str, Any]) -> int:
    statement = sa.insert(packages).values(values).returning(packages.c.id)
    return conn.execute(statement).scalar_one()


def set_approval(
    conn: Connection,
    package: int,
    status: ModelApprovalStatus,
    description: str | None,
    actor: str,
    now: dt.datetime,
) -> None:
    """Change a version's approval status and write the change into its history."""
    conn.execute(
        sa.update(packages)
        .where(packages.c.id == package)
        .values(
            approval_status=status.value,
            approval_description=description,
            modified_at=now,
            modified_by=actor,
        )
    )
    conn.execute(
        sa.insert(approvals).values(
            package_id=package,
            status=status.value,
            description=description,
            changed_by=actor,
            changed_at=now,
        )
    )


def delete_package(conn: Connection, package: int) -> None:
    conn.execute(sa.delete(approvals).where(approvals.c.package_id == package))
    conn.execute(sa.delete(packages).where(packages.c.id == package))


_PACKAGES_QUERY = (
    sa.select(packages, groups.c.name.label("group_name"))
    .join(groups, groups.c.id == packages.c.group_id)
    .where(packages.c.id.in_(sa.bindparam("ids", expanding=True)))
)
_APPROVALS_QUERY = (
    sa.select(approvals)
    .where(approvals.c.package_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(approvals.c.id)
)


def load_packages(conn: Connection, ids: Sequence[int]) -> list[ModelPackage]:
    if not ids:
        return []
    bound = {"ids": list(ids)}
    rows = {row.id: row for row in conn.execute(_PACKAGES_QUERY, bound)}
    history: dict[int, list[ApprovalChange]] = defaultdict(list)
    for a in conn.execute(_APPROVALS_QUERY, bound):
        history[a.package_id].append(
            ApprovalChange(
                model_approval_status=ModelApprovalStatus(a.status),
                approval_description=a.description,
                changed_by=a.changed_by,
                change_time=a.changed_at,
            )
        )
    return [_package(rows[i], history[i]) for i in ids if i in rows]


def _package(row: Any, history: list[ApprovalChange]) -> ModelPackage:
    return ModelPackage(
        model_package_name=row.group_name,
        model_package_group_name=row.group_name,
        model_package_version=row.version,
        model_package_arn=package_arn(row.group_name, row.version),
        model_package_description=row.description,
        model_package_status=ModelPackageStatus(row.status),
        model_approval_status=ModelApprovalStatus(row.approval_status),
        approval_description=row.approval_description,
        inference_specification=InferenceSpecification.model_validate(row.inference_specification),
        model_metrics=ModelMetrics.model_validate(row.model_metrics),
        metadata_properties=MetadataProperties.model_validate(row.metadata_properties)
        if row.metadata_properties
        else None,
        lineage=ModelLineage.model_validate(row.lineage) if row.lineage else None,
        creation_time=row.created_at,
        created_by=row.created_by,
        last_modified_time=row.modified_at,
        last_modified_by=row.modified_by,
        approval_history=history,
        tags=[Tag.model_validate(tag) for tag in row.tags],
    )


# --- listings -------------------------------------------------------------------------

GROUP_SORTS = {"CreationTime": (groups.c.created_at,), "Name": (groups.c.name,)}
PACKAGE_SORTS = {
    "CreationTime": (packages.c.created_at,),
    "Version": (packages.c.version,),
    "Name": (groups.c.name, packages.c.version),
}


def _ordered(query: sa.Select, columns: Sequence[Any], descending: bool, id_column: Any):
    keys = [*columns, id_column]
    return query.order_by(*(key.desc() if descending else key.asc() for key in keys))


def group_ids(
    conn: Connection,
    *,
    name_contains: str | None,
    created_after: dt.datetime | None,
    created_before: dt.datetime | None,
    sort_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> list[int]:
    query = sa.select(groups.c.id)
    if name_contains:
        query = query.where(groups.c.name.contains(name_contains, autoescape=True))
    if created_after is not None:
        query = query.where(groups.c.created_at > created_after)
    if created_before is not None:
        query = query.where(groups.c.created_at < created_before)
    query = _ordered(query, GROUP_SORTS[sort_by], descending, groups.c.id)
    return list(conn.scalars(query.offset(offset).limit(limit)))


def package_ids(
    conn: Connection,
    *,
    group: int | None,
    approval_status: ModelApprovalStatus | None,
    training_job_name: str | None,
    created_after: dt.datetime | None,
    created_before: dt.datetime | None,
    sort_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> list[int]:
    query = sa.select(packages.c.id).join(groups, groups.c.id == packages.c.group_id)
    if group is not None:
        query = query.where(packages.c.group_id == group)
    if approval_status is not None:
        query = query.where(packages.c.approval_status == approval_status.value)
    if training_job_name is not None:
        query = query.where(packages.c.training_job_name == training_job_name)
    if created_after is not None:
        query = query.where(packages.c.created_at > created_after)
    if created_before is not None:
        query = query.where(packages.c.created_at < created_before)
    query = _ordered(query, PACKAGE_SORTS[sort_by], descending, packages.c.id)
    return list(conn.scalars(query.offset(offset).limit(limit)))
