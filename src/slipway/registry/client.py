"""Remote mode of the model registry: the RegistryService's verbs over the REST API.

Each method has the signature of the service method of the same name (less ``actor``:
the server decides who the caller is) and returns the same entities.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from urllib.parse import quote

from slipway._http import HttpClient
from slipway.experiments.models import Page, SortOrder
from slipway.registry._user import os_user
from slipway.registry.models import (
    USER_HEADER,
    CreateModelPackage,
    CreateModelPackageFromTrainingJob,
    CreateModelPackageGroup,
    DeployModelPackage,
    ModelApprovalStatus,
    ModelPackage,
    ModelPackageGroup,
    UpdateModelPackage,
    build,
    check_version,
)
from slipway.serving.models import Endpoint


def _q(name: str) -> str:
    return quote(name, safe="")


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


class RemoteRegistry:
    """The model registry of a slipway server."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        self._headers = {USER_HEADER: os_user()}

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.http.request(method, path, headers=self._headers, **kwargs)

    # --- groups -------------------------------------------------------------------------

    def create_model_package_group(self, request: CreateModelPackageGroup) -> ModelPackageGroup:
        body = self._send("POST", "/model-package-groups", json=request.to_wire())
        return ModelPackageGroup.model_validate(body)

    def get_model_package_group(self, name: str) -> ModelPackageGroup:
        body = self._send("GET", f"/model-package-groups/{_q(name)}")
        return ModelPackageGroup.model_validate(body)

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
        params = {
            "name_contains": name_contains,
            "created_after": _time(created_after),
            "created_before": _time(created_before),
            "sort_by": sort_by,
            "sort_order": _text(sort_order),
            "max_results": max_results,
            "next_token": next_token,
        }
        body = self._send("GET", "/model-package-groups", params=params)
        return Page[ModelPackageGroup](
            items=[ModelPackageGroup.model_validate(item) for item in body["Items"]],
            next_token=body.get("NextToken"),
        )

    def delete_model_package_group(self, name: str, *, force: bool = False) -> None:
        params = {"force": str(force).lower()}
        self._send("DELETE", f"/model-package-groups/{_q(name)}", params=params)

    # --- versions -----------------------------------------------------------------------

    def create_model_package(self, request: CreateModelPackage) -> ModelPackage:
        body = self._send("POST", "/model-packages", json=request.to_wire())
        return ModelPackage.model_validate(body)

    def create_model_package_from_training_job(
        self, request: CreateModelPackageFromTrainingJob
    ) -> ModelPackage:
        path = "/model-packages/from-training-job"
        return ModelPackage.model_validate(self._send("POST", path, json=request.to_wire()))

    def get_model_package(self, group_name: str, version: int | str) -> ModelPackage:
        return ModelPackage.model_validate(self._send("GET", _path(group_name, version)))

    def get_latest_approved_model_package(self, group_name: str) -> ModelPackage:
        body = self._send("GET", f"/model-package-groups/{_q(group_name)}/latest-approved")
        return ModelPackage.model_validate(body)

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
        params = {
            "group_name": group_name,
            "approval_status": _text(approval_status),
            "training_job_name": training_job_name,
            "created_after": _time(created_after),
            "created_before": _time(created_before),
            "sort_by": sort_by,
            "sort_order": _text(sort_order),
            "max_results": max_results,
            "next_token": next_token,
        }
        body = self._send("GET", "/model-packages", params=params)
        return Page[ModelPackage](
            items=[ModelPackage.model_validate(item) for item in body["Items"]],
            next_token=body.get("NextToken"),
        )

    def update_model_package(
        self,
        group_name: str,
        version: int | str,
        approval_status: ModelApprovalStatus | str,
        approval_description: str | None = None,
    ) -> ModelPackage:
        request = build(
            UpdateModelPackage,
            model_approval_status=approval_status,
            approval_description=approval_description,
        )
        body = self._send("PATCH", _path(group_name, version), json=request.to_wire())
        return ModelPackage.model_validate(body)

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
        request = build(
            DeployModelPackage,
            endpoint_name=endpoint_name,
            initial_instance_count=initial_instance_count,
            model_server_workers=model_server_workers,
            invocation_timeout_seconds=invocation_timeout_seconds,
        )
        path = f"{_path(group_name, version)}/deploy"
        return Endpoint.model_validate(self._send("POST", path, json=request.to_wire()))

    def delete_model_package(self, group_name: str, version: int | str) -> None:
        self._send("DELETE", _path(group_name, version))


def _path(group_name: str, version: int | str) -> str:
    return f"/model-packages/{_q(group_name)}/{check_version(version)}"


@functools.cache
def remote_registry(server_url: str, token: str | None) -> RemoteRegistry:
    """One client (one connection pool) per server and token."""
    return RemoteRegistry(HttpClient(server_url, token))
