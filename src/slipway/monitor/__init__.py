"""Model Monitor: baselines, scheduled monitoring of captured data, violations, alerts,
retraining and model quality, in the reference's file formats."""

from slipway.monitor.models import (
    AlertRule,
    ExecutionStatus,
    ModelQualityConfig,
    MonitoringExecution,
    MonitoringSchedule,
    RetrainingTrigger,
)
from slipway.monitor.schedule import CronExpressionGenerator
from slipway.monitor.sdk import (
    BaselineFile,
    DatasetFormat,
    DefaultModelMonitor,
    ModelQualityMonitor,
    monitor_backend,
)

__all__ = [
    "AlertRule",
    "BaselineFile",
    "CronExpressionGenerator",
    "DatasetFormat",
    "DefaultModelMonitor",
    "ExecutionStatus",
    "ModelQualityConfig",
    "ModelQualityMonitor",
    "MonitoringExecution",
    "MonitoringSchedule",
    "RetrainingTrigger",
    "monitor_backend",
]
