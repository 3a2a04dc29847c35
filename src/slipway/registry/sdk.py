"""The model registry SDK: groups of model versions, their approval and lineage.

    from slipway.registry import ModelPackageGroup, register_model

    package = register_model("churn", from_job="churn-training-1", framework="sklearn")
    package.approve("beats last month's model on the holdout set")
    predictor = ModelPackageGroup.load("churn").latest_approved().deploy("churn-prod")

Objects hold the entity's fields as attributes (``package.model_package_version``,
``package.lineage``...) and talk to the backend of the current settings: in-process
services or a server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway._sdk import PAGE_SIZE, Record, pages
from slipway.errors import ValidationError
from slipway.experiments.models import Page, Tag
from slipway.platform import registry_backend
from slipway.registry import models
from slipway.registry.models import ModelApprovalStatus, build, parse_package_arn

if TYPE_CHECKING:
    from slipway.serving.sdk import Predictor


class ModelPackageGroup(Record):
    """The versions of one model."""

    @classmethod
    def create(
        cls,
        name: str,
        description: str | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> ModelPackageGroup:
        request = build(
            models.CreateModelPackageGroup,
            model_package_group_name=name,
            model_package_group_description=description,
            tags=list(tags or []),
        )
        return cls(registry_backend().create_model_package_group(request))

    @classmethod
    def load(cls, name: str) -> ModelPackageGroup:
        return cls(registry_backend().get_model_package_group(name))

    @classmethod
    def list(
        cls,
        name_contains: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> Iterator[ModelPackageGroup]:
        backend = registry_backend()

        def fetch(token: str | None) -> Page[Any]:
            return backend.list_model_package_groups(
                name_contains=name_contains,
                created_after=created_after,
                created_before=created_before,
                sort_by=sort_by,
                sort_order=sort_order,
                max_results=PAGE_SIZE,
                next_token=token,
            )

        return (cls(group) for group in pages(fetch))

    def register(self, model_data_url: str | None = None, **options: Any) -> ModelPackage:
        """Register a new version in this group; see `register_model` for the options."""
        return register_model(self.model_package_group_name, model_data_url, **options)

    def model_packages(
        self,
        approval_status: ModelApprovalStatus | str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> Iterator[ModelPackage]:
        return ModelPackage.list(
            self.model_package_group_name,
            approval_status=approval_status,
            sort_by=sort_by,
            sort_order=sort_order,
        )

    def latest_approved(self) -> ModelPackage:
        return latest_approved(self.model_package_group_name)

    def delete(self, force: bool = False) -> None:
        """Delete the group; with ``force``, its versions too."""
        registry_backend().delete_model_package_group(self.model_package_group_name, force=force)


class ModelPackage(Record):
    """One version of a model: its data, how to serve it, its approval and lineage."""

    @classmethod
    def load(cls, group_or_arn: str, version: int | None = None) -> ModelPackage:
        """Load ``(group, version)`` or an ARN ``arn:slipway:model-package/<group>/<v>``."""
        if version is None:
            group, version = parse_package_arn(group_or_arn)
        else:
            group = group_or_arn
        return cls(registry_backend().get_model_package(group, version))

    @classmethod
    def list(
        cls,
        group: str | None = None,
        approval_status: ModelApprovalStatus | str | None = None,
        training_job_name: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        max_results: int | None = None,
    ) -> Iterator[ModelPackage]:
        """Versions, newest first; sort_by Version, CreationTime or Name (group, version)."""
        backend = registry_backend()

        def fetch(token: str | None) -> Page[Any]:
            return backend.list_model_packages(
                group_name=group,
                approval_status=approval_status,
                training_job_name=training_job_name,
                created_after=created_after,
                created_before=created_before,
                sort_by=sort_by,
                sort_order=sort_order,
                max_results=PAGE_SIZE,
                next_token=token,
            )

        return (cls(package) for package in pages(fetch, max_results))

    @property
    def model_data_url(self) -> str:
        return self._entity.inference_specification.containers[0].model_data_url

    @property
    def metrics(self) -> dict[str, float]:
        return {m.metric_name: m.value for m in self._entity.model_metrics.metrics}

    def approve(self, comment: str | None = None) -> ModelPackage:
        return self.update_approval(ModelApprovalStatus.APPROVED, comment)

    def reject(self, comment: str | None = None) -> ModelPackage:
        return self.update_approval(ModelApprovalStatus.REJECTED, comment)

    def update_approval(
        self, status: ModelApprovalStatus | str, comment: str | None = None
    ) -> ModelPackage:
        """Set the approval status (with a comment); the change joins the history."""
        updated = update_approval(
            self.model_package_group_name, self.model_package_version, status, comment
        )
        self._entity = updated._entity
        return self

    def deploy(
        self,
        endpoint_name: str,
        initial_instance_count: int = 1,
        *,
        model_server_workers: int | None = None,
        invocation_timeout: float | None = None,
        wait: bool = True,
        serializer: Any = None,
        deserializer: Any = None,
    ) -> Predictor:
        """Serve this (Approved) version on a new endpoint; return its Predictor.

        The endpoint's model, config and endpoint are named ``endpoint_name`` and tagged
        with this version's ARN. With ``wait``, returns once the endpoint is InService.
        """
        # Imported here: the serving SDK brings numpy, which registering and listing skip.
        from slipway.serving.sdk import Predictor, wait_for_endpoint

        registry_backend().deploy_model_package(
            self.model_package_group_name,
            self.model_package_version,
            endpoint_name,
            initial_instance_count=initial_instance_count,
            model_server_workers=model_server_workers,
            invocation_timeout_seconds=invocation_timeout,
        )
        if wait:
            wait_for_endpoint(endpoint_name)
        return Predictor(endpoint_name, serializer, deserializer)

    def delete(self) -> None:
        registry_backend().delete_model_package(
            self.model_package_group_name, self.model_package_version
        )


def register_model(
    group: str,
    model_data_url: str | None = None,
    *,
    from_job: str | None = None,
    framework: str | None = None,
    framework_version: str | None = None,
    entry_point: str | None = None,
    environment: Mapping[str, str] | None = None,
    content_types: Iterable[str] = (),
    response_types: Iterable[str] = (),
    description: str | None = None,
    approval_status: ModelApprovalStatus | str = ModelApprovalStatus.PENDING_MANUAL_APPROVAL,
    metrics: Mapping[str, float] | None = None,
    metadata_properties: Mapping[str, str] | None = None,
    tags: Iterable[Tag | dict[str, str]] | None = None,
) -> ModelPackage:
    """Register the next version of ``group``'s model (the group is created if need be).

    Give either ``model_data_url`` (stored model data; ``metrics`` describe it) or
    ``from_job``, a Completed training job whose model, input data, trial component and
    final metrics the version records. ``framework`` names the flavour that loads the
    model; ``entry_point`` a script with inference handlers instead.
    """
    if (model_data_url is None) == (from_job is None):
        raise ValidationError(
            "give either model_data_url (where the model is stored) or from_job "
            "(a Completed training job), not both or neither"
        )
    common = {
        "model_package_group_name": group,
        "model_package_description": description,
        "model_approval_status": approval_status,
        "metadata_properties": dict(metadata_properties) if metadata_properties else None,
        "tags": list(tags or []),
    }
    serving = {
        "framework": framework,
        "framework_version": framework_version,
        "entry_point": entry_point,
        "environment": dict(environment or {}),
    }
    types = {
        "supported_content_types": list(content_types),
        "supported_response_mime_types": list(response_types),
    }
    if from_job is not None:
        if metrics:
            raise ValidationError(
                f"metrics come from training job {from_job!r}; pass metrics only with "
                "model_data_url"
            )
        request = build(
            models.CreateModelPackageFromTrainingJob,
            training_job_name=from_job,
            **common,
            **serving,
            **types,
        )
        return ModelPackage(registry_backend().create_model_package_from_training_job(request))
    if "://" not in model_data_url and not Path(model_data_url).is_absolute():
        model_data_url = str(Path(model_data_url).resolve())  # the user's working folder
    request = build(
        models.CreateModelPackage,
        inference_specification={
            "containers": [{"model_data_url": model_data_url, **serving}],
            **types,
        },
        model_metrics={
            "metrics": [
                {"metric_name": name, "value": value} for name, value in (metrics or {}).items()
            ]
        },
        **common,
    )
    return ModelPackage(registry_backend().create_model_package(request))


def list_model_packages(
    group: str | None = None,
    approval_status: ModelApprovalStatus | str | None = None,
    **options: Any,
) -> Iterator[ModelPackage]:
    """Versions, newest first; see `ModelPackage.list` for the filters and sorting."""
    return ModelPackage.list(group, approval_status, **options)


def approve(group: str, version: int, comment: str | None = None) -> ModelPackage:
    """Approve version ``version`` of ``group``, saying why in ``comment``."""
    return update_approval(group, version, ModelApprovalStatus.APPROVED, comment)


def reject(group: str, version: int, comment: str | None = None) -> ModelPackage:
    """Reject version ``version`` of ``group``, saying why in ``comment``."""
    return update_approval(group, version, ModelApprovalStatus.REJECTED, comment)


def update_approval(
    group: str, version: int, status: ModelApprovalStatus | str, comment: str | None = None
) -> ModelPackage:
    """Set a version's approval status; the change joins its approval history."""
    return ModelPackage(registry_backend().update_model_package(group, version, status, comment))


def latest_approved(group: str) -> ModelPackage:
    """The highest Approved version of a group: what a deployment of it should serve."""
    return ModelPackage(registry_backend().get_latest_approved_model_package(group))
