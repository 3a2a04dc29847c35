"""Autopilot: transparent AutoML with generated notebooks, its candidates as trials."""

from __future__ import annotations

from slipway.automl.sdk import AutoML

__all__ = ["AutoML"]
