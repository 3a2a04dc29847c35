"""Tuning jobs search a real script's hyperparameters, embedded and on a server.

The script is tiny: its loss falls with each epoch and is lowest at learning_rate 0.3,
depth 4 and booster 'gbtree', so a test knows which job must be best and a job far from
that point falls behind early enough to be stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import free_port, run_server_process
from slipway.errors import NotFound, ValidationError
from slipway.experiments import Experiment, TrialComponent
from slipway.jobs import lifecycle
from slipway.jobs.models import JobKind, JobStatus
from slipway.platform import reset, services, tuning_backend
from slipway.settings import get_settings, reload_settings
from slipway.training.estimator import Estimator
from slipway.tuning import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
    WarmStartConfig,
)

SLIPWAY = str(Path(sys.executable).parent / "slipway")

SCRIPT = """
import argparse
import time

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float, default=0.1)
parser.add_argument("--depth", type=int, default=4)
parser.add_argument("--booster", default="gbtree")
parser.add_argument("--epochs", type=int, default=6)
parser.add_argument("--pause", type=float, default=0.1)
args = parser.parse_args()  # strict: a reserved hyperparameter must not reach the script

penalty = 10 * (args.learning_rate - 0.3) ** 2 + 0.05 * abs(args.depth - 4)
penalty += 0.2 if args.booster == "dart" else 0.0
for epoch in range(args.epochs):
    print(f"epoch={epoch} loss={penalty + 1.0 / (epoch + 1):.6f};", flush=True)
    time.sleep(args.pause)
"""
LOSS = [{"Name": "loss", "Regex": r"loss=([0-9.]+);"}]


@pytest.fixture
def estimator(tmp_path: Path) -> Estimator:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(textwrap.dedent(SCRIPT))
    return Estimator(
        "train.py", source_dir=str(source), metric_definitions=LOSS, hyperparameters={"pause": 0}
    )


def _cli(home: Path, *args: str, server_url: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env["SLIPWAY_HOME"] = str(home)
    if server_url:
        env["SLIPWAY_SERVER_URL"] = server_url
    return subprocess.run(
        [SLIPWAY, "tuning", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _ranges() -> dict:
    return {
        "learning_rate": ContinuousParameter(0.0, 1.0),
        "depth": IntegerParameter(1, 8),
        "booster": CategoricalParameter(["gbtree", "dart"]),
    }


# --- a whole tuning job ------------------------------------------------------------------


def test_tuning_job_with_early_stopping_runs_twelve_jobs_two_at_a_time(
    home: Path, estimator: Estimator
) -> None:
    estimator.hyperparameters = {"pause": 0.1, "epochs": 6}
    tuner = HyperparameterTuner(
        estimator,
        "loss",
        _ranges(),
        strategy="Random",  # half the jobs fall behind the median: some are stopped
        objective_type="Minimize",
        max_jobs=12,
        max_parallel_jobs=2,
        early_stopping_type="Auto",
        random_seed=7,
    )
    tuner.fit(job_name="tune-early", wait=False)
    watched = _cli(home, "show", "tune-early", "--watch")  # returns when the job ends
    assert watched.returncode == 0, watched.stderr
    assert "tuning job 'tune-early' Completed: loss=" in watched.stdout

    job = tuner.wait()
    counters = job.training_job_status_counters
    assert counters.completed + counters.stopped == 12
    assert counters.stopped >= 1  # early stopping really stopped jobs

    summaries = tuning_backend().list_training_jobs_for_hyper_parameter_tuning_job("tune-early")
    assert [s.training_job_name[:14] for s in summaries] == [
        f"tune-early-{n:03d}" for n in range(1, 13)
    ]
    assert all(
        re.fullmatch(r"tune-early-\d{3}-[0-9a-f]{8}", s.training_job_name) for s in summaries
    )
    stopped = [s for s in summaries if s.training_job_status == JobStatus.STOPPED]
    assert stopped and all(s.early_stopped for s in stopped)
    for s in stopped:  # stopped before their last epoch
        [metric] = TrialComponent.load(f"{s.training_job_name}-aws-training-job").metrics
        assert metric.count < 6

    completed = [s for s in summaries if s.training_job_status == JobStatus.COMPLETED]
    best = min(completed, key=lambda s: s.final_hyper_parameter_tuning_job_objective_metric.value)
    assert tuner.best_training_job() == best.training_job_name
    assert job.best_training_job.final_hyper_parameter_tuning_job_objective_metric.value == min(
        s.final_hyper_parameter_tuning_job_objective_metric.value for s in completed
    )

    # Never more than two at a time: count the jobs running as each one starts.
    for s in summaries:
        running = [
            o
            for o in summaries
            if o.training_start_time <= s.training_start_time < o.training_end_time
        ]
        assert len(running) <= 2

    frame = tuner.analytics().dataframe()
    assert len(frame) == 12
    assert {"learning_rate", "depth", "booster", "FinalObjectiveValue", "TrainingJobStatus"} <= set(
        frame.columns
    )
    assert frame["learning_rate"].between(0, 1).all()
    assert set(frame["booster"]) <= {"gbtree", "dart"}
    assert (frame["TrainingElapsedTimeSeconds"] > 0).all()

    experiment = Experiment.load("tune-early")
    trials = {t.trial_name for t in experiment.list_trials()}
    assert trials == {s.training_job_name for s in summaries}
    child = summaries[0].training_job_name
    component = TrialComponent.load(f"{child}-aws-training-job")
    assert component.parameters["_tuning_objective_metric"] == "loss"
    assert [p.trial_name for p in component.parents] == [child]

    tuning = services().jobs.get_job(JobKind.TUNING, "tune-early")
    assert tuning.status == JobStatus.COMPLETED
    assert services().jobs.get_job(JobKind.TRAINING, child).parent_job_name == "tune-early"


def test_describe_has_the_reference_shape(home: Path, estimator: Estimator) -> None:
    tuner = HyperparameterTuner(
        estimator, "loss", _ranges(), objective_type="Minimize", max_jobs=2, max_parallel_jobs=2
    )
    tuner.fit(job_name="tune-shape")
    wire = tuner.describe().to_wire()

    assert wire["HyperParameterTuningJobStatus"] == "Completed"
    assert wire["TrainingJobStatusCounters"] == {
        "Completed": 2,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert wire["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 0, "Failed": 0}
    best = wire["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "loss"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Type"] == "Minimize"
    assert set(best["TunedHyperParameters"]) == {"learning_rate", "depth", "booster"}
    assert best["ObjectiveStatus"] == "Succeeded"
    config = wire["HyperParameterTuningJobConfig"]
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2}
    assert config["ParameterRanges"]["IntegerParameterRanges"] == [
        {"Name": "depth", "MinValue": "1", "MaxValue": "8", "ScalingType": "Auto"}
    ]

    shown = _cli(home, "show", "tune-shape", "--json")
    assert json.loads(shown.stdout)["TuningJob"]["BestTrainingJob"] == best


# --- strategies --------------------------------------------------------------------------


def test_random_search_respects_log_and_reverse_log_scaling(
    home: Path, estimator: Estimator
) -> None:
    ranges = {
        "learning_rate": ContinuousParameter(0.001, 1.0, "Logarithmic"),
        "depth": IntegerParameter(1, 64, "Logarithmic"),
        "momentum": ContinuousParameter(0.9, 0.9999, "ReverseLogarithmic"),
    }
    estimator.hyperparameters = {"pause": 0, "epochs": 1}
    source = Path(estimator.source_dir) / "train.py"
    momentum = 'parser.add_argument("--momentum", type=float)\n'
    source.write_text(
        source.read_text().replace("parser.add_argument(", momentum + "parser.add_argument(", 1)
    )
    tuner = HyperparameterTuner(
        estimator,
        "loss",
        ranges,
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        objective_type="Minimize",
        random_seed=3,
    )
    tuner.fit(job_name="tune-random")

    frame = tuner.analytics().dataframe()
    assert len(frame) == 4 and (frame["TrainingJobStatus"] == "Completed").all()
    assert frame["learning_rate"].between(0.001, 1.0).all()
    assert frame["depth"].between(1, 64).all() and (frame["depth"] % 1 == 0).all()
    assert frame["momentum"].between(0.9, 0.9999).all()


def test_grid_search_runs_every_point_once(home: Path, estimator: Estimator) -> None:
    ranges = {"depth": IntegerParameter(3, 4), "booster": CategoricalParameter(["gbtree", "dart"])}
    tuner = HyperparameterTuner(
        estimator, "loss", ranges, strategy="Grid", max_parallel_jobs=2, objective_type="Minimize"
    )
    tuner.fit(job_name="tune-grid")

    frame = tuner.analytics().dataframe()
    assert sorted(zip(frame["depth"], frame["booster"], strict=True)) == [
        (3.0, "dart"), (3.0, "gbtree"), (4.0, "dart"), (4.0, "gbtree")
    ]  # fmt: skip
    best = tuner.describe().best_training_job
    assert best.tuned_hyper_parameters == {"depth": "4", "booster": "gbtree"}


def test_hyperband_runs_its_brackets(home: Path, estimator: Estimator) -> None:
    estimator.hyperparameters = {"pause": 0.05, "epochs": 6}
    tuner = HyperparameterTuner(
        estimator,
        "loss",
        _ranges(),
        strategy="Hyperband",
        max_jobs=6,
        max_parallel_jobs=2,
        objective_type="Minimize",
        random_seed=11,
    )
    tuner.fit(job_name="tune-hyperband")

    job = tuner.describe()
    counters = job.training_job_status_counters
    assert counters.completed + counters.stopped == 6
    assert job.hyper_parameter_tuning_job_config.strategy == "Hyperband"
    assert job.best_training_job is not None


# --- warm start and stop -------------------------------------------------------------------


def test_warm_start_reuses_the_parent_jobs(home: Path, estimator: Estimator) -> None:
    parent = HyperparameterTuner(
        estimator,
        "loss",
        _ranges(),
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        objective_type="Minimize",
        random_seed=1,
    )
    parent.fit(job_name="tune-parent")
    child = HyperparameterTuner(
        estimator,
        "loss",
        _ranges(),
        max_jobs=2,
        max_parallel_jobs=2,
        objective_type="Minimize",
        warm_start_config=WarmStartConfig("IdenticalDataAndAlgorithm", parents={"tune-parent"}),
    )
    child.fit(job_name="tune-child")

    described = child.describe()
    [parent_job] = described.warm_start_config.parent_hyper_parameter_tuning_jobs
    assert parent_job.hyper_parameter_tuning_job_name == "tune-parent"
    result = services().jobs.get_job(JobKind.TUNING, "tune-child").result
    assert result["WarmStartTrainingJobs"] == 4
    assert described.training_job_status_counters.completed == 2
    everything = [
        *parent.analytics().training_job_summaries(),
        *child.analytics().training_job_summaries(),
    ]
    overall = min(
        everything, key=lambda s: s.final_hyper_parameter_tuning_job_objective_metric.value
    )
    assert described.overall_best_training_job.training_job_name == overall.training_job_name

    with pytest.raises(NotFound, match="warm start parent tuning job 'tune-nobody' not found"):
        HyperparameterTuner(
            estimator, "loss", _ranges(), warm_start_config=WarmStartConfig(parents="tune-nobody")
        ).fit(job_name="tune-orphan")
    listed = tuning_backend().list_hyper_parameter_tuning_jobs().items
    assert [j.hyper_parameter_tuning_job_name for j in listed] == ["tune-child", "tune-parent"]


def test_a_tuning_job_fails_when_no_training_job_reports_the_objective(
    home: Path, estimator: Estimator
) -> None:
    estimator.metric_definitions = [{"Name": "loss", "Regex": r"never printed=([0-9.]+)"}]
    tuner = HyperparameterTuner(
        estimator, "loss", _ranges(), strategy="Random", max_jobs=2, max_parallel_jobs=2
    )
    tuner.fit(job_name="tune-silent", wait=False)
    job = tuning_backend().wait("tune-silent", timeout=60)

    assert job.hyper_parameter_tuning_job_status == JobStatus.FAILED
    assert "no training job reported the objective metric 'loss'" in job.failure_reason
    assert job.training_job_status_counters.completed == 2
    assert job.objective_status_counters.failed == 2


def test_stop_stops_every_running_training_job(home: Path, estimator: Estimator) -> None:
    estimator.hyperparameters = {"pause": 30, "epochs": 2}
    tuner = HyperparameterTuner(estimator, "loss", _ranges(), max_jobs=6, max_parallel_jobs=2)
    tuner.fit(job_name="tune-stop", wait=False)
    backend = tuning_backend()
    deadline = time.monotonic() + 30
    training = services().training
    while len(training.list_training_jobs(tuning_job_name="tune-stop").items) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    stopped = _cli(home, "stop", "tune-stop")
    assert stopped.stdout.strip() == "tuning job 'tune-stop' is Stopping"
    job = backend.wait("tune-stop", timeout=30)
    assert job.hyper_parameter_tuning_job_status == JobStatus.STOPPED
    assert job.training_job_status_counters.stopped == 2
    assert job.training_job_status_counters.in_progress == 0


def test_a_random_search_makes_the_next_folder_ahead_and_a_stop_removes_it(
    home: Path, estimator: Estimator
) -> None:
    estimator.hyperparameters = {"pause": 30, "epochs": 2}
    tuner = HyperparameterTuner(
        estimator, "loss", _ranges(), strategy="Random", max_jobs=6, max_parallel_jobs=2
    )
    tuner.fit(job_name="tune-ahead", wait=False)
    training = services().training
    folders = home / "jobs" / "training"
    deadline = time.monotonic() + 30
    # Two jobs run; the third is planned: its folder is ready, its job not created yet.
    while len(list(folders.glob("tune-ahead-*"))) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    created = {j.training_job_name for j in training.list_training_jobs().items}
    assert len(created) == 2
    [ahead] = [f for f in folders.glob("tune-ahead-*") if f.name not in created]
    assert ahead.name.startswith("tune-ahead-003-")
    config = json.loads((ahead / "input" / "config" / "hyperparameters.json").read_text())
    assert set(config) >= {"learning_rate", "depth", "booster"}
    assert (ahead / "code" / "train.py").is_file()

    tuning_backend().stop_hyper_parameter_tuning_job("tune-ahead")
    job = tuning_backend().wait("tune-ahead", timeout=30)
    assert job.hyper_parameter_tuning_job_status == JobStatus.STOPPED
    assert not ahead.exists()
    assert {f.name for f in folders.glob("tune-ahead-*")} == created


_START_AND_LEAVE = """
import sys
import time
from slipway.platform import training_backend
from slipway.training.estimator import Estimator
from slipway.tuning import ContinuousParameter, HyperparameterTuner

estimator = Estimator(
    "train.py",
    source_dir=sys.argv[1],
    hyperparameters={"pause": 0.3, "epochs": 3},
    metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9.]+);"}],
)
tuner = HyperparameterTuner(
    estimator, "loss", {"learning_rate": ContinuousParameter(0, 1)}, max_jobs=4,
    max_parallel_jobs=2,
)
tuner.fit(job_name="tune-orphan", wait=False)
training = training_backend()
while True:  # until both first training jobs run their script
    children = training.list_training_jobs(tuning_job_name="tune-orphan").items
    if len(children) == 2 and all(training.read_logs(c.training_job_name) for c in children):
        break
    time.sleep(0.02)
# The process ends here, and the tuning job's watcher thread with it.
"""


def test_a_tuning_job_survives_its_watchers_death_and_is_adopted(
    home: Path, estimator: Estimator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starter = tmp_path / "starter.py"
    starter.write_text(_START_AND_LEAVE)
    subprocess.run(
        [sys.executable, str(starter), estimator.source_dir],
        check=True,
        timeout=60,
        env={**os.environ, "SLIPWAY_HOME": str(home)},
    )
    # Watchers count as gone after this long without a heartbeat (15 s in production).
    monkeypatch.setattr(lifecycle, "ORPHAN_AFTER", dt.timedelta(seconds=0.5))
    time.sleep(0.6)
    assert services().tuning.adopt_orphans() == ["tune-orphan"]
    job = services().tuning.wait("tune-orphan", timeout=60)

    assert job.hyper_parameter_tuning_job_status == JobStatus.COMPLETED
    assert job.training_job_status_counters.completed == 4
    assert job.best_training_job is not None


# --- bad input ---------------------------------------------------------------------------

BAD = [
    ({"hyperparameter_ranges": {"lr": ContinuousParameter(1.0, 0.5)}},
     "'lr': MinValue 1.0 is greater than MaxValue 0.5"),
    ({"hyperparameter_ranges": {"depth": IntegerParameter(9, 2)}},
     "'depth': MinValue 9 is greater than MaxValue 2"),
    ({"hyperparameter_ranges": {"lr": ContinuousParameter(0, 1, "Logarithmic")}},
     "Logarithmic scaling needs values above 0, but MinValue is 0"),
    ({"hyperparameter_ranges": {"m": ContinuousParameter(0.5, 1.0, "ReverseLogarithmic")}},
     r"ReverseLogarithmic scaling needs 0 <= values < 1, but the range is \[0.5, 1.0\]"),
    ({"hyperparameter_ranges": {"d": IntegerParameter(1, 5, "ReverseLogarithmic")}},
     "ReverseLogarithmic scaling is for continuous ranges only"),
    ({"hyperparameter_ranges": {"d": IntegerParameter(1, 5, "Cubic")}},
     "scaling type 'Cubic' is not valid"),
    ({"strategy": "Evolutionary"}, "strategy 'Evolutionary' is not valid"),
    ({"strategy": "Grid"}, r"Grid strategy cannot search continuous ranges \['learning_rate'\]"),
    ({"objective_metric_name": "accuracy"},
     "objective metric 'accuracy' is not among the metric definitions"),
    ({"max_parallel_jobs": 0}, "MaxParallelTrainingJobs \\(max_parallel_jobs\\) is 0"),
    ({"max_jobs": 0}, "MaxNumberOfTrainingJobs \\(max_jobs\\) is 0"),
    ({"objective_type": "Biggest"}, "objective type 'Biggest' is not valid"),
    ({"early_stopping_type": "Sometimes"}, "early stopping type 'Sometimes' is not valid"),
    ({"job_name": "a-tuning-job-name-of-33-characters"}, "the limit is 32"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_input_is_refused_and_creates_nothing(
    home: Path, estimator: Estimator, change: dict, message: str
) -> None:
    arguments = {
        "estimator": estimator,
        "objective_metric_name": "loss",
        "hyperparameter_ranges": {"learning_rate": ContinuousParameter(0.01, 0.5)},
        **change,
    }
    job_name = arguments.pop("job_name", "tune-bad")
    with pytest.raises(ValidationError, match=message):
        HyperparameterTuner(**arguments).fit(job_name=job_name)
    assert tuning_backend().list_hyper_parameter_tuning_jobs().items == []
    assert list(Experiment.list()) == []
    assert not (home / "artifacts" / "tuning-jobs").exists()


# --- remote mode -------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A `slipway server` over its own SQLite home; the SDK in this process talks to it."""
    port = free_port()
    env = {"SLIPWAY_HOME": str(tmp_path / "server-home"), "SLIPWAY_SERVER_URL": ""}
    with run_server_process([SLIPWAY, "server", "--port", str(port)], env, port):
        for name in [n for n in os.environ if n.startswith("SLIPWAY_")]:
            monkeypatch.delenv(name)
        url = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "client-home"))
        monkeypatch.setenv("SLIPWAY_SERVER_URL", url)
        reload_settings()
        reset()
        yield url
        reset()
        get_settings.cache_clear()


def test_tuning_against_a_server(
    server: str, tmp_path: Path, estimator: Estimator, capsys: pytest.CaptureFixture[str]
) -> None:
    tuner = HyperparameterTuner(
        estimator,
        "loss",
        _ranges(),
        strategy="Random",
        max_jobs=3,
        max_parallel_jobs=2,
        objective_type="Minimize",
    )
    tuner.fit(job_name="tune-remote", logs=True)

    assert "tune-remote: Completed, 3/3 jobs done" in capsys.readouterr().out
    frame = tuner.analytics().dataframe()
    assert list(frame["TrainingJobStatus"]) == ["Completed"] * 3
    assert tuner.best_training_job() in set(frame["TrainingJobName"])

    listed = _cli(tmp_path / "cli-home", "list", server_url=server)
    [row] = [line for line in listed.stdout.splitlines() if "tune-remote" in line]
    assert "Completed" in row and "3/3" in row and "Random" in row

    body = tuner.request(None, "tune-remote-bad", "file:///nowhere").to_wire()
    body["HyperParameterTuningJobConfig"]["ParameterRanges"]["IntegerParameterRanges"][0][
        "MinValue"
    ] = "100"
    answer = httpx.post(f"{server}/api/v1/tuning-jobs", json=body)
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "ValidationError",
        "message": "hyperparameter range 'depth': MinValue 100 is greater than MaxValue 8; "
        "swap them",
    }
    missing = httpx.get(f"{server}/api/v1/tuning-jobs/tune-remote-bad")
    assert missing.status_code == 404
