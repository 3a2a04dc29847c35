"""The experiments SDK, shaped like the sagemaker-experiments SDK.

Scripts written for ``smexperiments`` port by changing only the import. Each object holds
the entity's fields as attributes (``experiment.experiment_name``, ``tc.parameters``...)
and talks to the backend of the current settings: in-process services or a server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from slipway._sdk import PAGE_SIZE, Record, pages
from slipway.errors import ValidationError
from slipway.experiments import models
from slipway.experiments.expressions import SearchExpression
from slipway.names import create_with_generated_name
from slipway.platform import experiments_backend


class Experiment(Record):
    """A group of trials that answer one question."""

    @classmethod
    def create(
        cls,
        experiment_name: str | None = None,
        description: str | None = None,
        tags: list[dict[str, str]] | None = None,
        display_name: str | None = None,
    ) -> Experiment:
        def create(name: str) -> models.Experiment:
            return experiments_backend().create_experiment(name, display_name, description, tags)

        if experiment_name is not None:
            return cls(create(experiment_name))
        return cls(create_with_generated_name("Experiment", create))

    @classmethod
    def load(cls, experiment_name: str) -> Experiment:
        return cls(experiments_backend().get_experiment(experiment_name))

    @classmethod
    def list(
        cls,
        created_before: dt.datetime | None = None,
        created_after: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> Iterator[Experiment]:
        backend = experiments_backend()
        fetch = lambda next_token: backend.list_experiments(  # noqa: E731
            created_after=created_after,
            created_before=created_before,
            sort_by=sort_by,
            sort_order=sort_order,
            max_results=PAGE_SIZE,
            next_token=next_token,
        )
        return (cls(e) for e in pages(fetch))

    @classmethod
    def search(cls, search_expression: dict | None = None, **kwargs: Any) -> Iterator[Experiment]:
        return search("Experiment", search_expression, **kwargs)

    def create_trial(
        self, trial_name: str | None = None, trial_name_prefix: str = "Trial"
    ) -> Trial:
        if trial_name is not None:
            return Trial.create(experiment_name=self.experiment_name, trial_name=trial_name)
        return create_with_generated_name(
            trial_name_prefix,
            lambda name: Trial.create(experiment_name=self.experiment_name, trial_name=name),
        )

    def list_trials(
        self,
        created_before: dt.datetime | None = None,
        created_after: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> Iterator[Trial]:
        return Trial.list(
            experiment_name=self.experiment_name,
            created_before=created_before,
            created_after=created_after,
            sort_by=sort_by,
            sort_order=sort_order,
        )

    def save(self) -> Experiment:
        # Attributes the user set shadow the entity's; those are what must be saved.
        self._entity = experiments_backend().update_experiment(
            self.experiment_name, self.display_name, self.description
        )
        return self

    def delete(self) -> None:
        experiments_backend().delete_experiment(self.experiment_name)

    def delete_all(self, action: str) -> None:
        """Delete the experiment, its trials and their trial components."""
        if action != "--force":
            raise ValidationError(
                f"delete_all(action={action!r}) refused: pass action='--force' to delete the "
                "experiment with all its trials and trial components"
            )
        experiments_backend().delete_experiment(self.experiment_name, cascade=True)


class Trial(Record):
    """One attempt within an experiment, made of trial components."""

    @classmethod
    def create(
        cls,
        experiment_name: str,
        trial_name: str | None = None,
        trial_components: list[Any] | None = None,
        tags: list[dict[str, str]] | None = None,
        display_name: str | None = None,
    ) -> Trial:
        def create(name: str) -> models.Trial:
            return experiments_backend().create_trial(name, experiment_name, display_name, tags)

        entity = create(trial_name) if trial_name else create_with_generated_name("Trial", create)
        trial = cls(entity)
        for component in trial_components or []:
            trial.add_trial_component(component)
        return trial

    @classmethod
    def load(cls, trial_name: str) -> Trial:
        return cls(experiments_backend().get_trial(trial_name))

    @classmethod
    def list(
        cls,
        experiment_name: str | None = None,
        trial_component_name: str | None = None,
        created_before: dt.datetime | None = None,
        created_after: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> Iterator[Trial]:
        backend = experiments_backend()
        fetch = lambda next_token: backend.list_trials(  # noqa: E731
            experiment_name=experiment_name,
            trial_component_name=trial_component_name,
            created_after=created_after,
            created_before=created_before,
            sort_by=sort_by,
            sort_order=sort_order,
            max_results=PAGE_SIZE,
            next_token=next_token,
        )
        return (cls(t) for t in pages(fetch))

    def add_trial_component(self, trial_component: Any) -> None:
        experiments_backend().associate_trial_component(
            _component_name(trial_component), self.trial_name
        )

    def remove_trial_component(self, trial_component: Any) -> None:
        experiments_backend().disassociate_trial_component(
            _component_name(trial_component), self.trial_name
        )

    def list_trial_components(
        self,
        created_before: dt.datetime | None = None,
        created_after: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> Iterator[TrialComponent]:
        return TrialComponent.list(
            trial_name=self.trial_name,
            created_before=created_before,
            created_after=created_after,
            sort_by=sort_by,
            sort_order=sort_order,
        )

    def save(self) -> Trial:
        self._entity = experiments_backend().update_trial(self.trial_name, self.display_name)
        return self

    def delete(self) -> None:
        experiments_backend().delete_trial(self.trial_name)

    def delete_all(self, action: str) -> None:
        if action != "--force":
            raise ValidationError(
                f"delete_all(action={action!r}) refused: pass action='--force' to delete the "
                "trial with its trial components"
            )
        experiments_backend().delete_trial(self.trial_name, cascade=True)


class TrialComponent(Record):
    """One step of a trial (a training run, a preprocessing job...) and what it logged.

    ``parameters`` is a plain dict of numbers and strings; edit it, or the artifacts,
    display name and status, then call ``save()``.
    """

    def __init__(self, entity: models.TrialComponent) -> None:
        super().__init__(entity)
        self.parameters = {name: p.value for name, p in entity.parameters.items()}
        self.input_artifacts = dict(entity.input_artifacts)
        self.output_artifacts = dict(entity.output_artifacts)
        self.display_name = entity.display_name
        self.status = entity.status
        self.start_time = entity.start_time
        self.end_time = entity.end_time

    @classmethod
    def create(
        cls,
        trial_component_name: str | None = None,
        display_name: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> TrialComponent:
        def create(name: str) -> models.TrialComponent:
            backend = experiments_backend()
            return backend.create_trial_component(name, display_name=display_name, tags=tags)

        if trial_component_name is not None:
            return cls(create(trial_component_name))
        return cls(create_with_generated_name("TrialComponent", create))

    @classmethod
    def load(cls, trial_component_name: str) -> TrialComponent:
        return cls(experiments_backend().get_trial_component(trial_component_name))

    @classmethod
    def list(
        cls,
        source_arn: str | None = None,
        experiment_name: str | None = None,
        trial_name: str | None = None,
        created_before: dt.datetime | None = None,
        created_after: dt.datetime | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> Iterator[TrialComponent]:
        backend = experiments_backend()
        fetch = lambda next_token: backend.list_trial_components(  # noqa: E731
            experiment_name=experiment_name,
            trial_name=trial_name,
            source_arn=source_arn,
            created_after=created_after,
            created_before=created_before,
            sort_by=sort_by,
            sort_order=sort_order,
            max_results=PAGE_SIZE,
            next_token=next_token,
        )
        return (cls(c) for c in pages(fetch))

    @classmethod
    def search(
        cls, search_expression: dict | None = None, **kwargs: Any
    ) -> Iterator[TrialComponent]:
        return search("TrialComponent", search_expression, **kwargs)

    def metric_series(self, metric_name: str) -> list[models.MetricPoint]:
        """Every logged point of one metric, in step order."""
        return experiments_backend().get_metric_series(self.trial_component_name, metric_name)

    def save(self) -> TrialComponent:
        loaded = self._entity
        backend = experiments_backend()
        backend.update_trial_component(
            self.trial_component_name,
            display_name=self.display_name,
            status=self.status,
            start_time=self.start_time,
            end_time=self.end_time,
            parameters=self.parameters,
            parameters_to_remove=[n for n in loaded.parameters if n not in self.parameters],
            input_artifacts=self.input_artifacts,
            input_artifacts_to_remove=[
                n for n in loaded.input_artifacts if n not in self.input_artifacts
            ],
            output_artifacts=self.output_artifacts,
            output_artifacts_to_remove=[
                n for n in loaded.output_artifacts if n not in self.output_artifacts
            ],
        )
        self.__init__(backend.get_trial_component(self.trial_component_name))
        return self

    def delete(self, force_disassociate: bool = False) -> None:
        experiments_backend().delete_trial_component(
            self.trial_component_name, force_disassociate=force_disassociate
        )


def _component_name(value: Any) -> str:
    """Trials accept a name, a TrialComponent or a Tracker, as smexperiments does."""
    if isinstance(value, str):
        return value
    for attribute in ("trial_component_name", "trial_component"):
        found = getattr(value, attribute, None)
        if isinstance(found, str):
            return found
        if found is not None:
            return found.trial_component_name
    raise ValidationError(
        f"{value!r} is not a trial component; pass a name, a TrialComponent or a Tracker"
    )


_WRAPPERS = {"Experiment": Experiment, "Trial": Trial, "TrialComponent": TrialComponent}


def search(
    resource: str,
    search_expression: dict | SearchExpression | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
    max_results: int | None = None,
) -> Iterator[Any]:
    """Experiments, trials or trial components matching a reference search expression.

    Returns an iterator that fetches pages as it goes; ``max_results`` caps the total.
    """
    from slipway.experiments.expressions import Resource

    kind = Resource.parse(resource)
    wrapper = _WRAPPERS[kind.value]
    backend = experiments_backend()
    page_size = min(max_results or PAGE_SIZE, PAGE_SIZE)
    fetch = lambda next_token: backend.search(  # noqa: E731
        kind,
        search_expression=search_expression,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=page_size,
        next_token=next_token,
    )
    return (wrapper(item) for item in pages(fetch, max_results))
