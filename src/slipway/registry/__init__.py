"""The model registry: model package groups, numbered versions, approval and lineage.

The public names load on first use, so the server imports this package's routes and
models without the SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

_SDK = "slipway.registry.sdk"
_EXPORTS = {
    "ModelPackageGroup": _SDK,
    "ModelPackage": _SDK,
    "register_model": _SDK,
    "list_model_packages": _SDK,
    "approve": _SDK,
    "reject": _SDK,
    "update_approval": _SDK,
    "latest_approved": _SDK,
    "ModelApprovalStatus": "slipway.registry.models",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'slipway.registry' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
