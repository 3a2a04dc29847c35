"""Hyperparameter tuning jobs on Optuna, compatible with the SageMaker tuner's API.

The public names load on first use, so the server imports the models without Optuna's
samplers and pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "HyperparameterTuner": "slipway.tuning.tuner",
    "IntegerParameter": "slipway.tuning.tuner",
    "ContinuousParameter": "slipway.tuning.tuner",
    "CategoricalParameter": "slipway.tuning.tuner",
    "WarmStartConfig": "slipway.tuning.tuner",
    "WarmStartTypes": "slipway.tuning.tuner",
    "HyperparameterTuningJobAnalytics": "slipway.tuning.analytics",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'slipway.tuning' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
