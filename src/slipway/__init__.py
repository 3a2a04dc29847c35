"""slipway: a self-hosted machine-learning platform.

The public names of every capability are available here too (``slipway.Tracker``,
``slipway.Estimator``...). They load on first use, so ``import slipway`` stays cheap.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from slipway._lazy import lazy_exports

try:
    __version__ = version("slipway")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

_EXPORTS = {
    "Experiment": "slipway.experiments",
    "Trial": "slipway.experiments",
    "TrialComponent": "slipway.experiments",
    "Tracker": "slipway.experiments",
    "ExperimentAnalytics": "slipway.experiments",
    "search": "slipway.experiments",
    "Estimator": "slipway.training",
    "TrainingJob": "slipway.training",
    "HyperparameterTuner": "slipway.tuning",
    "IntegerParameter": "slipway.tuning",
    "ContinuousParameter": "slipway.tuning",
    "CategoricalParameter": "slipway.tuning",
    "ModelPackageGroup": "slipway.registry",
    "ModelPackage": "slipway.registry",
    "register_model": "slipway.registry",
    "Model": "slipway.serving",
    "MultiDataModel": "slipway.serving",
    "Predictor": "slipway.serving",
    "DataCaptureConfig": "slipway.serving",
    "DefaultModelMonitor": "slipway.monitor",
    "ModelQualityMonitor": "slipway.monitor",
    "CronExpressionGenerator": "slipway.monitor",
    "AutoML": "slipway.automl",
    "SlipwayError": "slipway.errors",
}
_names, __getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["__version__", *_names]
