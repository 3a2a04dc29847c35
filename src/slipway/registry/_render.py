"""How the registry commands print: Rich tables and label-value views for people, the
entities' wire shapes as JSON for programs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import RenderableType
from rich.table import Table

from slipway._cli_output import time_text
from slipway.registry.models import ModelPackage, ModelPackageGroup


def _table(title: str | None, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    return table


def _fields(rows: Iterable[tuple[str, str | None]]) -> str:
    """Label-value lines of one entity, leaving out what it does not have."""
    present = [(label, value) for label, value in rows if value]
    width = max(len(label) for label, _ in present)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in present)


def _metrics_in_short(package: ModelPackage) -> str:
    return ", ".join(f"{m.metric_name}={m.value:.6g}" for m in package.model_metrics.metrics)


def versions_table(packages: Sequence[ModelPackage]) -> Table:
    table = _table(
        "Versions", "Group", "Version", "Approval", "Created", "Created by", "From job", "Metrics"
    )
    for p in packages:
        table.add_row(
            p.model_package_group_name,
            str(p.model_package_version),
            p.model_approval_status.value,
            time_text(p.creation_time),
            p.created_by,
            p.lineage.training_job_name if p.lineage else "",
            _metrics_in_short(p),
        )
    return table


def groups_table(groups: Sequence[ModelPackageGroup]) -> Table:
    table = _table(None, "Group", "Created", "Created by", "Description")
    for g in groups:
        table.add_row(
            g.model_package_group_name,
            time_text(g.creation_time),
            g.created_by,
            g.model_package_group_description,
        )
    return table


def group_view(group: ModelPackageGroup) -> str:
    return _fields(
        [
            ("Group", group.model_package_group_name),
            ("ARN", group.model_package_group_arn),
            ("Description", group.model_package_group_description),
            ("Created", f"{time_text(group.creation_time)} by {group.created_by}"),
            ("Tags", ", ".join(f"{t.key}={t.value}" for t in group.tags)),
        ]
    )


def package_view(p: ModelPackage) -> list[RenderableType]:
    spec = p.inference_specification
    container = spec.containers[0]
    views: list[RenderableType] = [
        _fields(
            [
                ("Group", p.model_package_group_name),
                ("Version", str(p.model_package_version)),
                ("ARN", p.model_package_arn),
                ("Status", p.model_package_status.value),
                ("Approval", p.model_approval_status.value),
                ("Approval note", p.approval_description),
                ("Description", p.model_package_description),
                ("Model data", container.model_data_url),
                ("Framework", container.framework),
                ("Entry point", container.entry_point),
                ("Content types", ", ".join(spec.supported_content_types)),
                ("Response types", ", ".join(spec.supported_response_mime_types)),
                ("Created", f"{time_text(p.creation_time)} by {p.created_by}"),
                ("Modified", f"{time_text(p.last_modified_time)} by {p.last_modified_by}"),
            ]
        )
    ]
    if p.lineage:
        lineage = _table("Lineage", "Kind", "Name", "Value")
        lineage.add_row("training job", p.lineage.training_job_name, p.lineage.training_job_arn)
        lineage.add_row("trial component", p.lineage.trial_component_name, "")
        for channel, artifact in sorted(p.lineage.input_artifacts.items()):
            lineage.add_row("input data", channel, artifact.value)
        views.append(lineage)
    metrics = _table("Metrics", "Name", "Value")
    for m in p.model_metrics.metrics:
        metrics.add_row(m.metric_name, f"{m.value:.6g}")
    history = _table("Approval history", "Time", "Status", "By", "Comment")
    for change in p.approval_history:
        history.add_row(
            time_text(change.change_time),
            change.model_approval_status.value,
            change.changed_by,
            change.approval_description,
        )
    views += [table for table in (metrics, history) if table.row_count]
    return views
