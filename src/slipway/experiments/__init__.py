"""Experiment tracking, compatible with the sagemaker-experiments SDK.

The public names load on first use: the server and the stores import this package's
models without paying for pandas and scikit-learn, which the SDK side needs.
"""

from __future__ import annotations

from slipway._lazy import lazy_exports

_EXPORTS = {
    "Experiment": "slipway.experiments.sdk",
    "Trial": "slipway.experiments.sdk",
    "TrialComponent": "slipway.experiments.sdk",
    "search": "slipway.experiments.sdk",
    "Tracker": "slipway.experiments.tracker",
    "ExperimentAnalytics": "slipway.experiments.analytics",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
