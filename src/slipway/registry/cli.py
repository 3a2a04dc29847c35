"""The model registry commands: `slipway models register|list|show|approve|deploy|...`.

Each command turns its options into backend calls (in-process services or a server, as
the settings say) and renders what comes back: Rich tables for people, the entities'
wire shapes as one JSON document with ``--json`` for programs. The rules live in the
service.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import typer

from slipway import _cli_output as output
from slipway.errors import ValidationError
from slipway.platform import registry_backend, serving_backend
from slipway.registry import _render as render
from slipway.registry import sdk
from slipway.registry.models import ModelApprovalStatus, check_version

models_app = typer.Typer(
    help="The model registry: versions of each model, their approval and lineage.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print one JSON document instead of a table.")
_MAX = typer.Option(100, "--max", help="Most items to show; pages are fetched as needed.")
_SORT_ORDER = typer.Option(None, "--sort-order", help="Ascending or Descending (default).")
_COMMENT = typer.Option(None, "--comment", "-m", help="Why (kept in the approval history).")
_GROUP = typer.Argument(..., help="The model package group.")
_VERSION = typer.Argument(..., help="The version number.")


# --- registering ----------------------------------------------------------------------


@models_app.command("register")
def register(
    group: str = typer.Option(..., "--group", "-g", help="The group; created if it is new."),
    from_job: str | None = typer.Option(
        None, "--from-job", help="A Completed training job whose model to register."
    ),
    model_data: str | None = typer.Option(
        None, "--model-data", help="Where the model is stored, instead of --from-job."
    ),
    framework: str | None = typer.Option(
        None, "--framework", "--flavour", help="sklearn, xgboost, lightgbm, onnx..."
    ),
    framework_version: str | None = typer.Option(None, "--framework-version"),
    entry_point: str | None = typer.Option(
        None, "--entry-point", help="Inference script in the model's code/ folder."
    ),
    content_types: list[str] | None = typer.Option(
        None, "--content-type", help="A request content type it takes; repeat for more."
    ),
    response_types: list[str] | None = typer.Option(
        None, "--response-type", help="A response content type it gives; repeat for more."
    ),
    metrics: list[str] | None = typer.Option(
        None, "--metric", help="NAME=VALUE (with --model-data); repeat for more."
    ),
    description: str | None = typer.Option(None, "--description"),
    status: str = typer.Option(
        ModelApprovalStatus.PENDING_MANUAL_APPROVAL.value,
        "--status",
        help="PendingManualApproval (default), Approved or Rejected.",
    ),
    as_json: bool = _JSON,
) -> None:
    """Register the next version of a model: from a training job or stored model data."""
    package = sdk.register_model(
        group,
        model_data,
        from_job=from_job,
        framework=framework,
        framework_version=framework_version,
        entry_point=entry_point,
        content_types=content_types or [],
        response_types=response_types or [],
        description=description,
        approval_status=status,
        metrics=_parse_metrics(metrics or []),
    )
    if as_json:
        output.print_json(package.to_dict())
        return
    typer.echo(
        f"registered {package.model_package_group_name} version "
        f"{package.model_package_version} ({package.model_package_arn}), "
        f"{package.model_approval_status.value}"
    )


def _parse_metrics(texts: Sequence[str]) -> dict[str, float]:
    metrics = {}
    for text in texts:
        name, equals, value = text.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (equals and name and math.isfinite(number)):
            raise ValidationError(
                f"--metric {text!r} is not NAME=VALUE with a finite number, "
                "for example --metric accuracy=0.93"
            )
        metrics[name] = number
    return metrics


# --- reading --------------------------------------------------------------------------


@models_app.command("list")
def list_versions(
    group: str | None = typer.Option(None, "--group", "-g", help="Only this group's."),
    status: str | None = typer.Option(
        None, "--status", help="Only PendingManualApproval, Approved or Rejected ones."
    ),
    job: str | None = typer.Option(None, "--job", help="Only those from this training job."),
    sort_by: str | None = typer.Option(
        None, "--sort-by", help="CreationTime (default), Version or Name."
    ),
    sort_order: str | None = _SORT_ORDER,
    max_items: int = _MAX,
    as_json: bool = _JSON,
) -> None:
    """List model versions, newest first."""
    backend = registry_backend()
    found = output.collect(
        lambda size, token: backend.list_model_packages(
            group_name=group,
            approval_status=status,
            training_job_name=job,
            sort_by=sort_by,
            sort_order=sort_order,
            max_results=size,
            next_token=token,
        ),
        max_items,
    )
    if as_json:
        output.print_json(found)
    else:
        output.show(render.versions_table(found))


@models_app.command("groups")
def list_groups(
    name_contains: str | None = typer.Option(None, "--name-contains"),
    max_items: int = _MAX,
    as_json: bool = _JSON,
) -> None:
    """List model package groups, newest first."""
    backend = registry_backend()
    found = output.collect(
        lambda size, token: backend.list_model_package_groups(
            name_contains=name_contains, max_results=size, next_token=token
        ),
        max_items,
    )
    if as_json:
        output.print_json(found)
        return
    output.show(render.groups_table(found))


@models_app.command("show")
def show(
    group: str = _GROUP,
    version: str | None = typer.Argument(None, help="A version; without it, the group."),
    latest_approved: bool = typer.Option(
        False, "--latest-approved", help="Show the group's highest Approved version."
    ),
    as_json: bool = _JSON,
) -> None:
    """Show a version (lineage, metrics, approval history), or a group and its versions."""
    backend = registry_backend()
    if version is not None and latest_approved:
        raise ValidationError("give a VERSION or --latest-approved, not both")
    if version is None and not latest_approved:
        found = backend.get_model_package_group(group)
        versions = output.collect(
            lambda size, token: backend.list_model_packages(
                group_name=group, sort_by="Version", max_results=size, next_token=token
            )
        )
        if as_json:
            output.print_json({"ModelPackageGroup": found, "ModelPackages": versions})
        else:
            output.show(render.group_view(found), render.versions_table(versions))
        return
    package = (
        backend.get_latest_approved_model_package(group)
        if latest_approved
        else backend.get_model_package(group, check_version(version))
    )
    if as_json:
        output.print_json(package)
    else:
        output.show(*render.package_view(package))


# --- approving and deleting -----------------------------------------------------------


@models_app.command("approve")
def approve(
    group: str = _GROUP,
    version: str = _VERSION,
    comment: str | None = _COMMENT,
    as_json: bool = _JSON,
) -> None:
    """Approve a version: deployments of the group serve the highest Approved one."""
    _update(group, version, ModelApprovalStatus.APPROVED, comment, as_json)


@models_app.command("reject")
def reject(
    group: str = _GROUP,
    version: str = _VERSION,
    comment: str | None = _COMMENT,
    as_json: bool = _JSON,
) -> None:
    """Reject a version (an Approved one is withdrawn)."""
    _update(group, version, ModelApprovalStatus.REJECTED, comment, as_json)


@models_app.command("update")
def update(
    group: str = _GROUP,
    version: str = _VERSION,
    status: str = typer.Option(
        ..., "--status", help="PendingManualApproval, Approved or Rejected."
    ),
    comment: str | None = _COMMENT,
    as_json: bool = _JSON,
) -> None:
    """Set a version's approval status, e.g. back to PendingManualApproval for review."""
    _update(group, version, status, comment, as_json)


def _update(
    group: str, version: str, status: ModelApprovalStatus | str, comment: str | None, as_json: bool
) -> None:
    package = registry_backend().update_model_package(
        group, check_version(version), status, comment
    )
    if as_json:
        output.print_json(package)
        return
    last = package.approval_history[-1]
    when = output.time_text(last.change_time)
    typer.echo(
        f"{group} version {package.model_package_version} is "
        f"{package.model_approval_status.value} (by {last.changed_by} at {when})"
    )


@models_app.command("deploy")
def deploy(
    group: str = _GROUP,
    version: str = _VERSION,
    endpoint: str = typer.Option(..., "--endpoint", "-e", help="The new endpoint's name."),
    # Text, not int: the service names a bad value in one line, as for every other input.
    instances: str = typer.Option("1", "--instances", help="Instances (worker groups), 1-100."),
    workers: str | None = typer.Option(None, "--workers", help="Worker processes each."),
    timeout: str | None = typer.Option(None, "--timeout", help="Seconds per invocation."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until InService."),
    as_json: bool = _JSON,
) -> None:
    """Serve an Approved version on a new endpoint (model, config and endpoint named so)."""
    from slipway.serving.sdk import wait_for_endpoint  # brings numpy: only when deploying

    number = check_version(version)
    registry_backend().deploy_model_package(
        group,
        number,
        endpoint,
        initial_instance_count=instances,
        model_server_workers=workers,
        invocation_timeout_seconds=timeout,
    )
    found = wait_for_endpoint(endpoint) if wait else serving_backend().get_endpoint(endpoint)
    if as_json:
        output.print_json(found)
        return
    typer.echo(
        f"endpoint {endpoint!r} is {found.endpoint_status.value}, serving {group} version {number}"
    )


@models_app.command("create-group")
def create_group(
    name: str = typer.Argument(..., help="Up to 63 letters, digits and hyphens."),
    description: str | None = typer.Option(None, "--description"),
    as_json: bool = _JSON,
) -> None:
    """Create an empty model package group (registering into a new group also does)."""
    created = sdk.ModelPackageGroup.create(name, description)
    if as_json:
        output.print_json(created.to_dict())
    else:
        typer.echo(f"model package group {name!r} created")


@models_app.command("delete")
def delete(
    group: str = _GROUP,
    version: str | None = typer.Argument(None, help="A version; without it, the group."),
    force: bool = typer.Option(False, "--force", help="Delete a group with its versions."),
) -> None:
    """Delete a version, or a group (which must have no versions unless --force)."""
    backend = registry_backend()
    if version is None:
        backend.delete_model_package_group(group, force=force)
        typer.echo(f"model package group {group!r} deleted")
        return
    backend.delete_model_package(group, check_version(version))
    typer.echo(f"{group} version {version} deleted")
