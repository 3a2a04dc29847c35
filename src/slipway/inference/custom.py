"""Custom inference code: ``code/inference.py`` with the reference handler functions.

The module may define ``model_fn(model_dir)``, ``input_fn(input_data, content_type)``,
``predict_fn(data, model)``, ``output_fn(prediction, accept)``, or instead of the last
three ``transform_fn(model, input_data, content_type, accept)``; each may take one more
trailing ``context`` argument. Missing handlers get the defaults of the reference
toolkit: ``model_fn`` loads the model file of a known flavour next to ``code/``,
``input_fn`` decodes JSON, CSV and NPY to an array (JSON and CSV bodies arrive as str),
``predict_fn`` calls ``model.predict`` (or the model itself), ``output_fn`` encodes to
the Accept type. ``transform_fn`` together with any of input/predict/output_fn is an
error, as in the reference.

Each model's module is imported under a name of its own, so two models' ``inference.py``
never overwrite each other; the ``code/`` folder is on ``sys.path`` while it is imported,
so that it can import its own helper modules.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from slipway.inference import codecs
from slipway.inference.errors import InferenceError, ModelLoadError

HANDLERS = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")
_BASE_ARITY = {"model_fn": 1, "input_fn": 2, "predict_fn": 2, "output_fn": 2, "transform_fn": 4}
_import_lock = threading.Lock()


@dataclass
class Context:
    """What the optional trailing ``context`` argument of a handler carries."""

    model_dir: str
    environment: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


def find_module(model_dir: Path, environment: dict[str, str]) -> Path | None:
    """``code/<SAGEMAKER_PROGRAM or inference>.py`` of a model folder, if present."""
    if not model_dir.is_dir():
        return None
    program = environment.get("SAGEMAKER_PROGRAM", "inference.py").removesuffix(".py")
    candidate = model_dir / "code" / f"{program}.py"
    return candidate if candidate.is_file() else None


def import_module(path: Path) -> ModuleType:
    name = f"slipway_user_code_{uuid.uuid4().hex}"
    code_dir = str(path.parent)
    with _import_lock:
        sys.path.insert(0, code_dir)
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ModelLoadError(f"cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except InferenceError:
            raise
        except Exception as error:
            sys.modules.pop(name, None)
            raise ModelLoadError(
                f"code/{path.name} failed to import: {type(error).__name__}: {error}"
            ) from None
        finally:
            sys.path.remove(code_dir)
    return module


def _wrap(function: Callable[..., Any], name: str, context: Context) -> Callable[..., Any]:
    """The handler with the context appended when it takes one more argument."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return function
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) == _BASE_ARITY[name] + 1:
        return lambda *args: function(*args, context)
    return function


class Handlers:
    """The handler functions of one model, defaults filled in."""

    def __init__(
        self,
        module: ModuleType,
        context: Context,
        default_model_fn: Callable[[str], Any] | None,
        default_accept: str,
    ) -> None:
        found = {
            name: getattr(module, name)
            for name in HANDLERS
            if callable(getattr(module, name, None))
        }
        if "transform_fn" in found and {"input_fn", "predict_fn", "output_fn"} & set(found):
            both = sorted({"input_fn", "predict_fn", "output_fn"} & set(found))
            raise ModelLoadError(
                f"code/inference.py defines transform_fn and {', '.join(both)}; transform_fn "
                "cannot be combined with input_fn, predict_fn or output_fn: keep one style"
            )
        self.default_accept = default_accept
        self.context = context
        wrapped = {name: _wrap(fn, name, context) for name, fn in found.items()}
        if "model_fn" not in wrapped and default_model_fn is None:
            raise ModelLoadError(
                "code/inference.py defines no model_fn and the model folder has no model "
                "file of a known flavour; define model_fn(model_dir)"
            )
        self.model_fn = wrapped.get("model_fn", default_model_fn)
        self.input_fn = wrapped.get("input_fn", self._default_input)
        self.predict_fn = wrapped.get("predict_fn", _default_predict)
        self.output_fn = wrapped.get("output_fn", self._default_output)
        self.transform_fn = wrapped.get("transform_fn")

    @staticmethod
    def _default_input(input_data: Any, content_type: str) -> Any:
        body = input_data.encode() if isinstance(input_data, str) else input_data
        return codecs.decode(body, content_type)[0]

    def _default_output(self, prediction: Any, accept: str) -> tuple[bytes, str]:
        return codecs.encode(prediction, accept)

    def transform(
        self, model: Any, body: bytes, content_type: str, accept: str
    ) -> tuple[bytes, str]:
        """One request through transform_fn, or input_fn -> predict_fn -> output_fn."""
        kind = codecs.media_type(content_type)
        # The reference toolkit hands JSON and CSV bodies to input_fn as text.
        data: bytes | str = body
        if kind in (codecs.JSON, codecs.CSV):
            data = body.decode("utf-8", errors="replace")
        if self.transform_fn is not None:
            result = self.transform_fn(model, data, content_type, accept)
        else:
            prediction = self.predict_fn(self.input_fn(data, content_type), model)
            result = self.output_fn(prediction, accept)
        return _response(result, accept)


def _default_predict(data: Any, model: Any) -> Any:
    predict = getattr(model, "predict", None)
    if callable(predict):
        return predict(data)
    if callable(model):
        return model(data)
    raise InferenceError(
        f"the model from model_fn is a {type(model).__name__}, which has no predict() and "
        "is not callable; define predict_fn(data, model) in code/inference.py"
    )


def _response(result: Any, accept: str) -> tuple[bytes, str]:
    if isinstance(result, tuple) and len(result) == 2:
        body, content_type = result
    else:
        body, content_type = result, accept
    if isinstance(body, str):
        body = body.encode()
    if not isinstance(body, bytes | bytearray | memoryview):
        raise InferenceError(
            f"output_fn/transform_fn returned a {type(body).__name__}; return bytes or str, "
            "or (body, content_type)"
        )
    return bytes(body), content_type or accept
