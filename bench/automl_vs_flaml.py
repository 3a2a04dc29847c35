"""slipway AutoML against FLAML at the same time budget on the same fixed splits.

Five data sets (scikit-learn's breast_cancer, digits, wine, diabetes and a 20000-row
make_classification), 75/25 splits with random_state 0 (stratified for classification);
each tool gets the training part and the same time budget, and is scored on the held-out
part: accuracy, or R2 for diabetes. FLAML runs in its own virtualenv under bench/.venvs/.

    python bench/automl_vs_flaml.py [--budget 60] [--only wine,digits] [--out PATH]

Results go to bench/results/automl.json and .md, or to PATH.json and PATH.md, so that a
partial run (--only) can leave the full table alone.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split

HERE = Path(__file__).parent
FLAML_PYTHON = HERE / ".venvs" / "flaml" / "bin" / "python"
RESULTS = HERE / "results"

FLAML_SCRIPT = """
import json, sys
import pandas as pd
from flaml import AutoML
from sklearn.metrics import accuracy_score, r2_score
task, budget, folder = sys.argv[1], float(sys.argv[2]), sys.argv[3]
train = pd.read_csv(folder + "/train.csv"); test = pd.read_csv(folder + "/test.csv")
y, yt = train.pop("target"), test.pop("target")
automl = AutoML()
metric = "accuracy" if task == "classification" else "r2"
automl.fit(train, y, task=task, time_budget=budget, metric=metric, seed=0, verbose=0)
pred = automl.predict(test)
score = accuracy_score(yt, pred) if task == "classification" else r2_score(yt, pred)
print(json.dumps({"score": float(score), "best": automl.best_estimator}))
"""


def load(name: str) -> tuple[pd.DataFrame, pd.Series, bool]:
    if name == "make_classification":
        X, y = datasets.make_classification(
            n_samples=20000, n_features=30, n_informative=10, random_state=0
        )
        return pd.DataFrame(X, columns=[f"f{i}" for i in range(30)]), pd.Series(y), True
    loader = getattr(datasets, f"load_{name}")
    X, y = loader(return_X_y=True, as_frame=True)
    return X, y, name != "diabetes"


def run_slipway(folder: Path, budget: int, classification: bool) -> dict:
    os.environ["SLIPWAY_HOME"] = str(folder / "home")
    from slipway.automl import AutoML
    from slipway.inference import load_model
    from slipway.platform import reset
    from slipway.settings import reload_settings

    reload_settings()
    reset()
    automl = AutoML(
        target_attribute_name="target",
        job_objective="Accuracy" if classification else "R2",
        total_job_runtime_in_seconds=budget,
    )
    started = time.monotonic()
    job = automl.fit(str(folder / "train.csv"), job_name="bench", logs=False)
    elapsed = time.monotonic() - started
    best = automl.best_candidate()
    test = pd.read_csv(folder / "test.csv")
    truth = test.pop("target")
    model = load_model(best.inference_containers[0].model_data_url)
    body, _ = model.predict(test.to_csv(index=False, header=False).encode(), "text/csv",
                            "application/json")  # fmt: skip
    pred = np.asarray(json.loads(body)["predictions"])
    score = accuracy_score(truth, pred) if classification else r2_score(truth, pred)
    candidates = automl.list_candidates()
    return {
        "score": float(score),
        "best": best.candidate_properties.get("Algorithm"),
        "candidates": len(candidates),
        # trained and scored within the budget (the others were stopped at its end)
        "scored": sum(c.final_auto_ml_job_objective_metric is not None for c in candidates),
        "seconds": round(elapsed, 1),
        "status": str(job.auto_ml_job_status),
    }


def run_flaml(folder: Path, budget: int, classification: bool) -> dict:
    task = "classification" if classification else "regression"
    started = time.monotonic()
    out = subprocess.run(
        [str(FLAML_PYTHON), "-c", FLAML_SCRIPT, task, str(budget), str(folder)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--only", default="breast_cancer,digits,wine,diabetes,make_classification")
    parser.add_argument("--out", type=Path, default=RESULTS / "automl",
                        help="Result path, without suffix.")  # fmt: skip
    args = parser.parse_args()
    rows = []
    for name in args.only.split(","):
        X, y, classification = load(name)
        train_X, test_X, train_y, test_y = train_test_split(
            X, y, test_size=0.25, random_state=0, stratify=y if classification else None
        )
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            train_X.assign(target=train_y.values).to_csv(folder / "train.csv", index=False)
            test_X.assign(target=test_y.values).to_csv(folder / "test.csv", index=False)
            flaml = run_flaml(folder, args.budget, classification)
            mine = run_slipway(folder, args.budget, classification)
        row = {"dataset": name, "metric": "accuracy" if classification else "R2",
               "slipway": mine, "flaml": flaml}  # fmt: skip
        print(json.dumps(row), flush=True)
        rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    out = io.StringIO()
    out.write(f"# slipway AutoML vs FLAML ({args.budget} s budget, 2-core machine)\n\n")
    out.write("| dataset | metric | slipway | FLAML | diff (points) | slipway best | "
              "slipway candidates (scored) | slipway s | FLAML best | FLAML s |\n")  # fmt: skip
    out.write("|---|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        s, f = r["slipway"], r["flaml"]
        out.write(
            f"| {r['dataset']} | {r['metric']} | {s['score']:.4f} | {f['score']:.4f} | "
            f"{100 * (s['score'] - f['score']):+.2f} | {s['best']} | "
            f"{s['candidates']} ({s['scored']}) | {s['seconds']} | {f['best']} | {f['seconds']} |\n"
        )
    args.out.with_suffix(".md").write_text(out.getvalue())
    print(out.getvalue())


if __name__ == "__main__":
    sys.exit(main())
