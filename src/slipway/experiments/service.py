"""The rules of experiment tracking: experiments, trials, trial components, metrics, search.

Every public method is one transaction. The REST API and the embedded SDK call these
methods; the remote SDK calls the REST API, so both modes follow the same rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pydantic
import sqlalchemy as sa

from slipway.artifacts.service import ArtifactService
from slipway.errors import AlreadyExists, Conflict, NotFound, ValidationError
from slipway.experiments import metric_store, repository
from slipway.experiments import tables as t
from slipway.experiments.expressions import (
    BooleanOperator,
    Filter,
    Operator,
    Resource,
    SearchExpression,
    decode_token,
    encode_token,
    id_query,
)
from slipway.experiments.models import (
    MAX_METRIC_POINTS,
    Artifact,
    Experiment,
    MetricPoint,
    MetricSummary,
    Page,
    PrimaryStatus,
    SortOrder,
    Source,
    Tag,
    Trial,
    TrialComponent,
    TrialComponentStatus,
    artifacts_of,
    parameters_of,
    status_of,
    tags_of,
)
from slipway.names import check_key, check_name, check_text
from slipway.store.artifacts import ArtifactInfo
from slipway.store.db import Database

ARTIFACT_PREFIX = "trial-component-artifacts"
_LOADERS = {
    Resource.EXPERIMENT: repository.load_experiments,
    Resource.TRIAL: repository.load_trials,
    Resource.TRIAL_COMPONENT: repository.load_trial_components,
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sort_order(value: SortOrder | str | None) -> SortOrder | None:
    if value is None:
        return None
    try:
        return SortOrder(value)
    except ValueError:
        raise ValidationError(
            f"sort order {value!r} is not valid; use Ascending or Descending"
        ) from None


def _list_filters(**conditions: Any) -> SearchExpression | None:
    """The filters of a list call, written as a search expression (one place for the SQL)."""
    filters = []
    for name, operator, value in (
        ("Parents.ExperimentName", Operator.EQUALS, conditions.get("experiment_name")),
        ("Parents.TrialName", Operator.EQUALS, conditions.get("trial_name")),
        ("Source.SourceArn", Operator.EQUALS, conditions.get("source_arn")),
        ("CreationTime", Operator.GREATER_THAN, conditions.get("created_after")),
        ("CreationTime", Operator.LESS_THAN, conditions.get("created_before")),
    ):
        if value is None:
            continue
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        filters.append(Filter(name=name, operator=operator, value=value))
    return SearchExpression(filters=filters, operator=BooleanOperator.AND) if filters else None


@contextmanager
def _unique(kind: str, name: str) -> Iterator[None]:
    """Turn a unique-key violation (two creators racing) into the error a user expects."""
    try:
        yield
    except sa.exc.IntegrityError as error:
        if repository.is_unique_violation(error):
            raise AlreadyExists(f"{kind} {name!r} exists already; pick another name") from None
        raise


class ExperimentsService:
    """Experiment tracking on one metadata database and one artifact store."""

    def __init__(self, database: Database, artifacts: ArtifactService) -> None:
        self.db = database
        self.artifacts = artifacts

    # --- experiments ------------------------------------------------------------------

    def create_experiment(
        self,
        experiment_name: str,
        display_name: str | None = None,
        description: str | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Experiment:
        check_name("experiment name", experiment_name)
        if display_name is not None:
            check_name("display name", display_name)
        if description is not None:
            check_text("description", description, 3072)
        tag_list = tags_of(tags)
        now = _now()
        with _unique("experiment", experiment_name), self.db.write() as conn:
            if repository.experiment_id(conn, experiment_name) is not None:
                raise AlreadyExists(
                    f"experiment {experiment_name!r} exists already; load it with "
                    f"Experiment.load(experiment_name={experiment_name!r}) or pick another name"
                )
            new_id = repository.insert(
                conn,
                t.experiments,
                {
                    "name": experiment_name,
                    "display_name": display_name or experiment_name,
                    "description": description,
                    "created_at": now,
                    "modified_at": now,
                },
            )
            repository.put_tags(conn, "experiment", new_id, tag_list)
            return repository.load_experiments(conn, [new_id])[0]

    def require(self, experiment_name: str | None = None, trial_name: str | None = None) -> None:
        """Raise NotFound unless the named experiment and trial exist; cheaper than a get."""
        with self.db.read() as conn:
            if experiment_name is not None:
                self._experiment_id(conn, experiment_name)
            if trial_name is not None:
                self._trial_id(conn, trial_name)

    def get_experiment(self, experiment_name: str) -> Experiment:
        with self.db.read() as conn:
            return repository.load_experiments(conn, [self._experiment_id(conn, experiment_name)])[
                0
            ]

    def list_experiments(
        self,
        *,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[Experiment]:
        expression = _list_filters(created_after=created_after, created_before=created_before)
        return self.search(
            "Experiment",
            search_expression=expression,
            sort_by=sort_by,
            sort_order=sort_order,
            max_results=max_results,
            next_token=next_token,
        )

    def experiment_columns(self, experiment_name: str) -> tuple[list[str], list[str]]:
        """The parameter and metric names found on the experiment's components."""
        with self.db.read() as conn:
            return repository.experiment_columns(conn, self._experiment_id(conn, experiment_name))

    def update_experiment(
        self,
        experiment_name: str,
        display_name: str | None = None,
        description: str | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Experiment:
        values: dict[str, Any] = {"modified_at": _now()}
        if display_name is not None:
            values["display_name"] = check_name("display name", display_name)
        if description is not None:
            values["description"] = check_text("description", description, 3072)
        tag_list = tags_of(tags)
        with self.db.write() as conn:
            exp_id = self._experiment_id(conn, experiment_name)
            repository.update(conn, t.experiments, exp_id, values)
            repository.put_tags(conn, "experiment", exp_id, tag_list)
            return repository.load_experiments(conn, [exp_id])[0]

    def delete_experiment(self, experiment_name: str, *, cascade: bool = False) -> None:
        """Delete an experiment; with cascade, its trials and their components too."""
        with self.db.write() as conn:
            exp_id = self._experiment_id(conn, experiment_name)
            trial_ids = repository.trial_ids_of_experiment(conn, exp_id)
            if trial_ids and not cascade:
                raise Conflict(
                    f"experiment {experiment_name!r} still has {len(trial_ids)} trial(s); "
                    "delete them first, or delete everything with "
                    "experiment.delete_all(action='--force') or "
                    f"`slipway experiments delete {experiment_name} --force`"
                )
            components = repository.component_ids_of_trials(conn, trial_ids)
            repository.delete_components(conn, components)
            repository.delete(conn, t.experiments, exp_id)

    # --- trials -----------------------------------------------------------------------

    def create_trial(
        self,
        trial_name: str,
        experiment_name: str,
        display_name: str | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Trial:
        check_name("trial name", trial_name)
        if display_name is not None:
            check_name("display name", display_name)
        tag_list = tags_of(tags)
        now = _now()
        with _unique("trial", trial_name), self.db.write() as conn:
            exp_id = self._experiment_id(conn, experiment_name)
            if repository.trial_id(conn, trial_name) is not None:
                raise AlreadyExists(f"trial {trial_name!r} exists already; pick another name")
            new_id = repository.insert(
                conn,
                t.trials,
                {
                    "name": trial_name,
                    "display_name": display_name or trial_name,
                    "experiment_id": exp_id,
                    "created_at": now,
                    "modified_at": now,
                },
            )
            repository.put_tags(conn, "trial", new_id, tag_list)
        # A new trial is what was written: no need to read it back.
        return Trial(
            trial_name=trial_name,
            display_name=display_name or trial_name,
            experiment_name=experiment_name,
            creation_time=now,
            last_modified_time=now,
            tags=tag_list,
        )

    def get_trial(self, trial_name: str) -> Trial:
        with self.db.read() as conn:
            return repository.load_trials(conn, [self._trial_id(conn, trial_name)])[0]

    def list_trials(
        self,
        *,
        experiment_name: str | None = None,
        trial_component_name: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[Trial]:
        expression = _list_filters(
            experiment_name=experiment_name,
            created_after=created_after,
            created_before=created_before,
        )
        if experiment_name is not None:
            with self.db.read() as conn:
                self._experiment_id(conn, experiment_name)  # an unknown name is an error
        if trial_component_name is not None:
            names = [p.trial_name for p in self.get_trial_component(trial_component_name).parents]
            in_filter = Filter(name="TrialName", operator=Operator.IN, value=",".join(names))
            if not names:
                return Page[Trial](items=[])
            expression = SearchExpression(
                filters=[in_filter, *(expression.filters if expression else [])]
            )
        return self.search(
            "Trial",
            search_expression=expression,
            sort_by=sort_by,
            sort_order=sort_order,
            max_results=max_results,
            next_token=next_token,
        )

    def update_trial(
        self,
        trial_name: str,
        display_name: str | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> Trial:
        values: dict[str, Any] = {"modified_at": _now()}
        if display_name is not None:
            values["display_name"] = check_name("display name", display_name)
        tag_list = tags_of(tags)
        with self.db.write() as conn:
            trial = self._trial_id(conn, trial_name)
            repository.update(conn, t.trials, trial, values)
            repository.put_tags(conn, "trial", trial, tag_list)
            return repository.load_trials(conn, [trial])[0]

    def delete_trial(self, trial_name: str, *, cascade: bool = False) -> None:
        """Delete a trial; with cascade, the components that belong to no other trial too."""
        with self.db.write() as conn:
            trial = self._trial_id(conn, trial_name)
            components = repository.component_ids_of_trials(conn, [trial])
            if components and not cascade:
                raise Conflict(
                    f"trial {trial_name!r} still has {len(components)} trial component(s); "
                    "remove them first or use trial.delete_all(action='--force')"
                )
            repository.delete(conn, t.trials, trial)
            orphans = [c for c in components if repository.count_links(conn, component=c) == 0]
            repository.delete_components(conn, orphans)

    # --- trial components -------------------------------------------------------------

    def create_trial_component(
        self,
        trial_component_name: str,
        display_name: str | None = None,
        status: TrialComponentStatus | PrimaryStatus | str | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        parameters: dict[str, Any] | None = None,
        input_artifacts: dict[str, Artifact | dict[str, Any]] | None = None,
        output_artifacts: dict[str, Artifact | dict[str, Any]] | None = None,
        source: Source | None = None,
        tags: Iterable[Tag | dict[str, str]] | None = None,
    ) -> TrialComponent:
        check_name("trial component name", trial_component_name)
        if display_name is not None:
            check_name("display name", display_name)
        status_value = status_of(status or PrimaryStatus.IN_PROGRESS)
        params = parameters_of(parameters)
        inputs, outputs = artifacts_of(input_artifacts), artifacts_of(output_artifacts)
        tag_list = tags_of(tags)
        now = _now()
        with _unique("trial component", trial_component_name), self.db.write() as conn:
            if repository.trial_component_id(conn, trial_component_name) is not None:
                raise AlreadyExists(
                    f"trial component {trial_component_name!r} exists already; "
                    "load it with TrialComponent.load or pick another name"
                )
            tc_id = repository.insert(
                conn,
                t.trial_components,
                {
                    "name": trial_component_name,
                    "display_name": display_name or trial_component_name,
                    "status": status_value.primary_status.value,
                    "status_message": status_value.message,
                    "start_time": start_time,
                    "end_time": end_time,
                    "created_at": now,
                    "modified_at": now,
                    "source_arn": source.source_arn if source else None,
                    "source_type": source.source_type if source else None,
                },
            )
            repository.put_parameters(conn, tc_id, params)
            repository.put_artifacts(conn, tc_id, "input", inputs)
            repository.put_artifacts(conn, tc_id, "output", outputs)
            repository.put_tags(conn, "trial_component", tc_id, tag_list)
        # A new component has no metrics or parents yet: what was written is all there is.
        return TrialComponent(
            trial_component_name=trial_component_name,
            display_name=display_name or trial_component_name,
            status=status_value,
            start_time=start_time,
            end_time=end_time,
            creation_time=now,
            last_modified_time=now,
            source=source,
            parameters=params,
            input_artifacts=inputs,
            output_artifacts=outputs,
            tags=tag_list,
        )

    def get_trial_component(self, trial_component_name: str) -> TrialComponent:
        with self.db.read() as conn:
            tc_id = self._component_id(conn, trial_component_name)
            return repository.load_trial_components(conn, [tc_id])[0]

    def list_trial_components(
        self,
        *,
        experiment_name: str | None = None,
        trial_name: str | None = None,
        source_arn: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[TrialComponent]:
        expression = _list_filters(
            experiment_name=experiment_name,
            trial_name=trial_name,
            source_arn=source_arn,
            created_after=created_after,
            created_before=created_before,
        )
        return self.search(
            "TrialComponent",
            search_expression=expression,
            sort_by=sort_by,
            sort_order=sort_order,
            max_results=max_results,
            next_token=next_token,
        )

    def update_trial_component(
        self,
        trial_component_name: str,
        display_name: str | None = None,
        status: TrialComponentStatus | PrimaryStatus | str | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        parameters: dict[str, Any] | None = None,
        parameters_to_remove: Sequence[str] = (),
        input_artifacts: dict[str, Artifact | dict[str, Any]] | None = None,
        input_artifacts_to_remove: Sequence[str] = (),
        output_artifacts: dict[str, Artifact | dict[str, Any]] | None = None,
        output_artifacts_to_remove: Sequence[str] = (),
        metrics: Sequence[MetricPoint] = (),
    ) -> None:
        """Change a component; with ``metrics``, also write points in the same transaction.

        Returns nothing: a tracker closing a run has no use for the component read back,
        and reading it is half the cost of the call. ``get_trial_component`` reads it.
        """
        values: dict[str, Any] = {"modified_at": _now()}
        if display_name is not None:
            values["display_name"] = check_name("display name", display_name)
        if status is not None:
            status_value = status_of(status)
            values["status"] = status_value.primary_status.value
            values["status_message"] = status_value.message
        if start_time is not None:
            values["start_time"] = start_time
        if end_time is not None:
            values["end_time"] = end_time
        params = parameters_of(parameters)
        inputs, outputs = artifacts_of(input_artifacts), artifacts_of(output_artifacts)
        with self.db.write() as conn:
            tc_id = self._component_id(conn, trial_component_name)
            repository.update(conn, t.trial_components, tc_id, values)
            repository.remove_parameters(conn, tc_id, list(parameters_to_remove))
            repository.put_parameters(conn, tc_id, params)
            repository.remove_artifacts(conn, tc_id, "input", list(input_artifacts_to_remove))
            repository.remove_artifacts(conn, tc_id, "output", list(output_artifacts_to_remove))
            repository.put_artifacts(conn, tc_id, "input", inputs)
            repository.put_artifacts(conn, tc_id, "output", outputs)
            metric_store.write_points(conn, tc_id, list(metrics))

    def delete_trial_component(
        self, trial_component_name: str, *, force_disassociate: bool = False
    ) -> None:
        with self.db.write() as conn:
            tc_id = self._component_id(conn, trial_component_name)
            links = repository.count_links(conn, component=tc_id)
            if links and not force_disassociate:
                raise Conflict(
                    f"trial component {trial_component_name!r} is in {links} trial(s); "
                    "remove it from them first or delete with force_disassociate=True"
                )
            repository.delete_components(conn, [tc_id])

    def associate_trial_component(self, trial_component_name: str, trial_name: str) -> None:
        with self.db.write() as conn:
            trial = self._trial_id(conn, trial_name)
            component = self._component_id(conn, trial_component_name)
            repository.link(conn, trial, component)

    def disassociate_trial_component(self, trial_component_name: str, trial_name: str) -> None:
        with self.db.write() as conn:
            trial = self._trial_id(conn, trial_name)
            component = self._component_id(conn, trial_component_name)
            if not repository.unlink(conn, trial, component):
                raise NotFound(
                    f"trial component {trial_component_name!r} is not in trial {trial_name!r}"
                )

    # --- metrics ----------------------------------------------------------------------

    def log_metrics(
        self,
        trial_component_name: str,
        points: Sequence[MetricPoint],
        batch_id: str | None = None,
    ) -> int:
        """Store a batch of metric points; returns how many were stored by this call.

        A retried batch (same ``batch_id``) is stored once and answers 0 the second time.
        """
        if batch_id is not None:
            check_key("batch id", batch_id, 64)
        with self.db.write() as conn:
            tc_id = self._component_id(conn, trial_component_name)
            stored = metric_store.write_points(conn, tc_id, points, batch_id)
        return len(points) if stored else 0

    def metric_summaries(self, trial_component_name: str) -> list[MetricSummary]:
        with self.db.read() as conn:
            tc_id = self._component_id(conn, trial_component_name)
            return repository.load_metric_summaries(conn, tc_id)

    def get_metric_curve(
        self, trial_component_name: str, metric_name: str
    ) -> tuple[list[float], list[float]]:
        """A metric's x (step, or time) and y values, for a chart: no point objects."""
        with self.db.read() as conn:
            tc_id = self._component_id(conn, trial_component_name)
            return metric_store.read_curve(conn, tc_id, metric_name)

    def get_metric_series(self, trial_component_name: str, metric_name: str) -> list[MetricPoint]:
        """Every point of one metric, in step order, then time; unstepped points last."""
        with self.db.read() as conn:
            tc_id = self._component_id(conn, trial_component_name)
            return metric_store.read_points(conn, tc_id, metric_name)

    def list_metric_points(
        self,
        trial_component_name: str,
        metric_name: str,
        max_results: int = MAX_METRIC_POINTS,
        next_token: str | None = None,
    ) -> Page[MetricPoint]:
        """One page of a metric's points, in the order of ``get_metric_series``."""
        if not 1 <= max_results <= MAX_METRIC_POINTS:
            raise ValidationError(
                f"max_results {max_results!r} is out of range; pass 1 to {MAX_METRIC_POINTS:,} "
                "points a page"
            )
        # The token holds the id of the previous page's last point.
        after_id = decode_token(next_token)
        with self.db.read() as conn:
            tc_id = self._component_id(conn, trial_component_name)
            rows = metric_store.read_page(conn, tc_id, metric_name, max_results + 1, after_id)
        if rows is None:
            raise ValidationError(
                f"NextToken {next_token!r:.40} is not one of metric {metric_name!r} of trial "
                f"component {trial_component_name!r}; pass the NextToken of its previous page"
            )
        page = rows[:max_results]
        token = encode_token(page[-1][0]) if len(rows) > max_results else None
        return Page[MetricPoint](items=[point for _, point in page], next_token=token)

    # --- artifacts --------------------------------------------------------------------

    def upload_artifact(
        self,
        trial_component_name: str,
        name: str,
        chunks: Iterable[bytes],
        media_type: str | None = None,
        direction: str = "output",
    ) -> Artifact:
        """Store a file for a component and record it as one of its artifacts."""
        check_key("artifact name", name)
        if direction not in ("input", "output"):
            raise ValidationError(f"artifact direction {direction!r} must be input or output")
        with self.db.read() as conn:
            self._component_id(conn, trial_component_name)
        info = self.artifacts.put(f"{ARTIFACT_PREFIX}/{trial_component_name}/{name}", chunks)
        artifact = Artifact(value=info.uri, media_type=media_type)
        self.update_trial_component(
            trial_component_name, **{f"{direction}_artifacts": {name: artifact}}
        )
        return artifact

    def artifact_record(self, uri: str) -> ArtifactInfo:
        return self.artifacts.record(uri)

    def open_artifact(self, uri: str) -> Iterable[bytes]:
        """Stream a stored artifact's bytes, given the URI recorded on a component."""
        return self.artifacts.open(uri)

    # --- search -----------------------------------------------------------------------

    def search(
        self,
        resource: Resource | str,
        *,
        search_expression: SearchExpression | dict[str, Any] | None = None,
        sort_by: str | None = None,
        sort_order: SortOrder | str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[Any]:
        """One page of experiments, trials or trial components matching an expression."""
        kind = resource if isinstance(resource, Resource) else Resource.parse(resource)
        if isinstance(search_expression, dict):
            try:
                search_expression = SearchExpression.model_validate(search_expression)
            except pydantic.ValidationError as error:
                # Raise what the server answers for the same body, not pydantic's own error.
                problems = "; ".join(
                    f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in error.errors()[:5]
                )
                raise ValidationError(f"search expression is not valid: {problems}") from None
        query, offset = id_query(
            kind, search_expression, sort_by, _sort_order(sort_order), max_results, next_token
        )
        with self.db.read() as conn:
            ids = list(conn.scalars(query))
            more = len(ids) > max_results
            items = _LOADERS[kind](conn, ids[:max_results])
        token = encode_token(offset + max_results) if more else None
        return Page[Any](items=items, next_token=token)

    # --- lookups ----------------------------------------------------------------------

    def _experiment_id(self, conn: sa.Connection, name: str) -> int:
        found = repository.experiment_id(conn, name)
        if found is None:
            raise NotFound(
                f"experiment {name!r} not found; list experiments with `slipway experiments list`"
            )
        return found

    def _trial_id(self, conn: sa.Connection, name: str) -> int:
        found = repository.trial_id(conn, name)
        if found is None:
            raise NotFound(
                f"trial {name!r} not found; list trials with "
                "`slipway trials list --experiment <name>`"
            )
        return found

    def _component_id(self, conn: sa.Connection, name: str) -> int:
        found = repository.trial_component_id(conn, name)
        if found is None:
            raise NotFound(
                f"trial component {name!r} not found; list them with `slipway components list`"
            )
        return found
