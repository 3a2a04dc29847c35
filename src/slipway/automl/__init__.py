"""Autopilot: transparent AutoML with generated notebooks, its candidates as trials."""

from __future__ import annotations

from slipway._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {"AutoML": "slipway.automl.sdk"})
