"""Training jobs under the SageMaker script-mode container contract.

The public names load on first use, so the server imports the job models without the SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Estimator": "slipway.training.estimator",
    "TrainingJob": "slipway.training.estimator",
    "JobFailed": "slipway.training.estimator",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'slipway.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
