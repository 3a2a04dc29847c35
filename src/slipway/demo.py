"""`slipway demo` (what `make run` starts): seed a small real experiment, then serve it.

The demo trains scikit-learn models on data sets that scikit-learn ships, epoch by epoch,
and tracks each run as a trial with parameters, per-epoch metrics, the data set as input
artifact, the fitted model and evaluation charts as output artifacts. Nothing is made up:
every number comes from a real fit.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from slipway.errors import NotFound
from slipway.settings import get_settings, reload_settings

EXPERIMENT = "slipway-demo"
EPOCHS = 15
console = Console()


@dataclass(frozen=True)
class _Run:
    dataset: str
    model: str
    params: dict[str, Any]


_RUNS = [
    _Run("breast-cancer", "sgd-logistic", {"alpha": 1e-4, "eta0": 0.01}),
    _Run("breast-cancer", "sgd-logistic", {"alpha": 1e-2, "eta0": 0.01}),
    _Run("breast-cancer", "mlp", {"hidden_layer_sizes": 32, "learning_rate_init": 1e-3}),
    _Run("iris", "sgd-logistic", {"alpha": 1e-3, "eta0": 0.05}),
    _Run("iris", "mlp", {"hidden_layer_sizes": 16, "learning_rate_init": 1e-2}),
    _Run("wine", "mlp", {"hidden_layer_sizes": 64, "learning_rate_init": 3e-3}),
]


def _load(dataset: str):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    loader = {
        "breast-cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
    }[dataset]
    x, y = loader(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_test), y_train, y_test


def _estimator(run: _Run):
    from sklearn.linear_model import SGDClassifier
    from sklearn.neural_network import MLPClassifier

    if run.model == "mlp":
        return MLPClassifier(
            hidden_layer_sizes=(run.params["hidden_layer_sizes"],),
            learning_rate_init=run.params["learning_rate_init"],
            random_state=0,
        )
    return SGDClassifier(
        loss="log_loss",
        alpha=run.params["alpha"],
        learning_rate="constant",
        eta0=run.params["eta0"],
        random_state=0,
    )


def _train(run: _Run, index: int, workdir: Path) -> None:
    import numpy as np
    from sklearn.metrics import accuracy_score, log_loss

    from slipway.experiments import Tracker, Trial

    x_train, x_test, y_train, y_test = _load(run.dataset)
    classes = np.unique(y_train)
    model = _estimator(run)
    trial = Trial.create(
        experiment_name=EXPERIMENT, trial_name=f"{run.dataset}-{run.model}-{index}"
    )
    with Tracker.create(display_name=f"{run.model}-{index}") as tracker:
        tracker.log_parameters({"model": run.model, "dataset": run.dataset, **run.params})
        tracker.log_input("dataset", f"sklearn.datasets/{run.dataset}", "text/plain")
        for epoch in range(EPOCHS):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one epoch per call is the point here
                model.partial_fit(x_train, y_train, classes=classes)
            probabilities = model.predict_proba(x_test)
            tracker.log_metric(
                "train:loss", log_loss(y_train, model.predict_proba(x_train)), None, epoch
            )
            tracker.log_metric("validation:loss", log_loss(y_test, probabilities), None, epoch)
            tracker.log_metric(
                "validation:accuracy", accuracy_score(y_test, model.predict(x_test)), None, epoch
            )
        predictions = model.predict(x_test)
        tracker.log_confusion_matrix(y_test, predictions, title="confusion-matrix")
        if len(classes) == 2:
            tracker.log_roc_curve(y_test, probabilities[:, 1], title="roc-curve")
            tracker.log_precision_recall(y_test, probabilities[:, 1], title="precision-recall")
        model_file = workdir / f"model-{index}.skops"
        _save_model(model, model_file)
        tracker.log_artifact(model_file, name="model", media_type="application/octet-stream")
    trial.add_trial_component(tracker)


def _save_model(model: Any, path: Path) -> None:
    import skops.io

    # skops, not pickle: a model file must be loadable without running arbitrary code.
    skops.io.dump(model, path)


def seed() -> bool:
    """Create the demo experiment unless it exists; returns whether it was created."""
    from slipway.experiments import Experiment

    try:
        Experiment.load(EXPERIMENT)
        return False
    except NotFound:
        pass
    Experiment.create(
        experiment_name=EXPERIMENT,
        description="scikit-learn classifiers on bundled data sets, tracked epoch by epoch",
        tags=[{"Key": "source", "Value": "slipway demo"}],
    )
    with tempfile.TemporaryDirectory() as folder, Progress(console=console) as progress:
        task = progress.add_task("training demo models", total=len(_RUNS))
        for index, run in enumerate(_RUNS):
            _train(run, index, Path(folder))
            progress.advance(task)
    return True


def _next_steps(url: str) -> str:
    return f"""
[bold]slipway is running at {url}[/bold]  (stop with Ctrl-C)

Try it:
  curl -s {url}/api/v1/experiments | python3 -m json.tool
  curl -s -X POST {url}/api/v1/search -H 'Content-Type: application/json' \\
    -d '{{"Resource": "TrialComponent", "SortBy": "Metrics.validation:accuracy.Max"}}'

  .venv/bin/slipway experiments show {EXPERIMENT}
  .venv/bin/slipway components list --experiment {EXPERIMENT}
  .venv/bin/slipway search TrialComponent --filter "Metrics.validation:accuracy.Max GreaterThan 0.9"

  SLIPWAY_SERVER_URL={url} .venv/bin/python -c "
from slipway.experiments import ExperimentAnalytics
print(ExperimentAnalytics(experiment_name='{EXPERIMENT}').dataframe())"

API reference: {url}/api/v1/docs
"""


def run_demo(host: str, port: int, seed_only: bool) -> None:
    # The demo seeds the embedded store the server will serve, whatever the shell says.
    os.environ.pop("SLIPWAY_SERVER_URL", None)
    settings = reload_settings()
    console.print(f"slipway home: {settings.home}")
    created = seed()
    console.print(
        f"demo experiment {EXPERIMENT!r} " + ("seeded" if created else "already there, kept")
    )
    if seed_only:
        return
    from slipway.server.run import serve

    # soft_wrap: commands stay on one line, so they can be copied as printed.
    console.print(_next_steps(f"http://{host}:{port}"), soft_wrap=True, highlight=False)
    serve(host, port, get_settings().database_url, get_settings().artifact_uri)
