"""Requests and descriptions of baselines, schedules, executions and alerts.

PascalCase on the wire (``MonitoringScheduleName``, ``MonitoringExecutionStatus``...), as
the reference API spells them.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, field_validator, model_validator

from slipway.errors import ValidationError
from slipway.experiments.models import WireModel
from slipway.jobs.models import StatusTransition
from slipway.monitor import schedule as cron
from slipway.monitor.formats import CheckType
from slipway.names import entity_name
from slipway.training.models import CreateTrainingJob
from slipway.wire import Time

SCHEDULE_NAME_LENGTH = 63
# At most 4 digits a part (up to some 28 years): a window so placed stays in the calendar.
_DURATION = re.compile(
    r"(?P<sign>-)?P(?:(?P<d>[0-9]{1,4})D)?"
    r"(?:T(?:(?P<h>[0-9]{1,4})H)?(?:(?P<m>[0-9]{1,4})M)?(?:(?P<s>[0-9]{1,4})S)?)?"
)
# The durations offset() reads, without its empty ones (P, PT), for the OpenAPI schema.
_N = "[0-9]{1,4}"
_DURATION_PATTERN = (
    rf"^-?P(?:{_N}D(?:T(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?"
    rf"|T(?:{_N}H(?:{_N}M)?(?:{_N}S)?|{_N}M(?:{_N}S)?|{_N}S))$"
)


def _expression(value: str) -> str:
    cron.parse(value)
    return value


def _duration(value: str) -> str:
    offset(value)
    return value


def offset(value: str) -> dt.timedelta:
    """An ISO-8601 duration such as ``-PT1H`` as a time delta."""
    found = _DURATION.fullmatch(value.strip())
    if not found or value.strip() in ("P", "-P", "PT", "-PT"):
        raise ValidationError(
            f"offset {value!r} is not an ISO-8601 duration with at most 4 digits a part; "
            "write for example -PT1H or -P1DT2H"
        )
    parts = {k: int(v or 0) for k, v in found.groupdict().items() if k != "sign"}
    delta = dt.timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
    return -delta if found.group("sign") else delta


ScheduleExpression = Annotated[
    str,
    AfterValidator(_expression),
    WithJsonSchema({"type": "string", "pattern": cron.EXPRESSION_PATTERN}),
]
Duration = Annotated[
    str, AfterValidator(_duration), WithJsonSchema({"type": "string", "pattern": _DURATION_PATTERN})
]
ScheduleName = entity_name("monitoring schedule name", SCHEDULE_NAME_LENGTH)
EndpointName = entity_name("endpoint name")
Uri = Annotated[str, Field(min_length=1, max_length=1024)]


class MonitoringType(StrEnum):
    DATA_QUALITY = "DataQuality"
    MODEL_QUALITY = "ModelQuality"


class ProblemType(StrEnum):
    BINARY = "BinaryClassification"
    MULTICLASS = "MulticlassClassification"
    REGRESSION = "Regression"


class ScheduleStatus(StrEnum):
    PENDING = "Pending"
    FAILED = "Failed"
    SCHEDULED = "Scheduled"
    STOPPED = "Stopped"


class ExecutionStatus(StrEnum):
    PENDING = "Pending"
    COMPLETED = "Completed"
    COMPLETED_WITH_VIOLATIONS = "CompletedWithViolations"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class ModelQualityConfig(WireModel):
    """How to read predictions and labels for a model-quality baseline or schedule."""

    problem_type: ProblemType
    inference_attribute: str | None = Field(
        default=None,
        description="JSON key or CSV position (0-based) of the predicted label or value.",
    )
    probability_attribute: str | None = Field(
        default=None, description="JSON key or CSV position of the positive-class probability."
    )
    probability_threshold_attribute: Annotated[float, Field(gt=0, lt=1)] = 0.5
    ground_truth_attribute: str | None = Field(
        default=None, description="Column of the label in a baseline data set."
    )


class SuggestBaseline(WireModel):
    baseline_dataset: Uri
    dataset_format: dict[str, Any] | str = "csv"
    output_uri: Uri
    monitoring_type: MonitoringType = MonitoringType.DATA_QUALITY
    model_quality: ModelQualityConfig | None = None


class BaselineResult(WireModel):
    statistics_uri: str
    constraints_uri: str
    item_count: int
    feature_count: int


AlertCondition = Literal["AnyViolation", "CheckType", "FeatureDrift", "ExecutionFailed"]
AlertChannel = Literal["Webhook", "Email", "Log"]


class AlertRule(WireModel):
    """When an execution should tell someone, and whom."""

    alert_name: Annotated[str, Field(min_length=1, max_length=120)]
    condition: AlertCondition = "AnyViolation"
    check_type: CheckType | None = None
    feature_name: str | None = None
    drift_threshold: Annotated[float, Field(ge=0)] | None = None
    channel: AlertChannel = "Log"
    webhook_url: Annotated[str, Field(max_length=2048)] | None = None
    email_to: list[str] = []
    email_from: str = "slipway@localhost"
    smtp_host: str = "127.0.0.1"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25

    @model_validator(mode="after")
    def _complete(self) -> AlertRule:
        if self.condition == "CheckType" and self.check_type is None:
            raise ValidationError(f"alert {self.alert_name!r}: condition CheckType needs CheckType")
        if self.condition == "FeatureDrift" and (
            self.feature_name is None or self.drift_threshold is None
        ):
            raise ValidationError(
                f"alert {self.alert_name!r}: condition FeatureDrift needs FeatureName and "
                "DriftThreshold"
            )
        if self.channel == "Webhook" and not (self.webhook_url or "").startswith(
            ("http://", "https://")
        ):
            raise ValidationError(
                f"alert {self.alert_name!r}: a Webhook alert needs an http(s) WebhookUrl, "
                f"got {self.webhook_url!r}"
            )
        if self.channel == "Email" and not self.email_to:
            raise ValidationError(f"alert {self.alert_name!r}: an Email alert needs EmailTo")
        return self


class RetrainingTrigger(WireModel):
    """A training job to start when an execution finds violations."""

    training_job_definition: CreateTrainingJob
    trigger_on: list[CheckType] = Field(
        default=[], description="Check types that trigger it; empty means any violation."
    )


class CreateMonitoringSchedule(WireModel):
    monitoring_schedule_name: ScheduleName
    endpoint_name: EndpointName
    output_uri: Uri
    statistics_uri: Uri | None = None
    constraints_uri: Uri | None = None
    schedule_expression: ScheduleExpression = "cron(0 * ? * * *)"
    data_analysis_start_time: Duration | None = Field(
        default=None, description="For NOW: window start relative to now, e.g. -PT1H."
    )
    data_analysis_end_time: Duration | None = None
    data_capture_uri: Uri | None = Field(
        default=None, description="The endpoint's capture destination (DestinationS3Uri)."
    )
    record_preprocessor_script: Uri | None = None
    post_analytics_processor_script: Uri | None = None
    enable_cloudwatch_metrics: bool = True
    monitoring_type: MonitoringType = MonitoringType.DATA_QUALITY
    model_quality: ModelQualityConfig | None = None
    ground_truth_uri: Uri | None = None
    alert_rules: Annotated[list[AlertRule], Field(max_length=50)] = []
    retraining: RetrainingTrigger | None = None

    @model_validator(mode="after")
    def _quality(self) -> CreateMonitoringSchedule:
        if self.monitoring_type == MonitoringType.MODEL_QUALITY and (
            self.model_quality is None or self.ground_truth_uri is None
        ):
            raise ValidationError(
                "a ModelQuality schedule needs ModelQuality (the problem type) and GroundTruthUri"
            )
        return self


class UpdateMonitoringSchedule(WireModel):
    schedule_expression: ScheduleExpression | None = None
    statistics_uri: Uri | None = None
    constraints_uri: Uri | None = None
    alert_rules: list[AlertRule] | None = None
    retraining: RetrainingTrigger | None = None


class StartExecution(WireModel):
    """Run one execution now, over a window given by hand."""

    data_analysis_start_time: Time
    data_analysis_end_time: Time

    @field_validator("data_analysis_start_time", "data_analysis_end_time")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    @model_validator(mode="after")
    def _ordered(self) -> StartExecution:
        if self.data_analysis_end_time <= self.data_analysis_start_time:
            raise ValidationError(
                f"the window ends ({self.data_analysis_end_time.isoformat()}) before it starts "
                f"({self.data_analysis_start_time.isoformat()}); swap them"
            )
        return self


class MonitoringExecution(WireModel):
    """DescribeMonitoringExecution: MonitoringExecutionSummary plus the result files."""

    monitoring_execution_name: str
    monitoring_schedule_name: str
    endpoint_name: str
    monitoring_type: MonitoringType
    monitoring_execution_status: ExecutionStatus
    scheduled_time: dt.datetime
    data_analysis_start_time: dt.datetime
    data_analysis_end_time: dt.datetime
    creation_time: dt.datetime
    last_modified_time: dt.datetime
    end_time: dt.datetime | None = None
    failure_reason: str | None = None
    exit_message: str | None = None
    statistics_uri: str | None = None
    constraint_violations_uri: str | None = None
    report_uri: str | None = None
    violation_count: int | None = None
    record_count: int | None = None
    unparseable_record_count: int | None = None
    retraining_job_name: str | None = None
    secondary_status_transitions: list[StatusTransition] = []


class MonitoringSchedule(WireModel):
    monitoring_schedule_name: str
    monitoring_schedule_status: ScheduleStatus
    endpoint_name: str
    monitoring_type: MonitoringType
    creation_time: dt.datetime
    last_modified_time: dt.datetime
    failure_reason: str | None = None
    next_scheduled_time: dt.datetime | None = None
    monitoring_schedule_config: CreateMonitoringSchedule
    last_monitoring_execution_summary: MonitoringExecution | None = None


class DeliveryStatus(StrEnum):
    PENDING = "Pending"
    DELIVERED = "Delivered"
    FAILED = "Failed"


class AlertDelivery(WireModel):
    delivery_id: int
    alert_name: str
    channel: AlertChannel
    target: str
    monitoring_execution_name: str
    monitoring_schedule_name: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None = None
    creation_time: dt.datetime
    delivered_time: dt.datetime | None = None
    next_attempt_time: dt.datetime | None = None
    payload: dict[str, Any]


class GroundTruthRecord(WireModel):
    """One label: the event (or inference) id it belongs to, and the true value."""

    event_id: Annotated[str, Field(min_length=1, max_length=256)]
    label: str | int | float | bool


class PutGroundTruth(WireModel):
    ground_truth_uri: Uri
    records: Annotated[list[GroundTruthRecord], Field(min_length=1, max_length=100_000)]
    collection_time: Time | None = None
