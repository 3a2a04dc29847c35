"""ExperimentAnalytics: trial components as a pandas table, one row per component."""

from __future__ import annotations

from typing import Any

import pandas as pd

from slipway.errors import ValidationError
from slipway.experiments.sdk import search

_STATS = ("Min", "Max", "Avg", "StdDev", "Last", "Count")


class ExperimentAnalytics:
    """The reference analytics table over the components of an experiment or a search."""

    def __init__(
        self,
        experiment_name: str | None = None,
        search_expression: dict | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        metric_names: list[str] | None = None,
        parameter_names: list[str] | None = None,
    ) -> None:
        if experiment_name is None and search_expression is None:
            raise ValidationError(
                "ExperimentAnalytics needs experiment_name= or search_expression="
            )
        self._experiment_name = experiment_name
        self._search_expression = search_expression
        self._sort_by = sort_by
        self._sort_order = sort_order
        self._metric_names = metric_names
        self._parameter_names = parameter_names
        self._dataframe: pd.DataFrame | None = None

    def _expression(self) -> dict[str, Any]:
        expression = dict(self._search_expression or {})
        if self._experiment_name is not None:
            parent = {
                "Name": "Parents.ExperimentName",
                "Operator": "Equals",
                "Value": self._experiment_name,
            }
            expression["Filters"] = [*expression.get("Filters", []), parent]
        return expression

    def dataframe(self, force_refresh: bool = False) -> pd.DataFrame:
        if self._dataframe is None or force_refresh:
            components = search(
                "TrialComponent", self._expression(), self._sort_by, self._sort_order
            )
            self._dataframe = pd.DataFrame([self._row(c) for c in components])
        return self._dataframe

    def _row(self, component: Any) -> dict[str, Any]:
        entity = component._entity
        row: dict[str, Any] = {
            "TrialComponentName": entity.trial_component_name,
            "DisplayName": entity.display_name,
        }
        if entity.source is not None:
            row["SourceArn"] = entity.source.source_arn
        for name in sorted(entity.parameters):
            if self._parameter_names is None or name in self._parameter_names:
                row[name] = entity.parameters[name].value
        for summary in entity.metrics:
            if self._metric_names is not None and summary.metric_name not in self._metric_names:
                continue
            for stat in _STATS:
                value = getattr(summary, _attribute(stat))
                if value is not None:
                    row[f"{summary.metric_name} - {stat}"] = value
        for artifacts in (entity.input_artifacts, entity.output_artifacts):
            for name, artifact in artifacts.items():
                row[f"{name} - Value"] = artifact.value
                if artifact.media_type:
                    row[f"{name} - MediaType"] = artifact.media_type
        row["Trials"] = [p.trial_name for p in entity.parents]
        row["Experiments"] = sorted({p.experiment_name for p in entity.parents})
        return row


def _attribute(stat: str) -> str:
    return "std_dev" if stat == "StdDev" else stat.lower()
