"""Training jobs under the SageMaker script-mode container contract.

The public names load on first use, so the server imports the job models without the SDK.
"""

from __future__ import annotations

from slipway._lazy import lazy_exports

_EXPORTS = {
    "Estimator": "slipway.training.estimator",
    "TrainingJob": "slipway.training.estimator",
    "JobFailed": "slipway.training.estimator",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
