"""Batch transform: score whole datasets offline with a hosted model, resumably."""

from __future__ import annotations

from slipway._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {"Transformer": "slipway.transform.sdk", "TransformJob": "slipway.transform.sdk"},
)
