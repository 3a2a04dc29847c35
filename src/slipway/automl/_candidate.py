"""The training script of every AutoML candidate, run by the training service.

Hyperparameters name the algorithm and its settings (``algorithm=lightgbm``,
``lgbm_num_leaves=15``...), or ``algorithm=ensemble`` for a weighted ensemble of earlier
candidates (their outputs arrive as channels ``m0``, ``m1``...). The script scores the
candidate on validation folds (every candidate of a job gets the same folds), prints each
metric as ``validation:<Metric>=<value>;`` for the job's metric definitions, refits on all
rows, and writes a model folder the shared inference loader serves:
``automl-model.joblib`` + ``code/inference.py``. The out-of-fold predictions go to the
output data (``oof.npy``) for the ensemble.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from slipway.archives import unpack_archive
from slipway.automl import _recipes as r
from slipway.automl._data import METRICS, read_table
from slipway.errors import SlipwayError

MODEL_FILE = "automl-model.joblib"
ENSEMBLE_ROUNDS = 25


def load(settings: dict[str, Any], data_dir: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The feature columns and the encoded target of the training table."""
    frame = read_table(data_dir)
    frame = frame[frame[settings["Target"]].notna()].reset_index(drop=True)
    y_raw = frame.pop(settings["Target"])
    if settings["Classes"] is None:
        return frame, y_raw.to_numpy(dtype=float)
    index = {str(c): i for i, c in enumerate(settings["Classes"])}
    return frame, y_raw.astype(str).map(index).to_numpy(dtype=int)


def report(settings: dict[str, Any], y: np.ndarray, oof: np.ndarray) -> None:
    classification = settings["Classes"] is not None
    for metric in METRICS[settings["ProblemType"]]:
        value = r.oof_score(metric, y, oof, classification)
        print(f"validation:{metric}={value:.10g};", flush=True)


def write_model(model: r.AutoMLModel, model_dir: Path) -> None:
    joblib.dump(model, model_dir / MODEL_FILE)
    (model_dir / "code").mkdir(exist_ok=True)
    shutil.copy(Path(__file__).with_name("_inference.py"), model_dir / "code" / "inference.py")


def train_single(settings: dict[str, Any], hp: dict[str, Any], frame: pd.DataFrame,
                 y: np.ndarray) -> tuple[r.AutoMLModel, np.ndarray]:  # fmt: skip
    classification = settings["Classes"] is not None
    plan, algorithm = settings["Plan"], hp["algorithm"]
    started = time.monotonic()
    oof = r.out_of_fold(frame, y, plan, algorithm, classification, hp)
    print(f"validated {algorithm} in {time.monotonic() - started:.1f}s", flush=True)
    fitted = r.pipeline(plan, algorithm, classification, hp, len(frame)).fit(frame, y)
    model = r.AutoMLModel([fitted], [1.0], settings["Classes"], settings["Columns"],
                          plan.get("numeric", []))  # fmt: skip
    return model, oof


def _unpack(folder: Path, name: str) -> Path:
    archive, target = folder / name, folder / name.split(".")[0]
    unpack_archive(archive, target, name=str(archive))
    return target


def train_ensemble(settings: dict[str, Any], y: np.ndarray,
                   channels: dict[str, str]) -> tuple[r.AutoMLModel, np.ndarray]:  # fmt: skip
    """Caruana's greedy ensemble selection (with replacement) on out-of-fold predictions."""
    classification = settings["Classes"] is not None
    members, oofs = [], []
    for name in sorted(channels, key=lambda c: int(c[1:])):
        folder = Path(channels[name])
        members.append(joblib.load(_unpack(folder, "model.tar.gz") / MODEL_FILE).members[0])
        oofs.append(np.load(_unpack(folder, "output.tar.gz") / "oof.npy"))
    counts = r.greedy_ensemble(oofs, y, settings["Objective"], classification, ENSEMBLE_ROUNDS)
    total = sum(c * o for c, o in zip(counts, oofs, strict=True))
    chosen = [i for i in range(len(members)) if counts[i]]
    print(f"ensemble weights: {[int(counts[i]) for i in chosen]} of members {chosen}", flush=True)
    model = r.AutoMLModel([members[i] for i in chosen], [float(counts[i]) for i in chosen],
                          settings["Classes"], settings["Columns"],
                          settings["Plan"].get("numeric", []))  # fmt: skip
    return model, total / counts.sum()


def main() -> None:
    try:
        run()
    except SlipwayError as error:
        # The training contract's failure file: the job's failure reason is its text, whole.
        (Path(os.environ["SM_OUTPUT_DIR"]) / "failure").write_text(error.message)
        raise SystemExit(1) from None


def run() -> None:
    hp = json.loads(os.environ.get("SM_HPS", "{}"))
    channels = json.loads(os.environ.get("SM_CHANNELS", "[]"))
    paths = {c: os.environ[f"SM_CHANNEL_{c.upper()}"] for c in channels}
    settings = json.loads((Path(paths["automl"]) / "settings.json").read_text())
    frame, y = load(settings, paths["train"])
    if hp["algorithm"] == "ensemble":
        members = {c: p for c, p in paths.items() if c.startswith("m") and c[1:].isdigit()}
        model, oof = train_ensemble(settings, y, members)
    else:
        model, oof = train_single(settings, hp, frame, y)
    report(settings, y, oof)
    write_model(model, Path(os.environ["SM_MODEL_DIR"]))
    np.save(Path(os.environ["SM_OUTPUT_DATA_DIR"]) / "oof.npy", oof)


if __name__ == "__main__":
    main()
