"""`slipway automl create` as a user runs it: a live leaderboard in a terminal while the job
runs, the best candidate at the end, and one line of error for bad input."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

SLIPWAY = str(Path(sys.executable).parent / "slipway")
# Cursor movements and colours of Rich's live display.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An embedded slipway home of its own, and a terminal wide enough for the table."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    return {**clean, "SLIPWAY_HOME": str(tmp_path / "home"), "COLUMNS": "200", "LINES": "60",
            "TERM": "xterm"}  # fmt: skip


def _cancer_csv(path: Path) -> Path:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = X.iloc[:150, :4].copy()
    frame["colour"] = np.where(np.arange(150) % 3 == 0, "red", "blue")
    frame["diagnosis"] = np.where(y.iloc[:150] == 1, "benign", "malignant")
    frame.to_csv(path, index=False)
    return path


def _run_in_terminal(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as its stdout; its exit code and all it wrote."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, env=env, stdout=follower, stderr=follower,
                               stdin=subprocess.DEVNULL)  # fmt: skip
    os.close(follower)
    deadline = time.monotonic() + timeout
    chunks = []
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closes when the command has ended
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, b"".join(chunks).decode("utf-8", "replace")


def _slipway_json(args: list[str], env: dict[str, str]) -> object:
    done = subprocess.run([SLIPWAY, *args, "--json"], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_create_follows_the_job_on_a_live_leaderboard_and_names_the_best_candidate(
    tmp_path: Path, env: dict[str, str]
) -> None:
    data = _cancer_csv(tmp_path / "cancer.csv")
    args = [SLIPWAY, "automl", "create", "cli-cancer", "--data", str(data), "--target",
            "diagnosis", "--max-candidates", "3", "--total-seconds", "120"]  # fmt: skip

    code, output = _run_in_terminal(args, env, timeout=180)

    screen = ANSI.sub("", output).replace("\r", "")
    assert code == 0, screen[-3000:]
    # the display was redrawn while the job ran, not only printed once at the end
    assert "cli-cancer: InProgress / " in screen
    assert "cli-cancer: Completed / Completed" in screen
    assert "BinaryClassification (the target has exactly 2 distinct values" in screen
    final = screen[screen.rindex("cli-cancer: Completed") :]
    candidates = _slipway_json(["automl", "candidates", "cli-cancer"], env)
    assert len(candidates) == 3
    for rank, c in enumerate(candidates, 1):
        value = c["FinalAutoMLJobObjectiveMetric"]["Value"]
        row = re.search(rf"│\s*{rank}\s*│\s*{re.escape(c['CandidateName'])}\s*│.*", final)
        assert row is not None, f"no row {rank} for {c['CandidateName']} in:\n{final}"
        assert f"{value:.5g}" in row.group(0) and "Completed" in row.group(0)
    described = _slipway_json(["automl", "show", "cli-cancer"], env)
    best = described["BestCandidate"]
    assert best["CandidateName"] == candidates[0]["CandidateName"]
    metric = best["FinalAutoMLJobObjectiveMetric"]
    assert (
        f"best candidate: {best['CandidateName']} (F1 {metric['Value']:.5g}), registered as "
        "model package arn:slipway:model-package/cli-cancer/1" in final
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "label"], "slipway: target column 'label' is not in the data"),
        (
            ["--target", "diagnosis", "--problem-type", "Ranking"],
            "slipway: problem type 'Ranking' is not valid; use one of",
        ),
        (
            ["--target", "diagnosis", "--objective", "MSE"],
            "slipway: objective metric 'MSE' does not fit BinaryClassification",
        ),
        (
            ["--target", "diagnosis", "--max-candidates", "many"],
            "for '--max-candidates': Input should be a valid integer, unable to parse string as "
            "an integer (got 'many')",
        ),
    ],
)
def test_bad_arguments_print_one_line_and_create_nothing(
    tmp_path: Path, env: dict[str, str], extra: list[str], message: str
) -> None:
    data = _cancer_csv(tmp_path / "cancer.csv")

    done = subprocess.run(
        [SLIPWAY, "automl", "create", "bad", "--data", str(data), *extra],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode != 0
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert message in done.stderr
    assert _slipway_json(["automl", "list"], env) == []
