"""The Model Monitor SDK, shaped like the SageMaker Python SDK's ``model_monitor``.

``DefaultModelMonitor().suggest_baseline(baseline_dataset=..., dataset_format=
DatasetFormat.csv(header=True), output_s3_uri=...)`` then ``create_monitoring_schedule(
endpoint_input=..., statistics=monitor.baseline_statistics(), constraints=
monitor.suggested_constraints(), schedule_cron_expression=CronExpressionGenerator.hourly())``.
The same code runs embedded or against a server; URIs may be any artifact URI.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from slipway.monitor.models import (
    AlertRule,
    BaselineResult,
    CreateMonitoringSchedule,
    ModelQualityConfig,
    MonitoringExecution,
    MonitoringSchedule,
    MonitoringType,
    RetrainingTrigger,
    StartExecution,
    SuggestBaseline,
    UpdateMonitoringSchedule,
)
from slipway.names import generate_name
from slipway.settings import get_settings


def monitor_backend() -> Any:
    """The MonitorService (embedded) or its HTTP client (remote), as the settings say."""
    settings = get_settings()
    if settings.server_url:
        from slipway.monitor.client import remote_monitor

        return remote_monitor(settings.server_url, settings.token)
    from slipway.platform import services

    return services(settings).monitor


class DatasetFormat:
    """The reference's dataset_format dicts."""

    @staticmethod
    def csv(header: bool = True) -> dict[str, Any]:
        return {"csv": {"header": header}}

    @staticmethod
    def json(lines: bool = True) -> dict[str, Any]:
        return {"json": {"lines": lines}}

    @staticmethod
    def parquet() -> dict[str, Any]:
        return {"parquet": {}}


@dataclass
class BaselineFile:
    """A baseline's statistics or constraints: where it is and what it says."""

    file_s3_uri: str
    backend: Any = None

    @property
    def body_dict(self) -> dict[str, Any]:
        import fsspec

        with fsspec.open(self.file_s3_uri, "rb") as stream:
            return json.loads(stream.read())


def _uri(value: str | BaselineFile | None) -> str | None:
    return value.file_s3_uri if isinstance(value, BaselineFile) else value


class DefaultModelMonitor:
    """Data-quality monitoring of an endpoint's captured data."""

    monitoring_type = MonitoringType.DATA_QUALITY

    def __init__(self, role: str | None = None, **_resources: Any) -> None:
        # role, instance_count, instance_type, volume_size_in_gb, max_runtime_in_seconds:
        # accepted so reference code runs unchanged; a local platform has no use for them.
        self.role = role
        self.backend = monitor_backend()
        self.latest_baselining_result: BaselineResult | None = None
        self.monitoring_schedule_name: str | None = None

    # --- baselines ----------------------------------------------------------------------

    def suggest_baseline(
        self,
        baseline_dataset: str,
        dataset_format: dict[str, Any] | str | None = None,
        output_s3_uri: str | None = None,
        wait: bool = True,
        logs: bool = False,
        **_ignored: Any,
    ) -> BaselineResult:
        request = SuggestBaseline(
            baseline_dataset=baseline_dataset,
            dataset_format=dataset_format or DatasetFormat.csv(header=True),
            output_uri=output_s3_uri or _default_output("baselines"),
            monitoring_type=self.monitoring_type,
            model_quality=self._quality_config(),
        )
        self.latest_baselining_result = self.backend.suggest_baseline(request)
        return self.latest_baselining_result

    def baseline_statistics(self) -> BaselineFile | None:
        found = self.latest_baselining_result
        return BaselineFile(found.statistics_uri) if found else None

    def suggested_constraints(self) -> BaselineFile | None:
        found = self.latest_baselining_result
        return BaselineFile(found.constraints_uri) if found else None

    def _quality_config(self) -> ModelQualityConfig | None:
        return None

    # --- schedules ----------------------------------------------------------------------

    def create_monitoring_schedule(
        self,
        endpoint_input: str,
        output_s3_uri: str | None = None,
        statistics: str | BaselineFile | None = None,
        constraints: str | BaselineFile | None = None,
        monitor_schedule_name: str | None = None,
        schedule_cron_expression: str | None = None,
        record_preprocessor_script: str | None = None,
        post_analytics_processor_script: str | None = None,
        enable_cloudwatch_metrics: bool = True,
        data_capture_uri: str | None = None,
        alert_rules: list[AlertRule | dict[str, Any]] | None = None,
        retraining: RetrainingTrigger | dict[str, Any] | None = None,
        data_analysis_start_time: str | None = None,
        data_analysis_end_time: str | None = None,
        **extra: Any,
    ) -> MonitoringSchedule:
        name = monitor_schedule_name or generate_name("monitoring-schedule")
        request = CreateMonitoringSchedule(
            monitoring_schedule_name=name,
            endpoint_name=getattr(endpoint_input, "endpoint_name", endpoint_input),
            output_uri=output_s3_uri or _default_output("monitoring"),
            statistics_uri=_uri(
                statistics if statistics is not None else self.baseline_statistics()
            ),
            constraints_uri=_uri(
                constraints if constraints is not None else self.suggested_constraints()
            ),
            schedule_expression=schedule_cron_expression or "cron(0 * ? * * *)",
            record_preprocessor_script=record_preprocessor_script,
            post_analytics_processor_script=post_analytics_processor_script,
            enable_cloudwatch_metrics=enable_cloudwatch_metrics,
            data_capture_uri=data_capture_uri,
            alert_rules=[
                AlertRule.model_validate(r) if isinstance(r, dict) else r for r in alert_rules or []
            ],
            retraining=(
                RetrainingTrigger.model_validate(retraining)
                if isinstance(retraining, dict)
                else retraining
            ),
            data_analysis_start_time=data_analysis_start_time,
            data_analysis_end_time=data_analysis_end_time,
            monitoring_type=self.monitoring_type,
            **extra,
        )
        found = self.backend.create_monitoring_schedule(request)
        self.monitoring_schedule_name = name
        return found

    def describe_schedule(self) -> MonitoringSchedule:
        return self.backend.describe_monitoring_schedule(self._name())

    def update_monitoring_schedule(self, **changes: Any) -> MonitoringSchedule:
        return self.backend.update_monitoring_schedule(
            self._name(), UpdateMonitoringSchedule(**changes)
        )

    def stop_monitoring_schedule(self) -> MonitoringSchedule:
        return self.backend.stop_monitoring_schedule(self._name())

    def start_monitoring_schedule(self) -> MonitoringSchedule:
        return self.backend.start_monitoring_schedule(self._name())

    def delete_monitoring_schedule(self) -> None:
        self.backend.delete_monitoring_schedule(self._name())
        self.monitoring_schedule_name = None

    # --- executions ---------------------------------------------------------------------

    def run_execution(
        self, start: dt.datetime, end: dt.datetime, wait: bool = True, timeout: float = 300
    ) -> MonitoringExecution:
        """Run one execution now over a window given by hand (also how tests drive it)."""
        found = self.backend.start_monitoring_execution(
            self._name(),
            StartExecution(data_analysis_start_time=start, data_analysis_end_time=end),
        )
        if wait:
            return self.backend.wait_for_execution(found.monitoring_execution_name, timeout)
        return found

    def list_executions(self) -> list[MonitoringExecution]:
        """Executions of this schedule, oldest first (as the reference SDK returns them)."""
        items: list[MonitoringExecution] = []
        token = None
        while True:
            page = self.backend.list_monitoring_executions(
                schedule_name=self._name(), max_results=1000, next_token=token
            )
            items.extend(page.items)
            token = page.next_token
            if not token:
                return list(reversed(items))

    def latest_monitoring_statistics(self) -> dict[str, Any] | None:
        return self._latest_file("statistics.json")

    def latest_monitoring_constraint_violations(self) -> dict[str, Any] | None:
        return self._latest_file("constraint_violations.json")

    def _latest_file(self, file_name: str) -> dict[str, Any] | None:
        executions = self.list_executions()
        if not executions:
            return None
        latest = executions[-1].monitoring_execution_name
        return json.loads(self.backend.read_execution_file(latest, file_name))

    def _name(self) -> str:
        if not self.monitoring_schedule_name:
            from slipway.errors import ValidationError

            raise ValidationError(
                "this monitor has no schedule yet; call create_monitoring_schedule first"
            )
        return self.monitoring_schedule_name


class ModelQualityMonitor(DefaultModelMonitor):
    """Model-quality monitoring: predictions joined with ground truth labels."""

    monitoring_type = MonitoringType.MODEL_QUALITY

    def __init__(self, role: str | None = None, **resources: Any) -> None:
        super().__init__(role, **resources)
        self._config: ModelQualityConfig | None = None

    def suggest_baseline(  # type: ignore[override]
        self,
        baseline_dataset: str,
        dataset_format: dict[str, Any] | str | None = None,
        output_s3_uri: str | None = None,
        problem_type: str = "BinaryClassification",
        inference_attribute: str | None = None,
        probability_attribute: str | None = None,
        probability_threshold_attribute: float = 0.5,
        ground_truth_attribute: str | None = None,
        **ignored: Any,
    ) -> BaselineResult:
        self._config = ModelQualityConfig(
            problem_type=problem_type,
            inference_attribute=inference_attribute,
            probability_attribute=probability_attribute,
            probability_threshold_attribute=probability_threshold_attribute,
            ground_truth_attribute=ground_truth_attribute,
        )
        return super().suggest_baseline(baseline_dataset, dataset_format, output_s3_uri, **ignored)

    def _quality_config(self) -> ModelQualityConfig | None:
        return self._config

    def create_monitoring_schedule(  # type: ignore[override]
        self,
        endpoint_input: str,
        ground_truth_input: str,
        problem_type: str | None = None,
        inference_attribute: str | None = None,
        probability_attribute: str | None = None,
        probability_threshold_attribute: float | None = None,
        **kwargs: Any,
    ) -> MonitoringSchedule:
        base = self._config.model_dump() if self._config else {}
        given = {
            "problem_type": problem_type,
            "inference_attribute": inference_attribute,
            "probability_attribute": probability_attribute,
            "probability_threshold_attribute": probability_threshold_attribute,
        }
        config = ModelQualityConfig.model_validate(
            {**base, **{k: v for k, v in given.items() if v is not None}}
        )
        kwargs.setdefault("statistics", None)
        return super().create_monitoring_schedule(
            endpoint_input, model_quality=config, ground_truth_uri=ground_truth_input, **kwargs
        )


def _default_output(kind: str) -> str:
    backend = monitor_backend()
    artifacts = getattr(backend, "artifacts", None)
    if artifacts is not None:
        return artifacts.uri_for(f"model-monitor/{kind}/{generate_name(kind)}")
    from slipway.errors import ValidationError

    raise ValidationError(f"pass output_s3_uri: a server needs a URI it can write the {kind} to")
