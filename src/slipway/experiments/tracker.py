"""Tracker: log parameters, metrics, inputs, outputs and artifacts of one trial component.

Used as a context manager it marks the component InProgress on entry and Completed (or
Failed, with the exception's message) on exit. Parameters and inputs/outputs are kept in
memory and saved at ``close()``; metric points go through a background buffer so that
``log_metric`` costs microseconds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slipway.errors import ValidationError
from slipway.experiments._buffer import MetricBuffer
from slipway.experiments.models import (
    MAX_TIMESTAMP,
    Artifact,
    PrimaryStatus,
    TrialComponentStatus,
)
from slipway.experiments.sdk import TrialComponent
from slipway.names import check_key, create_with_generated_name
from slipway.platform import experiments_backend
from slipway.settings import get_settings

# A training job sets this so `Tracker.load()` with no name finds the job's own component.
JOB_COMPONENT_VARIABLE = "SLIPWAY_TRIAL_COMPONENT_NAME"


class Tracker:
    """Logs what one trial component did."""

    def __init__(self, trial_component: TrialComponent, *, manage_status: bool) -> None:
        self.trial_component = trial_component
        self._backend = experiments_backend()
        self._manage_status = manage_status
        self._parameters: dict[str, float | str] = {}
        self._inputs: dict[str, Artifact] = {}
        self._outputs: dict[str, Artifact] = {}
        self._metrics = MetricBuffer(
            trial_component.trial_component_name,
            self._backend.log_metrics,
            get_settings().metric_flush_interval,
        )
        self._closed = False
        self._metric_names: set[str] = set()

    @classmethod
    def create(
        cls, display_name: str | None = None, base_trial_component_name: str = "TrialComponent"
    ) -> Tracker:
        """A tracker for a new trial component named ``<base>-<time>-<random>``."""
        backend = experiments_backend()
        entity = create_with_generated_name(
            base_trial_component_name,
            lambda name: backend.create_trial_component(
                name, display_name=display_name, start_time=dt.datetime.now(dt.UTC)
            ),
        )
        return cls(TrialComponent(entity), manage_status=True)

    @classmethod
    def load(cls, trial_component_name: str | None = None) -> Tracker:
        """A tracker for an existing component; with no name, the running job's own."""
        in_job = trial_component_name is None
        name = trial_component_name or os.environ.get(JOB_COMPONENT_VARIABLE)
        if not name:
            raise ValidationError(
                "Tracker.load() needs trial_component_name= outside a training job "
                f"(inside one, {JOB_COMPONENT_VARIABLE} names the job's component)"
            )
        # Inside a job the job runner owns status and times; outside, the tracker does.
        return cls(TrialComponent.load(name), manage_status=not in_job)

    @property
    def trial_component_name(self) -> str:
        return self.trial_component.trial_component_name

    # --- context ----------------------------------------------------------------------

    def __enter__(self) -> Tracker:
        if self._manage_status:
            self.trial_component.status = TrialComponentStatus(
                primary_status=PrimaryStatus.IN_PROGRESS
            )
            self.trial_component.start_time = self.trial_component.start_time or dt.datetime.now(
                dt.UTC
            )
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._manage_status:
            self.trial_component.end_time = dt.datetime.now(dt.UTC)
            if exc is None:
                status = TrialComponentStatus(primary_status=PrimaryStatus.COMPLETED)
            else:
                status = TrialComponentStatus(
                    primary_status=PrimaryStatus.FAILED, message=str(exc)[:1024] or None
                )
            self.trial_component.status = status
        self.close()

    # --- parameters, inputs, outputs --------------------------------------------------

    def log_parameter(self, name: str, value: float | int | str) -> None:
        check_key("parameter name", name)
        if not isinstance(value, int | float | str) or isinstance(value, bool):
            raise ValidationError(
                f"parameter {name!r} has value {value!r} of type {type(value).__name__}; "
                "log a number or a string"
            )
        self._parameters[name] = value

    def log_parameters(self, parameters: dict[str, float | int | str]) -> None:
        for name, value in parameters.items():
            self.log_parameter(name, value)

    def log_input(self, name: str, value: str, media_type: str | None = None) -> None:
        self._inputs[check_key("input name", name)] = Artifact(value=value, media_type=media_type)

    def log_output(self, name: str, value: str, media_type: str | None = None) -> None:
        self._outputs[check_key("output name", name)] = Artifact(value=value, media_type=media_type)

    # --- metrics ----------------------------------------------------------------------

    def log_metric(
        self,
        metric_name: str,
        value: float,
        timestamp: float | dt.datetime | None = None,
        iteration_number: int | None = None,
    ) -> None:
        """Record one metric value; returns at once, the write happens in the background."""
        # The rules of MetricPoint, checked here: a point the store refuses later, in the
        # background, would hold up every point of its batch.
        if metric_name not in self._metric_names:  # a name is checked once per tracker
            self._metric_names.add(check_key("metric name", metric_name, 255))
        if isinstance(timestamp, dt.datetime):
            if timestamp.tzinfo is None:  # the store reads naive times as UTC; so do we
                timestamp = timestamp.replace(tzinfo=dt.UTC)
            timestamp = timestamp.timestamp()
        stamp = time.time() if timestamp is None else float(timestamp)
        if not 0 <= stamp <= MAX_TIMESTAMP:
            raise ValidationError(
                f"metric {metric_name!r}: timestamp {stamp!r} is not seconds since the epoch "
                "between 1970 and 9999"
            )
        step = None if iteration_number is None else int(iteration_number)
        if step is not None and not -(2**63) <= step < 2**63:
            raise ValidationError(
                f"metric {metric_name!r}: iteration number {step} does not fit 64 bits"
            )
        self._metrics.append(metric_name, float(value), stamp, step)

    # --- artifacts --------------------------------------------------------------------

    def log_artifact(
        self, file_path: str | os.PathLike, name: str | None = None, media_type: str | None = None
    ) -> Artifact:
        """Upload a file to the artifact store and record it as an output artifact."""
        path = Path(file_path)
        if not path.is_file():
            raise ValidationError(f"log_artifact: {str(path)!r} is not a file")
        with path.open("rb") as stream:
            chunks = iter(lambda: stream.read(1024 * 1024), b"")
            # The store records the output artifact on the component as it uploads.
            return self._backend.upload_artifact(
                self.trial_component_name, name or path.name, chunks, media_type
            )

    def _log_json(self, name: str, document: dict[str, Any]) -> Artifact:
        """Upload a chart document; the chart methods import scikit-learn only when used."""
        body = json.dumps(document, allow_nan=False).encode()
        return self._backend.upload_artifact(
            self.trial_component_name, name, [body], "application/json"
        )

    def log_table(
        self,
        title: str | None = None,
        values: dict[str, Sequence] | None = None,
        data_frame: Any = None,
    ) -> Artifact:
        from slipway.experiments import charts

        return self._log_json(title or "table", charts.table(title, values, data_frame))

    def log_confusion_matrix(
        self, y_true: Sequence, y_pred: Sequence, title: str | None = None
    ) -> Artifact:
        from slipway.experiments import charts

        name = title or "confusion-matrix"
        return self._log_json(name, charts.confusion_matrix(y_true, y_pred, title))

    def log_roc_curve(
        self, y_true: Sequence, y_score: Sequence, title: str | None = None
    ) -> Artifact:
        from slipway.experiments import charts

        return self._log_json(title or "roc-curve", charts.roc_curve(y_true, y_score, title))

    def log_precision_recall(
        self,
        y_true: Sequence,
        predicted_probabilities: Sequence,
        positive_label: Any = None,
        title: str | None = None,
    ) -> Artifact:
        from slipway.experiments import charts

        document = charts.precision_recall(y_true, predicted_probabilities, positive_label, title)
        return self._log_json(title or "precision-recall", document)

    # --- closing ----------------------------------------------------------------------

    def flush(self) -> None:
        """Block until every metric logged so far is stored."""
        self._metrics.flush()

    def close(self) -> None:
        """Write everything: parameters, inputs, outputs, status and buffered metrics."""
        if self._closed:
            return
        component = self.trial_component
        self._backend.update_trial_component(
            self.trial_component_name,
            status=component.status if self._manage_status else None,
            start_time=component.start_time if self._manage_status else None,
            end_time=component.end_time if self._manage_status else None,
            parameters=self._parameters,
            input_artifacts=self._inputs,
            output_artifacts=self._outputs,
            metrics=self._metrics.take_rest(),
        )
        self._closed = True
