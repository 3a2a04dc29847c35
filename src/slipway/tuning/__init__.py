"""Hyperparameter tuning jobs on Optuna, compatible with the SageMaker tuner's API.

The public names load on first use, so the server imports the models without Optuna's
samplers and pandas.
"""

from __future__ import annotations

from slipway._lazy import lazy_exports

_EXPORTS = {
    "HyperparameterTuner": "slipway.tuning.tuner",
    "IntegerParameter": "slipway.tuning.tuner",
    "ContinuousParameter": "slipway.tuning.tuner",
    "CategoricalParameter": "slipway.tuning.tuner",
    "WarmStartConfig": "slipway.tuning.tuner",
    "WarmStartTypes": "slipway.tuning.tuner",
    "HyperparameterTuningJobAnalytics": "slipway.tuning.analytics",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
