"""``load_model``: the one way slipway turns stored model files into something to call.

Endpoints, batch transform, SQL functions and AutoML all load models here, so a model
behaves the same wherever it runs. A LoadedModel offers two levels:

- ``predict(payload, content_type, accept) -> (body, content_type)``: one request, as an
  inference container answers ``POST /invocations`` (custom code handlers included);
- ``predict_frame(data)``: a vectorised call over a 2-D array or DataFrame, for callers
  that hold rows already (batch scoring, SQL, micro-batches of requests).

``batchable`` says that requests may be stacked: the model has no custom input/output
handlers, so ``decode`` + ``predict_frame`` + ``encode`` is what ``predict`` does.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from slipway.inference import _fetch, codecs, custom, flavours
from slipway.inference.errors import InferenceError, ModelLoadError, PredictionError
from slipway.settings import Settings, get_settings


class LoadedModel:
    """A model ready to predict, with what the serving layer needs to know about it."""

    def __init__(
        self,
        source: str,
        path: Path,
        flavour: flavours.Flavour | None,
        handlers: custom.Handlers | None,
        native: Any,
        environment: dict[str, str],
        load_seconds: float,
    ) -> None:
        self.source = source
        self.path = path
        self.environment = environment
        self.load_seconds = load_seconds
        self._flavour = flavour
        self._handlers = handlers
        self._native = native
        self.flavour = "custom" if handlers is not None else flavour.name  # type: ignore[union-attr]
        self.batchable = handlers is None
        self.default_accept = environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", codecs.JSON)
        files = _fetch.disk_bytes(path)
        if flavour is not None and handlers is None:
            self.nbytes = max(flavour.nbytes, files)
        else:
            self.nbytes = max(files, flavours.object_bytes(native)) + 64 * 1024

    # --- one request ------------------------------------------------------------------

    def predict(
        self, payload: bytes, content_type: str | None, accept: str | None = None
    ) -> tuple[bytes, str]:
        """Answer one request body as an inference container would."""
        if self._handlers is not None:
            chosen = accept if accept and accept != codecs.ANY else self.default_accept
            return self._call_user(
                self._handlers.transform, self._native, payload, content_type or "", chosen
            )
        chosen = codecs.choose_accept(accept, self.default_accept)
        data, wrapped = self.decode(payload, content_type)
        return self.encode(self.predict_frame(data), chosen, wrapped)

    def decode(self, payload: bytes, content_type: str | None) -> tuple[Any, bool]:
        return codecs.decode(payload, content_type)

    def encode(self, prediction: Any, accept: str, wrapped: bool = False) -> tuple[bytes, str]:
        return codecs.encode(prediction, accept, wrapped)

    # --- many rows --------------------------------------------------------------------

    def predict_frame(self, data: Any) -> Any:
        """Predictions for the rows of a 2-D array or DataFrame, one per row."""
        if self._handlers is not None:
            return self._call_user(self._handlers.predict_fn, data, self._native)
        return self._call_user(self._flavour.predict, data)  # type: ignore[union-attr]

    @staticmethod
    def _call_user(function: Any, *args: Any) -> Any:
        try:
            return function(*args)
        except InferenceError:
            raise
        except Exception as error:
            raise PredictionError(f"{type(error).__name__}: {error}") from error

    # --- description ------------------------------------------------------------------

    def inputs(self) -> list[flavours.Tensor]:
        if self._flavour is not None:
            return self._flavour.inputs()
        return [flavours.Tensor("input-0", "FP64", [-1, -1])]

    def outputs(self) -> list[flavours.Tensor]:
        if self._flavour is not None and self._handlers is None:
            return self._flavour.outputs()
        return [flavours.Tensor("output-0", "FP64", [-1])]

    def __repr__(self) -> str:
        return f"LoadedModel({self.source!r}, flavour={self.flavour!r}, nbytes={self.nbytes})"


def load_model(
    uri_or_path: str | Path,
    *,
    environment: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> LoadedModel:
    """Load the model at a URI or path: a folder, a model file, or a ``model.tar.gz``.

    ``environment`` is the model's container environment (``SAGEMAKER_PROGRAM``,
    ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``...).
    """
    started = time.perf_counter()
    settings = settings or get_settings()
    environment = dict(environment or {})
    source = str(uri_or_path)
    path = _fetch.materialise(source, settings)
    detected = flavours.detect(path)
    module_path = custom.find_module(path, environment)
    flavour = None
    if detected is not None and module_path is None:
        flavour = flavours.load(detected[0], detected[1], source, settings)
        return LoadedModel(
            source, path, flavour, None, None, environment, time.perf_counter() - started
        )
    if module_path is None:
        raise ModelLoadError(
            f"no model found in {source!r}: expected a .skops, XGBoost .json/.ubj, LightGBM "
            ".txt, .onnx or (trusted) pickle file, or code/inference.py with model_fn"
        )
    return _load_custom(source, path, module_path, detected, environment, settings, started)


def _load_custom(
    source: str,
    path: Path,
    module_path: Path,
    detected: tuple[str, Path] | None,
    environment: dict[str, str],
    settings: Settings,
    started: float,
) -> LoadedModel:
    context = custom.Context(model_dir=str(path), environment=environment)
    flavour: flavours.Flavour | None = None

    def default_model_fn(_model_dir: str, *_context: Any) -> Any:
        nonlocal flavour
        assert detected is not None
        flavour = flavours.load(detected[0], detected[1], source, settings)
        return flavour.estimator if isinstance(flavour, flavours.EstimatorFlavour) else flavour

    module = custom.import_module(module_path)
    default_accept = environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", codecs.JSON)
    handlers = custom.Handlers(
        module, context, default_model_fn if detected else None, default_accept
    )
    try:
        native = handlers.model_fn(str(path))
    except InferenceError:
        raise
    except Exception as error:
        raise ModelLoadError(f"model_fn failed: {type(error).__name__}: {error}") from None
    return LoadedModel(
        source, path, flavour, handlers, native, environment, time.perf_counter() - started
    )


def stack(parts: list[Any]) -> Any:
    """Rows of several decoded requests as one batch (arrays or DataFrames alike)."""
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(part, np.ndarray) for part in parts):
        return np.concatenate(parts)
    import pandas as pd

    return pd.concat([pd.DataFrame(part) for part in parts], ignore_index=True)


PRELOADED = (
    "sklearn.linear_model",
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.neighbors",
    "skops.io",
    "joblib",
)


def preload(modules: tuple[str, ...] = PRELOADED) -> None:
    """Import the libraries of the common flavours now, so a first call does not pay.

    Serving workers call this at start: importing scikit-learn takes about a second,
    which would otherwise land on the first request of a cold model.
    """
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
