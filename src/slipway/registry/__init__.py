"""The model registry: model package groups, numbered versions, approval and lineage.

The public names load on first use, so the server imports this package's routes and
models without the SDK.
"""

from __future__ import annotations

from slipway._lazy import lazy_exports

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
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
