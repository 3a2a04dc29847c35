"""Loading models and predicting with them: one module for endpoints, batch transform,
SQL functions and AutoML.

``load_model(uri_or_path)`` returns a ``LoadedModel`` whatever the flavour (scikit-learn
via skops, XGBoost, LightGBM, ONNX, trusted pickles, or custom ``code/inference.py``).
"""

from __future__ import annotations

from slipway.inference.errors import (
    BadPayload,
    InferenceError,
    InsufficientMemory,
    ModelLoadError,
    ModelNotFound,
    NotAcceptable,
    PredictionError,
    PredictionTimeout,
    UnsupportedContentType,
    UntrustedModel,
)
from slipway.inference.model import LoadedModel, load_model

__all__ = [
    "BadPayload",
    "InferenceError",
    "InsufficientMemory",
    "LoadedModel",
    "ModelLoadError",
    "ModelNotFound",
    "NotAcceptable",
    "PredictionError",
    "PredictionTimeout",
    "UnsupportedContentType",
    "UntrustedModel",
    "load_model",
]
