"""Experiment tracking, compatible with the sagemaker-experiments SDK.

The public names load on first use: the server and the stores import this package's
models without paying for pandas and scikit-learn, which the SDK side needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Experiment": "slipway.experiments.sdk",
    "Trial": "slipway.experiments.sdk",
    "TrialComponent": "slipway.experiments.sdk",
    "search": "slipway.experiments.sdk",
    "Tracker": "slipway.experiments.tracker",
    "ExperimentAnalytics": "slipway.experiments.analytics",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'slipway.experiments' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
