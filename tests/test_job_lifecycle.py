"""The job life cycle every kind shares, and the local backend that runs jobs' processes.

The life cycle's tests run plain work in place of a kind's: what they show holds for
training, tuning, transform, monitoring and AutoML jobs alike. The backend's tests run
real processes with each start method.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from slipway.errors import NotFound
from slipway.jobs import lifecycle
from slipway.jobs.backend import Command, JobRef, Outcome, follow
from slipway.jobs.lifecycle import JobLifecycle
from slipway.jobs.local import LocalBackend, LocalProcess
from slipway.jobs.models import ChildState, JobKind, JobStatus, SecondaryStatus
from slipway.jobs.processes import alive
from slipway.platform import services

KIND = JobKind.TRANSFORM  # any kind: the life cycle never looks at what a job does


def _create(name: str) -> None:
    services().jobs.create_job(KIND, name, {})


def _told(into: dict[str, ChildState | None]) -> Callable[[str, ChildState | None], None]:
    return lambda name, state: into.__setitem__(name, state)


# --- the life cycle --------------------------------------------------------------------------


def test_work_that_fails_ends_its_job_failed_saying_whose_fault_it_was(home: Path) -> None:
    jobs = JobLifecycle(services().jobs, KIND)
    told: dict[str, ChildState | None] = {}
    for name, error in (("refused", NotFound("model 'm' not found")), ("broken", KeyError("k"))):
        _create(name)
        jobs.add_end_listener(name, _told(told))

        def work(error: Exception = error) -> None:
            raise error

        jobs.run(name, work)

    refused, broken = jobs.wait("refused", timeout=10), jobs.wait("broken", timeout=10)

    assert (refused.status, refused.failure_reason) == (
        JobStatus.FAILED,
        "ClientError: model 'm' not found",
    )
    assert (broken.status, broken.failure_reason) == (
        JobStatus.FAILED,
        "InternalError: KeyError('k')",
    )
    assert broken.secondary_status == SecondaryStatus.FAILED
    assert told == {name: ChildState(JobStatus.FAILED, {}) for name in ("refused", "broken")}


def test_a_kind_ends_a_failed_job_its_own_way(home: Path) -> None:
    jobs = JobLifecycle(services().jobs, KIND)
    _create("own-way")

    def fail(error: Exception) -> None:
        jobs.finish("own-way", JobStatus.FAILED, f"the kind says: {error}", result={"Kept": 1})

    jobs.run("own-way", lambda: 1 / 0 and None, fail)
    ended = jobs.wait("own-way", timeout=10)

    assert ended.failure_reason == "the kind says: division by zero"
    assert ended.result == {"Kept": 1}


def test_end_listeners_hear_how_a_job_ended_once_its_work_is_done(home: Path) -> None:
    jobs = JobLifecycle(services().jobs, KIND)
    told: dict[str, ChildState | None] = {}
    _create("done")
    jobs.add_end_listener("done", _told(told))

    def work() -> None:
        jobs.finish("done", JobStatus.COMPLETED, result={"Records": 3})
        assert told == {}  # not before the work is over

    jobs.run("done", work)
    jobs.wait("done", timeout=10)

    assert told == {"done": ChildState(JobStatus.COMPLETED, {"Records": 3})}


def test_a_stop_reaches_the_work_which_ends_the_job_stopped(home: Path) -> None:
    jobs = JobLifecycle(services().jobs, KIND)
    _create("stoppable")

    def work() -> None:
        while not jobs.stop_requested("stoppable"):
            time.sleep(0.02)
        jobs.finish("stoppable", JobStatus.STOPPED)

    jobs.run("stoppable", work)
    asked = jobs.stop("stoppable")
    ended = jobs.wait("stoppable", timeout=10)

    assert asked.status == JobStatus.STOPPING
    assert ended.status == JobStatus.STOPPED
    assert ended.secondary_status == SecondaryStatus.STOPPED


def test_wait_gives_up_after_its_timeout(home: Path) -> None:
    jobs = JobLifecycle(services().jobs, KIND)
    _create("endless")
    started = time.monotonic()

    found = jobs.wait("endless", timeout=0.3)

    assert found.status == JobStatus.IN_PROGRESS
    assert 0.3 <= time.monotonic() - started < 5


def test_jobs_watched_or_queued_here_keep_beating_and_are_not_taken_over(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(lifecycle, "ORPHAN_AFTER", dt.timedelta(seconds=0.4))
    jobs = JobLifecycle(services().jobs, KIND, max_parallel=1)  # the second job queues
    release = threading.Event()
    for name in ("running", "queued"):
        _create(name)
        jobs.run(name, lambda name=name: _finish_when(jobs, name, release), queue=True)
    another = JobLifecycle(services().jobs, KIND)  # another watcher, on the same database

    time.sleep(1.0)
    adopted = another.adopt_orphans(lambda name: None)
    release.set()

    assert adopted == []
    assert {jobs.wait(n, timeout=10).status for n in ("running", "queued")} == {JobStatus.COMPLETED}


def _finish_when(jobs: JobLifecycle, name: str, release: threading.Event) -> None:
    release.wait(10)
    jobs.finish(name, JobStatus.COMPLETED)


def test_a_silent_job_is_adopted_once_its_watcher_has_been_quiet_long_enough(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its watcher lives (this process) but stopped beating for it: hung, or on another host.
    monkeypatch.setattr(lifecycle, "ORPHAN_AFTER", dt.timedelta(seconds=0.5))
    jobs = JobLifecycle(services().jobs, KIND)
    _create("quiet")
    adopted: list[str] = []

    early = jobs.adopt_orphans(adopted.append)
    time.sleep(0.6)
    late = jobs.adopt_orphans(adopted.append)

    assert (early, late, adopted) == ([], ["quiet"], ["quiet"])
    assert jobs.adopt_orphans(adopted.append) == []  # its adopter beats for it now


_CREATE_AND_LEAVE = """
import sys
from slipway.jobs.models import JobKind
from slipway.platform import services

services().jobs.create_job(JobKind(sys.argv[1]), sys.argv[2], {})
"""


def test_a_job_whose_watcher_died_on_this_host_is_adopted_at_once_by_one_process(
    home: Path,
) -> None:
    subprocess.run(
        [sys.executable, "-c", _CREATE_AND_LEAVE, KIND.value, "left"],
        check=True,
        timeout=60,
        env={**os.environ, "SLIPWAY_HOME": str(home)},
    )
    # Two watchers (as two processes would) race for it, long before its silence counts.
    watchers = [JobLifecycle(services().jobs, KIND) for _ in range(2)]
    adopted: list[str] = []
    barrier = threading.Barrier(len(watchers))

    def race(watcher: JobLifecycle) -> None:
        barrier.wait()
        adopted.extend(watcher.adopt_orphans(lambda name: None))

    threads = [threading.Thread(target=race, args=(w,)) for w in watchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert adopted == ["left"]


# --- the local backend -----------------------------------------------------------------------


@pytest.fixture(params=["forkserver", "spawn"])
def local(request: pytest.FixtureRequest, home: Path) -> LocalBackend:
    return LocalBackend(request.param)


def _start(local: LocalBackend, tmp_path: Path, script: str) -> tuple[JobRef, LocalProcess]:
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(script))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    ref = JobRef(KIND, "job", tmp_path / "job")
    return ref, local.start(ref, Command([sys.executable, str(path)], env, tmp_path))


def _follow(
    process: LocalProcess,
    should_stop: Callable[[], bool] = lambda: False,
    max_run: float | None = None,
    grace: float = 2.0,
) -> tuple[Outcome, list[str]]:
    """Follow to the end; the outcome and every log line handed on, the last ones too."""
    lines: list[str] = []
    outcome = follow(
        process,
        lambda batch: lines.extend(text for _, text in batch),
        should_stop,
        max_run,
        time.time(),
        grace,
    )
    return outcome, lines + [text for _, text in outcome.last_lines]


def test_a_process_is_followed_to_its_end_with_every_log_line(
    local: LocalBackend, tmp_path: Path
) -> None:
    _, process = _start(
        local,
        tmp_path,
        """
        import sys, time
        for i in range(4):
            print(f"line {i}", flush=True)
            time.sleep(0.1)
        sys.stdout.write("no newline at the end")
        sys.exit(3)
        """,
    )
    outcome, lines = _follow(process)

    assert lines == ["line 0", "line 1", "line 2", "line 3", "no newline at the end"]
    assert (outcome.exit_code, outcome.stopped, outcome.timed_out) == (3, False, False)


def test_a_stop_asks_the_process_first_and_kills_it_after_the_grace_period(
    local: LocalBackend, tmp_path: Path
) -> None:
    _, process = _start(
        local,
        tmp_path,
        """
        import signal, time
        signal.signal(signal.SIGTERM, lambda *_: print("asked to stop; going on", flush=True))
        print("running", flush=True)
        while True:
            time.sleep(0.05)
        """,
    )
    seen = []
    started = time.monotonic()
    outcome, lines = _follow(process, lambda: seen.append(1) or len(seen) > 1, grace=1.5)
    took = time.monotonic() - started

    assert outcome.stopped and not outcome.timed_out
    assert lines == ["running", "asked to stop; going on"]
    assert took >= 1.5  # not killed before its grace period was over
    assert not alive(process.identity)


def test_a_process_that_ends_when_asked_is_not_killed(local: LocalBackend, tmp_path: Path) -> None:
    _, process = _start(
        local,
        tmp_path,
        """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: (print("bye", flush=True), sys.exit(0)))
        print("running", flush=True)
        while True:
            time.sleep(0.05)
        """,
    )
    started = time.monotonic()
    outcome, lines = _follow(process, lambda: True, grace=30)

    assert outcome.stopped
    assert lines == ["running", "bye"]
    assert time.monotonic() - started < 10


def test_a_process_that_runs_too_long_is_stopped(local: LocalBackend, tmp_path: Path) -> None:
    _, process = _start(local, tmp_path, "import time\ntime.sleep(60)\n")

    outcome, _ = _follow(process, max_run=0.5, grace=0.5)

    assert outcome.timed_out and not outcome.stopped


def test_a_process_that_crashes_ends_with_the_exit_code_of_its_signal(
    local: LocalBackend, tmp_path: Path
) -> None:
    _, process = _start(
        local,
        tmp_path,
        """
        import os, signal
        print("about to crash", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    outcome, lines = _follow(process)

    assert lines[0] == "about to crash"  # a spawned job's shell adds "Killed"
    assert outcome.exit_code == 128 + 9


def test_a_process_is_adopted_by_its_identity_from_where_its_first_watcher_stopped(
    local: LocalBackend, tmp_path: Path
) -> None:
    ref, first = _start(
        local,
        tmp_path,
        """
        import time
        for i in range(8):
            print(f"line {i}", flush=True)
            time.sleep(0.15)
        """,
    )
    handled: list[str] = []
    while len(handled) < 2:
        handled += first.read_log()
        first.wait(0.05)
    first.close()  # its watcher is gone; the process runs on

    adopted = local.adopt(ref, first.identity, skip_lines=len(handled))
    outcome, rest = _follow(adopted)

    assert handled + rest == [f"line {i}" for i in range(8)]
    assert outcome.exit_code == 0
