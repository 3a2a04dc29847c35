"""A job's script sees the same Python whichever way its process starts.

The fork server (the default) forks job processes from a prestarted interpreter; the
``spawn`` method starts a new interpreter per job. Each test runs real jobs and compares
what the script sees, or what a user sees of the job, with what ``python script.py``
gives.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from slipway.jobs.models import JobStatus
from slipway.platform import reset, services
from slipway.settings import reload_settings
from slipway.training.estimator import Estimator, JobFailed

PROBE = """
import json, os, signal, sys, threading, atexit

def annotated(x: int) -> None:
    pass

state = {
    "name": __name__,
    "file": __file__,
    "spec": repr(__spec__),
    "main_is_this": sys.modules["__main__"].__dict__ is globals(),
    "argv": sys.argv,
    "orig_argv_tail": sys.orig_argv[1:],
    "path": sys.path,
    "cwd": os.getcwd(),
    "flags": list(sys.flags),
    "executable": sys.executable,
    "own_session": os.getpgid(0) == os.getsid(0),  # the job's own process group
    "stdin": sys.stdin.read(),
    "stdout": [sys.stdout.encoding, sys.stdout.errors, sys.stdout.line_buffering],
    "stderr": [sys.stderr.encoding, sys.stderr.errors],
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "signals": {s.name: str(signal.getsignal(s)) for s in
                (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE, signal.SIGHUP)},
    "umask": os.umask(0o022),
    "threads": threading.active_count(),
    "env": sorted(k for k in os.environ if not k.startswith("SLIPWAY_JOB_")),
    "annotations": repr(annotated.__annotations__),
    "model_dir": os.environ["SM_MODEL_DIR"],
}
print(json.dumps(state))
atexit.register(print, "atexit ran")
threading.Thread(target=lambda: (__import__("time").sleep(0.2), print("thread joined"))).start()
raise SystemExit(2**40)  # 0 for the operating system, which keeps the low 8 bits
"""

CRASH = """
import sys
print("before", file=sys.stderr)

def load(row):
    raise ValueError(f"bad value in row {row}")

load(7)
"""


def _use_settings() -> None:
    reload_settings()
    reset()


def _start_method(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    monkeypatch.setenv("SLIPWAY_JOB_START_METHOD", method)
    _use_settings()


def _source(tmp_path: Path, script: str, name: str = "train.py") -> Path:
    folder = tmp_path / f"src-{name}"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(textwrap.dedent(script))
    return folder


def _log(name: str) -> list[str]:
    return [line.message for line in services().training.read_logs(name)]


def _run(tmp_path: Path, script: str, name: str, **options) -> tuple[str, list[str]]:
    """Run a script as a job: its status and its log."""
    estimator = Estimator("train.py", source_dir=str(_source(tmp_path, script)), **options)
    with contextlib.suppress(JobFailed):  # a failed job is looked at below
        estimator.fit(job_name=name, logs=False)
    status = services().training.describe_training_job(name).training_job_status
    return status, _log(name)


def _probe(tmp_path: Path, name: str) -> tuple[dict, list[str]]:
    status, lines = _run(tmp_path, PROBE, name, hyperparameters={"lr": 0.1})
    assert status == JobStatus.COMPLETED, lines
    state = json.loads(lines[0])
    folder = str(Path(state.pop("model_dir")).parent)  # the job's folder: differs by name
    return json.loads(json.dumps(state).replace(folder, "<job>")), lines[1:]


def test_a_forked_job_sees_what_a_new_interpreter_would_show(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forked, forked_end = _probe(tmp_path, "forked")
    _start_method(monkeypatch, "spawn")
    spawned, spawned_end = _probe(tmp_path, "spawned")

    assert forked == spawned
    assert forked["name"] == "__main__" and forked["main_is_this"] and forked["spec"] == "None"
    assert forked["file"] == "<job>/code/train.py"
    assert forked["argv"] == ["<job>/code/train.py", "--lr", "0.1"]
    assert forked["path"][0] == "<job>/code"
    assert forked["cwd"] == "<job>/code"
    assert forked["own_session"] and forked["stdin"] == "" and forked["fds"][:3] == [0, 1, 2]
    # Compiled with its own __future__ imports only: annotations are objects, not text.
    assert forked["annotations"] == "{'x': <class 'int'>, 'return': None}"
    # After the script: atexit handlers run and non-daemon threads are joined, in order.
    assert forked_end == spawned_end == ["thread joined", "atexit ran"]


def test_jobs_forked_from_one_server_draw_different_random_numbers(
    home: Path, tmp_path: Path
) -> None:
    script = """
    import os, random, uuid
    import numpy as np
    print(random.random(), np.random.random(), uuid.uuid4(), os.getppid())
    """
    draws = [_run(tmp_path, script, f"draw-{i}")[1][0].split() for i in range(3)]
    assert len({d[3] for d in draws}) == 1  # one server forked all three
    for column in range(3):
        assert len({d[column] for d in draws}) == 3


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_a_job_ends_as_the_interpreter_ends_a_script(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    _start_method(monkeypatch, method)
    script = """
    import os, sys
    # Left open: the interpreter flushes it as the script's globals go.
    notes = open(os.path.join(os.environ["SM_MODEL_DIR"], "notes.txt"), "w")
    notes.write("written, never closed")
    print("leaving")
    sys.exit("bye: the data was bad")
    """
    status, lines = _run(tmp_path, script, f"exit-{method}")

    assert status == JobStatus.FAILED
    assert lines == ["leaving", "bye: the data was bad"]
    job = services().training.describe_training_job(f"exit-{method}")
    assert job.failure_reason.startswith("AlgorithmError: exit code 1")
    notes = home / "jobs" / "training" / f"exit-{method}" / "model" / "notes.txt"
    assert notes.read_text() == "written, never closed"


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_an_uncaught_error_is_printed_as_python_prints_it(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    _start_method(monkeypatch, method)
    source = _source(tmp_path, CRASH)
    plain = subprocess.run(
        [sys.executable, str(source / "train.py")], capture_output=True, text=True, cwd=source
    )
    status, lines = _run(tmp_path, CRASH, f"crash-{method}")

    assert status == JobStatus.FAILED
    job_file = str(home / "jobs" / "training" / f"crash-{method}" / "code" / "train.py")
    expected = plain.stderr.replace(str(source / "train.py"), job_file).splitlines()
    assert lines == expected
    assert lines[2] == f'  File "{job_file}", line 8, in <module>'
    reason = services().training.describe_training_job(f"crash-{method}").failure_reason
    assert reason.startswith("AlgorithmError: exit code 1")

    (source / "train.py").write_text("print('a'\n")
    plain = subprocess.run(
        [sys.executable, str(source / "train.py")], capture_output=True, text=True
    )
    status, lines = _run(tmp_path, "print('a'\n", f"syntax-{method}")
    assert status == JobStatus.FAILED
    job_file = job_file.replace("crash-", "syntax-")
    assert lines == plain.stderr.replace(str(source / "train.py"), job_file).splitlines()
    assert lines[-1] == "SyntaxError: '(' was never closed"


def test_a_job_that_sets_python_variables_gets_an_interpreter_started_with_them(
    home: Path, tmp_path: Path
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "helper_module.py").write_text("ANSWER = 42\n")
    script = """
    import os, sys
    import helper_module
    print(helper_module.ANSWER, hash("slipway"), os.getppid())
    """
    environment = {"PYTHONPATH": str(extra), "PYTHONHASHSEED": "0"}
    status, lines = _run(tmp_path, script, "own-server", environment=environment)
    plain = subprocess.run(
        [sys.executable, "-c", 'print(hash("slipway"))'],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert status == JobStatus.COMPLETED, lines
    answer, hashed, server = lines[0].split()
    assert (answer, hashed) == ("42", plain.stdout.strip())

    _, lines = _run(tmp_path, "import os\nprint(os.getppid())\n", "default-server")
    assert lines[0] != server  # a job without them is forked by another server


def test_a_package_installed_while_slipway_runs_reaches_the_next_job(
    home: Path, tmp_path: Path
) -> None:
    script = "import os\nprint(os.getppid())\n"
    first = _run(tmp_path, script, "before-install")[1][0]
    assert _run(tmp_path, script, "same-server")[1][0] == first
    # Installing a package changes its site-packages folder; a new server reads it anew.
    site = next(p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p))
    stamp = os.stat(site)
    os.utime(site, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))
    assert _run(tmp_path, script, "after-install")[1][0] != first


def test_jobs_still_start_and_end_when_the_fork_server_is_killed(
    home: Path, tmp_path: Path
) -> None:
    script = """
    import os, time
    print(os.getppid(), flush=True)
    time.sleep(float(os.environ.get("SLEEP", "0")))
    """
    estimator = Estimator(
        "train.py", source_dir=str(_source(tmp_path, script)), environment={"SLEEP": "2"}
    )
    estimator.fit(job_name="orphaned", wait=False)
    deadline = time.monotonic() + 30
    while not _log("orphaned"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server = int(_log("orphaned")[0])
    os.kill(server, signal.SIGKILL)

    # The running job's process goes on without its server; its watcher follows its pid.
    ended = services().training.wait("orphaned", timeout=30)
    assert ended.training_job_status == JobStatus.FAILED
    assert "ended without an exit code" in ended.failure_reason
    # The next job gets a new server.
    status, lines = _run(tmp_path, script, "after-kill", environment={"SLEEP": "2"})
    assert status == JobStatus.COMPLETED
    assert int(lines[0]) != server


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_a_script_s_own_modules_win_and_their_open_files_are_flushed(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    _start_method(monkeypatch, method)
    source = _source(tmp_path, "import helper, json\nprint(json.SHADOWED, helper.NAME)\n")
    # A module named as the standard library's: the script's folder comes first.
    (source / "json.py").write_text("SHADOWED = True\n")
    (source / "helper.py").write_text(
        "import os\n"
        "NAME = 'helper'\n"
        "notes = open(os.path.join(os.environ['SM_MODEL_DIR'], 'notes.txt'), 'w')\n"
        "notes.write('from a module, never closed')\n"
    )
    estimator = Estimator("train.py", source_dir=str(source))
    estimator.fit(job_name=f"own-{method}", logs=False)

    assert _log(f"own-{method}") == ["True helper"]
    notes = home / "jobs" / "training" / f"own-{method}" / "model" / "notes.txt"
    assert notes.read_text() == "from a module, never closed"


def test_a_job_runs_in_the_time_zone_its_environment_sets(home: Path, tmp_path: Path) -> None:
    script = "import time\nprint(time.strftime('%Z'), time.timezone)\n"
    _, first = _run(tmp_path, script, "utc")
    status, tokyo = _run(tmp_path, script, "tokyo", environment={"TZ": "Asia/Tokyo"})
    assert status == JobStatus.COMPLETED
    assert tokyo == ["JST -32400"]
    assert first != tokyo


_START_AND_EXIT = """
import sys
import time
from slipway.training.estimator import Estimator

estimator = Estimator("train.py", source_dir=sys.argv[1])
estimator.fit(job_name="outlives-its-caller", wait=False)
while not list(estimator.latest_training_job.logs()):  # its process runs
    time.sleep(0.02)
"""


def test_a_caller_that_reads_slipway_s_output_is_not_held_by_the_jobs(
    home: Path, tmp_path: Path
) -> None:
    source = _source(tmp_path, "import time\nprint('started', flush=True)\ntime.sleep(10)\n")
    starter = tmp_path / "starter.py"
    starter.write_text(_START_AND_EXIT)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, str(starter), str(source)],
        check=True,
        capture_output=True,  # reads stdout and stderr to their end
        timeout=60,
        env={**os.environ, "SLIPWAY_HOME": str(home)},
    )
    # The job (and the fork server that started it) runs on, but not on the caller's pipes.
    assert time.monotonic() - started < 7
    job = services().training.describe_training_job("outlives-its-caller")
    assert job.training_job_status == JobStatus.IN_PROGRESS
