"""Batch transform: score whole datasets offline with a hosted model, resumably."""

from __future__ import annotations

from slipway.transform.sdk import Transformer, TransformJob

__all__ = ["TransformJob", "Transformer"]
