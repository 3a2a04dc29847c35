"""The rules of the model registry: groups, numbered versions, approval and lineage.

Every public method is one transaction. The REST API and the embedded SDK call these
methods; the remote SDK calls the REST API, so both modes follow the same rules.

Who did something (``actor``) is the caller's token name on a server, else the user
the client says it runs as, else (embedded) the operating-system user.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from slipway.errors import AlreadyExists, Conflict, NotFound, ValidationError
from slipway.experiments.expressions import decode_token, encode_token
from slipway.experiments.models import Page, SortOrder
from slipway.jobs.models import JobStatus
from slipway.names import MAX_NAME_LENGTH, check_text
from slipway.registry import repository
from slipway.registry._sources import check_model_data, from_training_job, with_program
from slipway.registry._user import os_user
from slipway.registry.deploy import deploy, production_variant
from slipway.registry.models import (
    TEXT_LENGTH,
    CreateModelPackage,
    CreateModelPackageFromTrainingJob,
    CreateModelPackageGroup,
    ModelApprovalStatus,
    ModelLineage,
    ModelPackage,
    ModelPackageGroup,
    ModelPackageStatus,
    approval_status_of,
    check_group_name,
    check_job_name,
    check_version,
)
from slipway.store.db import Database
from slipway.training.service import TrainingService

if TYPE_CHECKING:
    from slipway.serving.models import Endpoint
    from slipway.serving.service import ServingService

ACTOR_LENGTH = 120


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _actor(actor: str | None) -> str:
    return (actor or os_user())[:ACTOR_LENGTH]


def _listing(
    sort_by: str | None,
    sorts: dict[str, Any],
    sort_order: SortOrder | str | None,
    max_results: int,
    next_token: str | None,
) -> tuple[str, bool, int]:
    """Check a listing's arguments; returns the sort key, descending or not, and offset."""
    sort_by = sort_by or "CreationTime"
    if sort_by not in sorts:
        raise ValidationError(f"sort by {sort_by!r} is not valid; use one of {', '.join(sorts)}")
    try:
        order = SortOrder(sort_order or SortOrder.DESCENDING)
    except ValueError:
        raise ValidationError(
            f"sort order {sort_order!r} is not valid; use Ascending or Descending"
        ) from None
    if not 1 <= max_results <= 1000:
        raise ValidationError(f"max_results {max_results} is out of range; use 1 to 1000")
    return sort_by, order is SortOrder.DESCENDING, decode_token(next_token)


def _next_token(ids: list[int], offset: int, size: int) -> str | None:
    """A token for the next page when the query found more than a page (size + 1 rows)."""
    return encode_token(offset + size) if len(ids) > size else None


class RegistryService:
    """Model package groups and their versions in one metadata database."""

    def __init__(
        self,
        database: Database,
        training: TrainingService,
        serving: ServingService,
    ) -> None:
        self.db = database
        self.training = training
        # The platform's own serving service: the one whose endpoint checks it waits for.
        self.serving = serving

    # --- groups -------------------------------------------------------------------------

    def create_model_package_group(
        self, request: CreateModelPackageGroup, actor: str | None = None
    ) -> ModelPackageGroup:
        name = request.model_package_group_name
        values = {
            "name": name,
            "description": request.model_package_group_description,
            "created_at": _now(),
            "created_by": _actor(actor),
            "tags": [tag.to_wire() for tag in request.tags],
        }
        try:
            with self.db.write() as conn:
                if repository.group_id(conn, name) is not None:
                    raise AlreadyExists(_group_exists(name))
                repository.insert_group(conn, values)
                return repository.load_groups(conn, [self._group_id(conn, name)])[0]
        except sa.exc.IntegrityError:  # another creator won the race
            raise AlreadyExists(_group_exists(name)) from None

    def get_model_package_group(self, name: str) -> ModelPackageGroup:
        with self.db.read() as conn:
            return repository.load_groups(conn, [self._group_id(conn, name)])[0]

    def list_model_package_groups(
        self,
        *,
        name_contains: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[ModelPackageGroup]:
        if name_contains is not None:
            check_text("name filter", name_contains, MAX_NAME_LENGTH)
        key, descending, offset = _listing(
            sort_by, repository.GROUP_SORTS, sort_order, max_results, next_token
        )
        with self.db.read() as conn:
            ids = repository.group_ids(
                conn,
                name_contains=name_contains,
                created_after=created_after,
                created_before=created_before,
                sort_by=key,
                descending=descending,
                offset=offset,
                limit=max_results + 1,
            )
            items = repository.load_groups(conn, ids[:max_results])
        return Page[ModelPackageGroup](
            items=items, next_token=_next_token(ids, offset, max_results)
        )

    def delete_model_package_group(self, name: str, *, force: bool = False) -> None:
        """Delete a group; it must have no versions left unless ``force`` deletes them too."""
        with self.db.write() as conn:
            group = self._group_id(conn, name)
            count = repository.count_packages(conn, group)
            if count and not force:
                raise Conflict(
                    f"model package group {name!r} still has {count} version(s); delete them "
                    f"first or force it (`slipway models delete {name} --force`)"
                )
            repository.delete_group(conn, group)

    # --- registering versions -----------------------------------------------------------

    def create_model_package(
        self, request: CreateModelPackage, actor: str | None = None
    ) -> ModelPackage:
        """Register a new version of the group's model, creating the group if need be."""
        for container in request.inference_specification.containers:
            check_model_data(container.model_data_url)
        return self._register(request, None, None, actor)

    def create_model_package_from_training_job(
        self, request: CreateModelPackageFromTrainingJob, actor: str | None = None
    ) -> ModelPackage:
        """Register the model of a Completed training job, with its lineage and metrics."""
        name = request.training_job_name
        job = self.training.describe_training_job(name)
        if job.training_job_status != JobStatus.COMPLETED:
            raise Conflict(
                f"training job {name!r} is {job.training_job_status}, not Completed; only a "
                "Completed job's model can be registered (wait for it, or train again)"
            )
        if not job.model_artifacts:
            raise Conflict(f"training job {name!r} stored no model; nothing to register")
        package, lineage = from_training_job(request, job)
        return self._register(package, lineage, name, actor)

    def _register(
        self,
        request: CreateModelPackage,
        lineage: ModelLineage | None,
        training_job_name: str | None,
        actor: str | None,
    ) -> ModelPackage:
        name, who, now = request.model_package_group_name, _actor(actor), _now()
        with self.db.write() as conn:
            group = repository.group_id(conn, name)
            if group is None:  # the first version creates the group (racing creators: one)
                group_values = {"name": name, "created_at": now, "created_by": who, "tags": []}
                repository.insert_group(conn, group_values, if_missing=True)
                group = self._group_id(conn, name)
            version = repository.next_version(conn, group)
            package = repository.insert_package(
                conn,
                {
                    "group_id": group,
                    "version": version,
                    "description": request.model_package_description,
                    "status": ModelPackageStatus.COMPLETED.value,
                    "approval_status": request.model_approval_status.value,
                    "created_at": now,
                    "created_by": who,
                    "modified_at": now,
                    "modified_by": who,
                    "training_job_name": training_job_name,
                    "inference_specification": with_program(
                        request.inference_specification
                    ).to_wire(),
                    "model_metrics": request.model_metrics.to_wire(),
                    "metadata_properties": request.metadata_properties.to_wire()
                    if request.metadata_properties
                    else None,
                    "lineage": lineage.to_wire() if lineage else None,
                    "tags": [tag.to_wire() for tag in request.tags],
                },
            )
            repository.set_approval(conn, package, request.model_approval_status, None, who, now)
            return repository.load_packages(conn, [package])[0]

    # --- reading, approving, deleting ---------------------------------------------------

    def get_model_package(self, group_name: str, version: int | str) -> ModelPackage:
        with self.db.read() as conn:
            return repository.load_packages(conn, [self._package_id(conn, group_name, version)])[0]

    def get_latest_approved_model_package(self, group_name: str) -> ModelPackage:
        """The highest-numbered Approved version of a group (what a deployment serves)."""
        with self.db.read() as conn:
            found = repository.latest_approved_id(conn, self._group_id(conn, group_name))
            if found is None:
                raise NotFound(
                    f"model package group {group_name!r} has no Approved version; approve "
                    f"one with `slipway models approve {group_name} VERSION`"
                )
            return repository.load_packages(conn, [found])[0]

    def list_model_packages(
        self,
        *,
        group_name: str | None = None,
        approval_status: ModelApprovalStatus | str | None = None,
        training_job_name: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[ModelPackage]:
        """Versions, newest first unless sorted otherwise (by Version, Name or CreationTime)."""
        status = approval_status_of(approval_status) if approval_status is not None else None
        if training_job_name is not None:
            check_job_name(training_job_name)
        key, descending, offset = _listing(
            sort_by, repository.PACKAGE_SORTS, sort_order, max_results, next_token
        )
        with self.db.read() as conn:
            group = self._group_id(conn, group_name) if group_name is not None else None
            ids = repository.package_ids(
                conn,
                group=group,
                approval_status=status,
                training_job_name=training_job_name,
                created_after=created_after,
                created_before=created_before,
                sort_by=key,
                descending=descending,
                offset=offset,
                limit=max_results + 1,
            )
            items = repository.load_packages(conn, ids[:max_results])
        return Page[ModelPackage](items=items, next_token=_next_token(ids, offset, max_results))

    def update_model_package(
        self,
        group_name: str,
        version: int | str,
        approval_status: ModelApprovalStatus | str,
        approval_description: str | None = None,
        actor: str | None = None,
    ) -> ModelPackage:
        """Set a version's approval status; every change is kept in its approval history.

        Any status may follow any other: a rejected version can be approved after a
        second look, an approved one withdrawn (Rejected) or sent back for review
        (PendingManualApproval). Repeating the current status without a new description
        changes nothing and records nothing, so a retried request is harmless; a new
        status without a description clears the old status's description.
        """
        status = approval_status_of(approval_status)
        if approval_description is not None:
            check_text("approval description", approval_description, TEXT_LENGTH)
        with self.db.write() as conn:
            package = self._package_id(conn, group_name, version)
            current = repository.load_packages(conn, [package])[0]
            unchanged = current.model_approval_status == status and approval_description in (
                None,
                current.approval_description,
            )
            if not unchanged:
                repository.set_approval(
                    conn, package, status, approval_description, _actor(actor), _now()
                )
            return repository.load_packages(conn, [package])[0]

    def deploy_model_package(
        self,
        group_name: str,
        version: int | str,
        endpoint_name: str,
        *,
        initial_instance_count: int | str = 1,
        model_server_workers: int | str | None = None,
        invocation_timeout_seconds: float | str | None = None,
    ) -> Endpoint:
        """Serve an Approved version on a new endpoint named ``endpoint_name``.

        The endpoint starts Creating; its model, config and endpoint are tagged with the
        version's ARN. Settings may be text (a form's, a command line's): they are parsed.
        """
        settings = {
            "initial_instance_count": initial_instance_count,
            "model_server_workers": model_server_workers,
            "invocation_timeout_seconds": invocation_timeout_seconds,
        }
        variant = production_variant(endpoint_name, settings)
        return deploy(self.serving, self.get_model_package(group_name, version), variant)

    def delete_model_package(self, group_name: str, version: int | str) -> None:
        """Delete one version; its number is not handed out again."""
        with self.db.write() as conn:
            repository.delete_package(conn, self._package_id(conn, group_name, version))

    # --- lookups ------------------------------------------------------------------------

    def _group_id(self, conn: sa.Connection, name: str) -> int:
        check_group_name(name)
        found = repository.group_id(conn, name)
        if found is None:
            raise NotFound(
                f"model package group {name!r} not found; list groups with `slipway models groups`"
            )
        return found

    def _package_id(self, conn: sa.Connection, group_name: str, version: int | str) -> int:
        version = check_version(version)
        found = repository.package_id(conn, self._group_id(conn, group_name), version)
        if found is None:
            raise NotFound(
                f"model package group {group_name!r} has no version {version}; list its "
                f"versions with `slipway models list --group {group_name}`"
            )
        return found


def _group_exists(name: str) -> str:
    return (
        f"model package group {name!r} exists already; register versions into it or "
        "pick another name"
    )
