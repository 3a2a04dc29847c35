"""Model Monitor: baselines, scheduled monitoring of captured data, violations, alerts,
retraining and model quality, in the reference's file formats."""

from __future__ import annotations

from slipway._lazy import lazy_exports

_MODELS = "slipway.monitor.models"
_SDK = "slipway.monitor.sdk"
__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "AlertRule": _MODELS,
        "ExecutionStatus": _MODELS,
        "ModelQualityConfig": _MODELS,
        "MonitoringExecution": _MODELS,
        "MonitoringSchedule": _MODELS,
        "RetrainingTrigger": _MODELS,
        "CronExpressionGenerator": "slipway.monitor.schedule",
        "BaselineFile": _SDK,
        "DatasetFormat": _SDK,
        "DefaultModelMonitor": _SDK,
        "ModelQualityMonitor": _SDK,
        "monitor_backend": _SDK,
    },
)
