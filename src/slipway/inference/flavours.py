"""Model flavours: which library saved a model file, and how to load and call it.

The flavour is read from the files, never from a declaration: ``.skops`` (a zip with a
``schema.json``) is scikit-learn saved with skops; XGBoost JSON or UBJSON has a
``learner`` member; LightGBM text starts with ``tree``; ``.onnx`` is an ONNX graph;
``.pkl``/``.pickle``/``.joblib`` (or pickle bytes) is a pickle. Each flavour object has a
vectorised ``predict(X)`` over a 2-D array or a DataFrame, an ``nbytes`` estimate for
the model cache's memory budget, and the tensor metadata the V2 protocol reports.

Safety: skops rebuilds only the types the operator trusts (``trusted_skops_types``);
pickles run arbitrary code when loaded, so they load only from sources the operator
listed in ``trusted_model_sources``. Native libraries predict with one thread: a serving
worker runs one per core already.
"""

from __future__ import annotations

import abc
import fnmatch
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slipway.inference.errors import ModelLoadError, UntrustedModel

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_SKIP_DIRS = {"code", "__pycache__"}
# Python objects around a model's arrays: modules, dicts, small attributes.
_OBJECT_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class Tensor:
    """One input or output as the V2 protocol describes it."""

    name: str
    datatype: str
    shape: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


_V2_TYPES = {
    "float64": "FP64",
    "float32": "FP32",
    "float16": "FP16",
    "int64": "INT64",
    "int32": "INT32",
    "int16": "INT16",
    "int8": "INT8",
    "uint8": "UINT8",
    "bool": "BOOL",
}


def v2_datatype(dtype: np.dtype) -> str:
    return _V2_TYPES.get(np.dtype(dtype).name, "BYTES")


class Flavour(abc.ABC):
    """A loaded model of one library."""

    name = "unknown"
    nbytes = 0

    @abc.abstractmethod
    def predict(self, data: Any) -> Any: ...

    def inputs(self) -> list[Tensor]:
        return [Tensor("input-0", "FP64", [-1, -1])]

    def outputs(self) -> list[Tensor]:
        return [Tensor("output-0", "FP64", [-1])]


class EstimatorFlavour(Flavour):
    """Anything with ``predict``: scikit-learn estimators and pipelines, unpickled models."""

    def __init__(self, estimator: Any, name: str, files: int) -> None:
        if not callable(getattr(estimator, "predict", None)):
            raise ModelLoadError(
                f"the {name} model is a {type(estimator).__name__}, which has no predict(); "
                "save a fitted estimator, or add code/inference.py with a predict_fn"
            )
        self.estimator = estimator
        self.name = name
        self.nbytes = max(files, object_bytes(estimator)) + _OBJECT_OVERHEAD

    def predict(self, data: Any) -> Any:
        return self.estimator.predict(data)

    def inputs(self) -> list[Tensor]:
        width = int(getattr(self.estimator, "n_features_in_", -1))
        return [Tensor("input-0", "FP64", [-1, width])]


class XGBoostFlavour(Flavour):
    name = "xgboost"

    def __init__(self, path: Path) -> None:
        import xgboost

        self.booster = xgboost.Booster(params={"nthread": 1})
        self.booster.load_model(str(path))
        # Trees live in native memory, a few times the size of their serialised form.
        self.nbytes = 3 * path.stat().st_size + _OBJECT_OVERHEAD

    def predict(self, data: Any) -> Any:
        return self.booster.inplace_predict(data, validate_features=False)

    def inputs(self) -> list[Tensor]:
        return [Tensor("input-0", "FP32", [-1, self.booster.num_features()])]

    def outputs(self) -> list[Tensor]:
        return [Tensor("output-0", "FP32", [-1])]


class LightGBMFlavour(Flavour):
    name = "lightgbm"

    def __init__(self, path: Path) -> None:
        import lightgbm

        self.booster = lightgbm.Booster(model_file=str(path))
        self.nbytes = 3 * path.stat().st_size + _OBJECT_OVERHEAD

    def predict(self, data: Any) -> Any:
        return self.booster.predict(data, num_threads=1)

    def inputs(self) -> list[Tensor]:
        return [Tensor("input-0", "FP64", [-1, self.booster.num_feature()])]


_ONNX_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


class OnnxFlavour(Flavour):
    """An ONNX graph run by ONNX Runtime; the first input takes the rows, the first output
    (for skl2onnx classifiers: the label) is the prediction."""

    name = "onnx"

    def __init__(self, path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelLoadError(f"ONNX Runtime cannot load {path.name}: {error}") from None
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        self.input_dtype = _ONNX_TYPES.get(first.type, np.float32)
        self.output_name = self.session.get_outputs()[0].name
        self.nbytes = 2 * path.stat().st_size + _OBJECT_OVERHEAD

    def predict(self, data: Any) -> Any:
        array = np.asarray(data, dtype=self.input_dtype)
        return self.session.run([self.output_name], {self.input_name: array})[0]

    def inputs(self) -> list[Tensor]:
        return [_onnx_tensor(node) for node in self.session.get_inputs()[:1]]

    def outputs(self) -> list[Tensor]:
        return [_onnx_tensor(node) for node in self.session.get_outputs()[:1]]


def _onnx_tensor(node: Any) -> Tensor:
    dtype = _ONNX_TYPES.get(node.type, np.float32)
    shape = [dim if isinstance(dim, int) else -1 for dim in (node.shape or [-1])]
    return Tensor(node.name, v2_datatype(dtype), shape)


# --- detection ------------------------------------------------------------------------


def model_files(path: Path) -> list[Path]:
    """The files of a model folder that may hold the model (not its code/)."""
    if path.is_file():
        return [path]
    found = []
    for child in sorted(path.rglob("*")):
        relative = child.relative_to(path)
        hidden = child.name.startswith(".") or _SKIP_DIRS & set(relative.parts[:-1])
        if child.is_file() and not hidden:
            found.append(child)
    return found


def detect(path: Path) -> tuple[str, Path] | None:
    """(flavour, model file) for a model file or folder; None when nothing is recognised."""
    candidates = [(kind, file) for file in model_files(path) if (kind := sniff(file))]
    if not candidates:
        return None
    if len(candidates) > 1:
        named = [c for c in candidates if c[1].stem == "model"]
        if len(named) != 1:
            listed = ", ".join(f"{f.name} ({kind})" for kind, f in candidates)
            raise ModelLoadError(
                f"the model folder holds several model files: {listed}; keep one, or name "
                "the one to serve model.<suffix>"
            )
        return named[0]
    return candidates[0]


def sniff(file: Path) -> str | None:
    """The flavour of one file, from its content (and suffix where content is ambiguous)."""
    suffix = file.suffix.lower()
    with file.open("rb") as handle:
        head = handle.read(4096)
    if suffix == ".onnx":
        return "onnx"
    if suffix in PICKLE_SUFFIXES:
        return "pickle"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(file) as archive:
                return "sklearn" if "schema.json" in archive.namelist() else None
        except zipfile.BadZipFile:
            return None
    if head.startswith(b"tree\n") or head.startswith(b"tree\r\n"):
        return "lightgbm"
    if head[:1] == b"{" and b"learner" in head:
        return "xgboost"
    if head[:1] == b"\x80" and suffix not in (".npy", ".txt", ".json", ".csv"):
        return "pickle"
    return None


# --- loading --------------------------------------------------------------------------


def load(kind: str, file: Path, source: str, settings: Any) -> Flavour:
    """Load one model file of a known flavour."""
    try:
        if kind == "sklearn":
            return EstimatorFlavour(load_skops(file, settings), "sklearn", file.stat().st_size)
        if kind == "xgboost":
            return XGBoostFlavour(file)
        if kind == "lightgbm":
            return LightGBMFlavour(file)
        if kind == "onnx":
            return OnnxFlavour(file)
        if kind == "pickle":
            return EstimatorFlavour(load_pickle(file, source, settings), "pickle", 0)
    except (ModelLoadError, UntrustedModel):
        raise
    except Exception as error:
        raise ModelLoadError(
            f"cannot load {file.name} as a {kind} model: {type(error).__name__}: {error}"
        ) from None
    raise ModelLoadError(f"unknown model flavour {kind!r}")


def _trusted_type(name: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if pattern.endswith(".") and name.startswith(pattern):
            return True
        if name == pattern or fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def load_skops(file: Path, settings: Any) -> Any:
    import skops.io

    patterns = list(settings.trusted_skops_types)
    untrusted = skops.io.get_untrusted_types(file=file)
    refused = [name for name in untrusted if not _trusted_type(name, patterns)]
    if refused:
        raise UntrustedModel(
            f"{file.name} holds types that are not trusted: {', '.join(refused)}. "
            "If you trust them, add them to the trusted_skops_types setting, e.g. "
            f"SLIPWAY_TRUSTED_SKOPS_TYPES='{_json_list([*patterns, *refused])}'"
        )
    return skops.io.load(file, trusted=untrusted)


def _json_list(items: list[str]) -> str:
    import json

    return json.dumps(items)


def is_trusted_source(source: str, settings: Any) -> bool:
    from slipway.inference._fetch import local_path

    def normal(uri: str) -> str:
        path = local_path(uri)
        return str(path.resolve()) if path is not None else uri

    target = normal(source)
    for prefix in settings.trusted_model_sources:
        base = normal(prefix)
        if target == base or target.startswith(base.rstrip("/") + "/"):
            return True
    return False


def load_pickle(file: Path, source: str, settings: Any) -> Any:
    if not is_trusted_source(source, settings):
        raise UntrustedModel(
            f"{file.name} in {source!r} is a pickle, and loading a pickle runs any code it "
            "contains, so slipway loads pickles only from trusted sources. Save the model "
            "with skops (skops.io.dump) instead, or, if you trust this source, add it to "
            "the trusted_model_sources setting, e.g. "
            f"SLIPWAY_TRUSTED_MODEL_SOURCES='{_json_list([source])}'"
        )
    import joblib

    return joblib.load(file)


def object_bytes(root: Any, limit: int = 200_000) -> int:
    """Memory held by an object graph: NumPy buffers plus Python object sizes.

    A walk over attributes, containers and arrays (each counted once), bounded to
    ``limit`` objects; good enough to budget scikit-learn models, whose weight is in arrays.
    """
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            total += item.nbytes if item.base is None else 0
            if item.base is not None:
                stack.append(item.base)
            if item.dtype == object:
                stack.extend(item.ravel().tolist())
            continue
        total += sys.getsizeof(item, 64)
        if isinstance(item, str | bytes | int | float | bool | type(None)):
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            stack.append(vars(item))
    return total
