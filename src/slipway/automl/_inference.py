"""Inference handlers of an AutoML model (copied into the model as ``code/inference.py``).

The model takes raw rows, as the training table had them less the target: CSV lines
(with or without the header row) or JSON (a list of rows, a list of objects, or
``{"instances": [...]}``), and answers with the predicted labels in the original classes
(``{"predictions": [...]}`` in JSON, one value per line in CSV). With
``SAGEMAKER_INFERENCE_OUTPUT=probabilities`` a classifier answers with class probabilities.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import joblib
import pandas as pd


def model_fn(model_dir: str) -> Any:
    # The pipeline was written by this model's own training job, as was this file.
    return joblib.load(Path(model_dir) / "automl-model.joblib")


def input_fn(input_data: Any, content_type: str) -> Any:
    if isinstance(input_data, bytes):
        input_data = input_data.decode("utf-8")
    kind = (content_type or "text/csv").split(";")[0].strip()
    if kind == "application/json":
        body = json.loads(input_data)
        if isinstance(body, dict):
            body = body.get("instances", body.get("inputs", [body]))
        if body and isinstance(body[0], dict):
            return pd.DataFrame(body)
        return body if body and isinstance(body[0], list) else [body]
    if kind == "text/csv":
        return pd.read_csv(io.StringIO(input_data), header=None, dtype=str, keep_default_na=True)
    raise ValueError(
        f"content type {content_type!r} is not supported; send text/csv or application/json"
    )


def predict_fn(data: Any, model: Any) -> Any:
    if isinstance(data, pd.DataFrame) and pd.api.types.is_integer_dtype(data.columns):
        first = [str(v) for v in data.iloc[0].tolist()]
        if first == [str(c) for c in model.columns]:  # a header row came along
            data = data.iloc[1:]
        data = pd.DataFrame(data.to_numpy(), columns=model.columns)
    frame = model._frame(data)
    if (
        os.environ.get("SAGEMAKER_INFERENCE_OUTPUT") == "probabilities"
        and model.classes is not None
    ):
        return model.predict_proba(frame)
    return model.predict(frame)


def output_fn(prediction: Any, accept: str) -> Any:
    values = prediction.tolist()
    if (accept or "").startswith("text/csv"):
        lines = [",".join(map(str, v)) if isinstance(v, list) else str(v) for v in values]
        return "\n".join(lines) + "\n", "text/csv"
    return json.dumps({"predictions": values}), "application/json"
