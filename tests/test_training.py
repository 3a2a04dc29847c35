"""Training jobs run real scripts under the container contract, embedded and on a server.

Each test writes its script into a fresh source folder, as a user would, and runs it with
the Estimator; assertions look at what a user sees: the job's description, its logs, its
trial component, and the files it produced.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import free_port, run_server_process
from slipway.errors import AlreadyExists, ValidationError
from slipway.experiments import Experiment, TrialComponent
from slipway.jobs import lifecycle
from slipway.jobs.models import JobKind, JobStatus, SecondaryStatus
from slipway.platform import reset, services, training_backend
from slipway.settings import get_settings, reload_settings
from slipway.training.estimator import Estimator, JobFailed, TrainingJob
from slipway.training.models import CreateTrainingJob

SLIPWAY = str(Path(sys.executable).parent / "slipway")

SKLEARN_SCRIPT = """
import argparse
import os

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_iter", type=int, default=100)
    parser.add_argument("--reg_c", type=float, default=1.0)
    parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
    args, _ = parser.parse_known_args()

    frame = pd.read_csv(os.path.join(args.train, "train.csv"))
    x, y = frame.drop(columns=["target"]), frame["target"]
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)
    model = LogisticRegression(C=args.reg_c, max_iter=args.max_iter).fit(x_train, y_train)
    print(f"validation:accuracy={model.score(x_test, y_test):.4f};")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
"""

LIGHTGBM_SCRIPT = """
import argparse
import os

import lightgbm as lgb
import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--num_leaves", type=int, default=31)
parser.add_argument("--learning_rate", type=float, default=0.1)
parser.add_argument("--rounds", type=int, default=10)
args = parser.parse_args()

frame = pd.read_csv(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"))
valid = frame.sample(frac=0.25, random_state=0)
train = frame.drop(valid.index)
params = {
    "objective": "binary",
    "metric": "binary_logloss",
    "num_leaves": args.num_leaves,
    "learning_rate": args.learning_rate,
    "verbose": -1,
    "num_threads": 1,
}
booster = lgb.train(
    params,
    lgb.Dataset(train.drop(columns=["target"]), train["target"]),
    num_boost_round=args.rounds,
    valid_sets=[lgb.Dataset(valid.drop(columns=["target"]), valid["target"])],
    callbacks=[lgb.log_evaluation(period=1)],
)
booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"))
"""

PROBE_SCRIPT = """
import json
import os
import sys

config = os.environ["SM_INPUT_CONFIG_DIR"]
report = {
    "argv": sys.argv[1:],
    "env": {k: v for k, v in os.environ.items() if k.startswith("SM_") or k in (
        "TRAINING_JOB_NAME", "CURRENT_HOST", "TRAINING_JOB_ARN")},
    "files": {
        name: json.load(open(os.path.join(config, name)))
        for name in ("hyperparameters.json", "inputdataconfig.json", "resourceconfig.json")
    },
    "channel_files": sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])),
}
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "report.json"), "w") as f:
    json.dump(report, f)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.txt"), "w") as f:
    f.write("42")
os.makedirs(os.path.join(os.environ["SM_MODEL_DIR"], "sub"))
open(os.path.join(os.environ["SM_MODEL_DIR"], "sub", "extra.txt"), "w").write("x")
print("loss=0.5;")
print("loss=0.25;")
"""

CRASH_SCRIPT = """
print("loading the data")
raise ValueError("bad value in row 7")
"""

FAILURE_FILE_SCRIPT = """
import os
import sys
with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as f:
    f.write("Out of memory while building the tree")
sys.exit(3)
"""

SLEEPER_SCRIPT = """
import time
print("started", flush=True)
time.sleep(60)
"""

SLOW_SCRIPT = """
import time
for step in range(6):
    print(f"step={step} loss={1.0 / (step + 1):.4f};", flush=True)
    time.sleep(0.3)
"""

LOSS = [{"Name": "loss", "Regex": r"loss=([0-9.]+);"}]


def _source(tmp_path: Path, script: str, name: str = "train.py") -> Path:
    folder = tmp_path / f"src-{name}"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(textwrap.dedent(script))
    return folder


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """The breast-cancer data set that scikit-learn ships, as a CSV channel."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    folder = tmp_path / "data"
    folder.mkdir()
    frame.to_csv(folder / "train.csv", index=False)
    return folder


def _members(uri: str) -> dict[str, bytes]:
    path = uri.removeprefix("file://")
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


# --- real training scripts ----------------------------------------------------------------


def test_unmodified_script_mode_sklearn_script_trains_and_packs_its_model(
    home: Path, tmp_path: Path, dataset: Path
) -> None:
    experiment = Experiment.create("churn")
    estimator = Estimator(
        entry_point="train.py",
        source_dir=str(_source(tmp_path, SKLEARN_SCRIPT)),
        hyperparameters={"max_iter": 5000, "reg_c": 0.5},
        metric_definitions=[
            {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+);"}
        ],
        role="arn:aws:iam::000000000000:role/unused",
        instance_type="ml.m5.large",
    )
    estimator.fit(
        {"train": str(dataset)},
        job_name="sklearn-job",
        logs=False,
        experiment_config={"ExperimentName": "churn", "TrialName": "churn-lr"},
    )

    job = estimator.latest_training_job.describe()
    assert job.training_job_status == JobStatus.COMPLETED
    assert [t.status for t in job.secondary_status_transitions] == [
        SecondaryStatus.STARTING,
        SecondaryStatus.DOWNLOADING,
        SecondaryStatus.TRAINING,
        SecondaryStatus.UPLOADING,
        SecondaryStatus.COMPLETED,
    ]
    accuracy = {m.metric_name: m.value for m in job.final_metric_data_list}
    assert accuracy["validation:accuracy"] > 0.9
    assert "model.joblib" in _members(estimator.model_data)

    component = TrialComponent.load("sklearn-job-aws-training-job")
    assert component.parameters["reg_c"] == 0.5
    assert component.source.source_type == "SageMakerTrainingJob"
    assert component.output_artifacts["SageMaker.ModelArtifact"].value == estimator.model_data
    trials = list(experiment.list_trials())
    assert [t.trial_name for t in trials] == ["churn-lr"]
    assert [c.trial_component_name for c in trials[0].list_trial_components()] == [
        "sklearn-job-aws-training-job"
    ]


def test_lightgbm_log_lines_become_trial_component_metrics(
    home: Path, tmp_path: Path, dataset: Path
) -> None:
    estimator = Estimator(
        entry_point="train.py",
        source_dir=str(_source(tmp_path, LIGHTGBM_SCRIPT)),
        hyperparameters={"num_leaves": 7, "learning_rate": 0.2, "rounds": 12},
        metric_definitions=[
            {"Name": "valid:logloss", "Regex": r"valid_0's binary_logloss: ([0-9.]+)"}
        ],
    )
    estimator.fit({"train": str(dataset)}, job_name="lgbm-job", logs=False)

    component = TrialComponent.load("lgbm-job-aws-training-job")
    [summary] = component.metrics
    assert summary.metric_name == "valid:logloss"
    assert summary.count == 12
    assert summary.last < summary.max
    series = component.metric_series("valid:logloss")
    assert [p.iteration_number for p in series] == list(range(12))
    assert "model.txt" in _members(estimator.model_data)


def test_the_container_contract_reaches_the_script(
    home: Path, tmp_path: Path, dataset: Path
) -> None:
    estimator = Estimator(
        entry_point="probe.py",
        source_dir=str(_source(tmp_path, PROBE_SCRIPT, "probe.py")),
        hyperparameters={"epochs": 3, "optimizer": "adam", "dropout": 0.25, "verbose": True},
        metric_definitions=LOSS,
    )
    estimator.fit({"train": str(dataset)}, job_name="probe-job", logs=False)
    job = estimator.latest_training_job.describe()

    report = json.loads(_members(job.output_data_uri)["report.json"])
    hyperparameters = report["files"]["hyperparameters.json"]
    assert all(isinstance(v, str) for v in hyperparameters.values())
    assert hyperparameters == {
        "epochs": "3",
        "optimizer": '"adam"',
        "dropout": "0.25",
        "verbose": "true",
    }
    assert report["argv"] == [
        "--dropout", "0.25", "--epochs", "3", "--optimizer", "adam", "--verbose", "True"
    ]  # fmt: skip
    assert report["files"]["resourceconfig.json"]["current_host"] == "algo-1"
    assert report["files"]["inputdataconfig.json"]["train"]["TrainingInputMode"] == "File"
    assert report["channel_files"] == ["train.csv"]
    env = report["env"]
    assert env["TRAINING_JOB_NAME"] == "probe-job"
    assert env["SM_CHANNELS"] == '["train"]'
    assert json.loads(env["SM_HPS"]) == {
        "dropout": 0.25,
        "epochs": 3,
        "optimizer": "adam",
        "verbose": True,
    }
    assert env["SM_HP_EPOCHS"] == "3"
    assert env["SM_CHANNEL_TRAIN"].endswith("/input/data/train")
    assert env["SM_MODEL_DIR"].endswith("/model")
    assert env["SM_USER_ENTRY_POINT"] == "probe.py"
    assert set(_members(estimator.model_data)) == {"weights.txt", "sub/extra.txt"}
    assert job.final_metric_data_list[0].value == 0.25
    assert job.hyper_parameters == hyperparameters


# --- how jobs end --------------------------------------------------------------------------


def test_a_crashing_script_fails_with_its_reason(home: Path, tmp_path: Path) -> None:
    crash = Estimator("train.py", source_dir=str(_source(tmp_path, CRASH_SCRIPT)))
    failure_file = Estimator(
        "fail.py", source_dir=str(_source(tmp_path, FAILURE_FILE_SCRIPT, "fail.py"))
    )
    crash.fit(job_name="crash-job", wait=False)
    failure_file.fit(job_name="failure-file-job", wait=False)

    with pytest.raises(JobFailed, match="bad value in row 7"):
        crash.latest_training_job.wait()
    crashed = crash.latest_training_job.describe()
    assert crashed.training_job_status == JobStatus.FAILED
    assert crashed.failure_reason.startswith("AlgorithmError: exit code 1")
    assert "ValueError: bad value in row 7" in crashed.failure_reason
    assert "loading the data" in crashed.failure_reason

    with pytest.raises(JobFailed):
        failure_file.latest_training_job.wait()
    written = failure_file.latest_training_job.describe()
    assert written.failure_reason == "Out of memory while building the tree"
    assert TrialComponent.load("crash-job-aws-training-job").status.primary_status == "Failed"


def test_a_hanging_script_is_stopped_at_max_run(home: Path, tmp_path: Path) -> None:
    estimator = Estimator("train.py", source_dir=str(_source(tmp_path, SLEEPER_SCRIPT)), max_run=1)
    started = time.monotonic()
    with pytest.raises(JobFailed, match="MaxRuntimeExceeded"):
        estimator.fit(job_name="hanging-job", logs=False)
    assert time.monotonic() - started < 10
    job = estimator.latest_training_job.describe()
    assert job.training_job_status == JobStatus.STOPPED
    assert job.secondary_status == SecondaryStatus.MAX_RUNTIME_EXCEEDED
    assert "max_run=1" in job.failure_reason


def test_stop_ends_a_running_job_stopped(home: Path, tmp_path: Path) -> None:
    estimator = Estimator("train.py", source_dir=str(_source(tmp_path, SLEEPER_SCRIPT)))
    estimator.fit(job_name="stopped-job", wait=False)
    job = estimator.latest_training_job
    _wait_for(lambda: list(job.logs()) == ["started"])

    assert job.stop().training_job_status == JobStatus.STOPPING
    ended = training_backend().wait("stopped-job", timeout=20)
    assert ended.training_job_status == JobStatus.STOPPED
    assert ended.secondary_status == SecondaryStatus.STOPPED
    component = TrialComponent.load("stopped-job-aws-training-job")
    assert component.status.primary_status == "Stopped"


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"entry_point": "missing.py"}, "entry point .*missing.py.* not found"),
        ({"metric_definitions": [{"Name": "loss", "Regex": "loss=([0-9"}]}, "does not compile"),
        ({"metric_definitions": [{"Name": "loss", "Regex": "loss=[0-9.]+"}]}, "no capture group"),
        ({"hyperparameters": {"layers": [64, 32]}}, "hyperparameter 'layers'"),
        ({"hyperparameters": {"opts": {"a": 1}}}, "hyperparameter 'opts'"),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(
    home: Path, tmp_path: Path, arguments: dict, message: str
) -> None:
    source = _source(tmp_path, SLOW_SCRIPT)
    estimator = Estimator(**{"entry_point": "train.py", "source_dir": str(source), **arguments})
    with pytest.raises(ValidationError, match=message):
        estimator.fit(job_name="bad-job")
    assert training_backend().list_training_jobs().items == []
    assert not (home / "artifacts" / "training-jobs" / "bad-job").exists()


def test_a_duplicate_job_name_is_refused_and_leaves_the_first_job_alone(
    home: Path, tmp_path: Path
) -> None:
    first = Estimator("train.py", source_dir=str(_source(tmp_path, SLOW_SCRIPT)))
    first.fit(job_name="twice", wait=False)
    source = home / "artifacts" / "training-jobs" / "twice" / "source" / "sourcedir.tar.gz"
    before = source.read_bytes()

    other = Estimator("train.py", source_dir=str(_source(tmp_path, CRASH_SCRIPT, "train2.py")))
    other.entry_point = "train2.py"
    with pytest.raises(AlreadyExists, match="'twice' exists already"):
        other.fit(job_name="twice")
    assert source.read_bytes() == before
    first.latest_training_job.wait()
    assert [j.training_job_name for j in training_backend().list_training_jobs().items] == ["twice"]


def test_a_job_whose_trial_component_exists_is_recorded_failed_with_the_reason(
    home: Path, tmp_path: Path
) -> None:
    services().experiments.create_trial_component("taken-aws-training-job")
    estimator = Estimator("train.py", source_dir=str(_source(tmp_path, SLOW_SCRIPT)))

    with pytest.raises(AlreadyExists, match="'taken-aws-training-job' exists already"):
        estimator.fit(job_name="taken")

    job = training_backend().describe_training_job("taken")
    assert job.training_job_status == JobStatus.FAILED
    assert job.failure_reason.startswith("ClientError: trial component 'taken-aws-training-job'")
    assert TrialComponent.load("taken-aws-training-job").status.primary_status == "InProgress"


# --- a job outlives its watcher --------------------------------------------------------------

_START_AND_LEAVE = """
import sys
import time
from slipway.training.estimator import Estimator

estimator = Estimator("train.py", source_dir=sys.argv[1],
                      metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9.]+);"}])
estimator.fit(job_name=sys.argv[2], wait=False)
job = estimator.latest_training_job
while not list(job.logs()):
    time.sleep(0.02)
# The process ends here; its watcher thread ends with it, the job's process goes on.
"""


def test_a_job_survives_its_watchers_death_and_is_adopted_at_once(
    home: Path, tmp_path: Path
) -> None:
    source = _source(tmp_path, SLOW_SCRIPT)
    starter = tmp_path / "starter.py"
    starter.write_text(_START_AND_LEAVE)
    subprocess.run(
        [sys.executable, str(starter), str(source), "orphan-job"],
        check=True,
        timeout=60,
        env={**os.environ, "SLIPWAY_HOME": str(home)},
    )
    job = services().training.describe_training_job("orphan-job")
    assert job.training_job_status == JobStatus.IN_PROGRESS

    # Its watcher's process has ended on this host: no need to wait out its silence.
    assert services().training.adopt_orphans() == ["orphan-job"]
    ended = services().training.wait("orphan-job", timeout=30)

    assert ended.training_job_status == JobStatus.COMPLETED
    lines = [line.message for line in services().training.read_logs("orphan-job")]
    assert lines == [f"step={s} loss={1.0 / (s + 1):.4f};" for s in range(6)]
    component = TrialComponent.load("orphan-job-aws-training-job")
    series = component.metric_series("loss")  # each line scanned once, by either watcher
    assert [p.iteration_number for p in series] == list(range(6))
    assert [p.value for p in series] == [round(1.0 / (s + 1), 4) for s in range(6)]
    assert ended.model_artifacts is not None


BIG_MODEL_SCRIPT = """
import os
with open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.bin"), "wb") as out:
    out.write(os.urandom(48 * 1024 * 1024))  # packing it takes a while
"""


def test_a_job_packing_its_model_keeps_its_watcher(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(lifecycle, "ORPHAN_AFTER", dt.timedelta(seconds=0.2))
    source = _source(tmp_path, BIG_MODEL_SCRIPT)
    Estimator("train.py", source_dir=str(source)).fit(job_name="packing", wait=False)
    training = services().training

    while training.describe_training_job("packing").secondary_status != "Uploading":
        time.sleep(0.01)
    uploading_since = time.monotonic()
    adopted = []
    while training.describe_training_job("packing").secondary_status == "Uploading":
        adopted += training.adopt_orphans()  # its watcher still beats: nobody takes it over
        time.sleep(0.02)
    packed_for = time.monotonic() - uploading_since
    ended = training.wait("packing", timeout=60)

    assert packed_for > 2 * lifecycle.ORPHAN_AFTER.total_seconds()  # long enough to tell
    assert adopted == []
    assert ended.training_job_status == JobStatus.COMPLETED, ended.failure_reason


def test_a_new_job_is_watched_from_birth(home: Path) -> None:
    jobs = services().jobs
    jobs.create_job(JobKind.TRAINING, "newborn", {})
    # Its creator's heartbeat is on it already: no other process may take it over yet.
    assert jobs.orphans(JobKind.TRAINING, dt.timedelta(seconds=15)) == []
    time.sleep(0.01)
    assert [j.job_name for j in jobs.orphans(JobKind.TRAINING, dt.timedelta(0))] == ["newborn"]


def test_jobs_just_created_or_queued_are_not_taken_over(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_MAX_PARALLEL_JOBS", "1")  # the second job queues for the slot
    monkeypatch.setattr(lifecycle, "HEARTBEAT_SECONDS", 0.1)
    reload_settings()
    reset()
    # The first job runs until it is stopped: the second waits for its slot all along.
    long_source = str(_source(tmp_path, "import time\ntime.sleep(60)\n", "long.py"))
    Estimator("long.py", source_dir=long_source).fit(job_name="running-job", wait=False)
    Estimator("train.py", source_dir=str(_source(tmp_path, SLOW_SCRIPT))).fit(
        job_name="queued-job", wait=False
    )

    # Any slipway process adopts orphans as it starts: these two have a watcher already.
    listed = subprocess.run(
        [SLIPWAY, "tuning", "list"],  # adopts training jobs too
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SLIPWAY_HOME": str(home)},
    )
    assert listed.returncode == 0, listed.stderr
    # A queued job keeps beating while it waits, however long that is.
    monkeypatch.setattr(lifecycle, "ORPHAN_AFTER", dt.timedelta(seconds=0.5))
    time.sleep(0.7)
    assert services().training.describe_training_job("queued-job").secondary_status == (
        SecondaryStatus.STARTING
    )
    assert services().training.adopt_orphans() == []

    services().training.stop_training_job("running-job")
    stopped = services().training.wait("running-job", timeout=60)
    assert stopped.training_job_status == JobStatus.STOPPED, stopped.failure_reason
    ended = services().training.wait("queued-job", timeout=60)
    assert ended.training_job_status == JobStatus.COMPLETED, ended.failure_reason


def test_a_folder_made_ahead_never_replaces_an_existing_one(home: Path, tmp_path: Path) -> None:
    source = _source(tmp_path, SLOW_SCRIPT)
    Estimator("train.py", source_dir=str(source)).fit(job_name="kept-job")
    training = services().training
    folder = home / "jobs" / "training" / "kept-job"
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))

    request = CreateTrainingJob.model_validate(
        services().jobs.get_job(JobKind.TRAINING, "kept-job").spec
    )
    assert training.prepare_folder(request) is None
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before

    fresh = request.model_copy(update={"training_job_name": "fresh-job"})
    prepared = training.prepare_folder(fresh)
    assert prepared is not None and prepared.name == "fresh-job"
    assert (home / "jobs" / "training" / "fresh-job" / "code" / "train.py").is_file()
    training.discard_folder(prepared)
    assert not (home / "jobs" / "training" / "fresh-job").exists()


# --- remote mode ---------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A `slipway server` over its own SQLite home; the SDK in this process talks to it."""
    server_home = tmp_path / "server-home"
    port = free_port()
    env = {"SLIPWAY_HOME": str(server_home), "SLIPWAY_SERVER_URL": "", "SLIPWAY_TOKEN": ""}
    with run_server_process([SLIPWAY, "server", "--port", str(port)], env, port):
        for name in [n for n in os.environ if n.startswith("SLIPWAY_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "client-home"))
        monkeypatch.setenv("SLIPWAY_SERVER_URL", f"http://127.0.0.1:{port}")
        reload_settings()
        reset()
        yield server_home
        reset()
        get_settings.cache_clear()


def test_fit_against_a_server(
    server: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    estimator = Estimator(
        "train.py", source_dir=str(_source(tmp_path, SLOW_SCRIPT)), metric_definitions=LOSS
    )
    estimator.fit(job_name="remote-job", logs=True)

    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"step={s} loss={1.0 / (s + 1):.4f};" for s in range(6)]
    job = TrainingJob.load("remote-job").describe()
    assert job.training_job_status == JobStatus.COMPLETED
    assert job.final_metric_data_list[0].value == pytest.approx(1 / 6, abs=1e-4)
    assert job.model_artifacts["S3ModelArtifacts"].startswith(f"file://{server}")
    assert (server / "jobs" / "training" / "remote-job" / "code" / "train.py").exists()
    with pytest.raises(AlreadyExists):
        estimator.fit(job_name="remote-job")

    env = {k: v for k, v in os.environ.items() if k != "SLIPWAY_HOME"}
    env["SLIPWAY_HOME"] = str(tmp_path / "cli-home")  # nothing there: it asks the server
    listed = subprocess.run(
        [SLIPWAY, "jobs", "list", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert [j["JobName"] for j in json.loads(listed.stdout)] == ["remote-job"]


# --- the jobs CLI ------------------------------------------------------------------------------


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env["SLIPWAY_HOME"] = str(home)
    return subprocess.run(
        [SLIPWAY, "jobs", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_jobs_cli_lists_shows_follows_and_stops_jobs(home: Path, tmp_path: Path) -> None:
    done = Estimator("train.py", source_dir=str(_source(tmp_path, SLOW_SCRIPT)))
    done.fit(job_name="cli-done", wait=False)
    sleeper = Estimator("sleep.py", source_dir=str(_source(tmp_path, SLEEPER_SCRIPT, "sleep.py")))
    sleeper.fit(job_name="cli-sleeper", wait=False)

    followed = _cli(home, "logs", "cli-done", "-f")
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.splitlines()[-1] == "step=5 loss=0.1667;"

    listed = _cli(home, "list", "--kind", "training", "--status", "completed", "--json")
    assert [(j["JobName"], j["Status"]) for j in json.loads(listed.stdout)] == [
        ("cli-done", "Completed")
    ]

    shown = _cli(home, "show", "cli-done")
    assert "Completed" in shown.stdout and "Uploading" in shown.stdout

    stopped = _cli(home, "stop", "cli-sleeper")
    assert stopped.stdout.strip() == "TrainingJob 'cli-sleeper' is Stopping"
    assert training_backend().wait("cli-sleeper", timeout=20).training_job_status == "Stopped"

    missing = _cli(home, "show", "no-such-job")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "slipway: job 'no-such-job' not found; list jobs with `slipway jobs list`"
    ]
