"""The experiment-tracking CLI, run as users run it: `slipway.cli.main` with the command's
arguments, exit code, stdout and stderr, in this process (a new interpreter per command
would cost a second each). The few tests at the end run the installed `slipway` script.

Data is seeded with the SDK in a fresh SLIPWAY_HOME; every test runs embedded (the CLI
opens that home's SQLite store) and remote (the CLI, pointed at an empty home, talks to a
`slipway server` on that store), and both must print the same things.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import free_port, run_server_process, run_slipway, slipway_home
from slipway.experiments import Experiment, Tracker, TrialComponent

SLIPWAY = str(Path(sys.executable).parent / "slipway")
MODES = ["embedded", "remote"]


def _run_trial(experiment: Experiment, name: str, parameters: dict, accuracy: list) -> None:
    trial = experiment.create_trial(trial_name=name)
    TrialComponent.create(f"{name}-training")
    with Tracker.load(f"{name}-training") as tracker:
        tracker.log_parameters(parameters)
        for step, value in enumerate(accuracy):
            tracker.log_metric("accuracy", value, iteration_number=step)
    trial.add_trial_component(tracker)


def _seed(home: Path) -> None:
    with slipway_home(home):
        churn = Experiment.create("churn", description="Which customers leave [and why]")
        Experiment.create("empty-experiment")
        _run_trial(churn, "churn-lr", {"C": 0.5, "solver": "lbfgs"}, [0.80, 0.95])
        _run_trial(churn, "churn-rf", {"n_estimators": 100}, [0.85])


@dataclass
class Cli:
    """Runs `slipway ...` against one store, embedded or through a server."""

    data_home: Path
    home: Path
    server_url: str | None = None

    @property
    def variables(self) -> dict[str, str]:
        """The SLIPWAY_* variables each command runs under, and no others."""
        variables = {"SLIPWAY_HOME": str(self.home)}
        if self.server_url:
            variables["SLIPWAY_SERVER_URL"] = self.server_url
        return variables

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = run_slipway(*args, **self.variables)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def installed(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the installed `slipway` script in a new process, as a user's shell does."""
        env = {name: v for name, v in os.environ.items() if not name.startswith("SLIPWAY_")}
        return subprocess.run(
            [SLIPWAY, *args], env=env | self.variables, capture_output=True, text=True, timeout=120
        )

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@contextmanager
def _cli(mode: str, data_home: Path, elsewhere: Path) -> Iterator[Cli]:
    if mode == "embedded":
        yield Cli(data_home, data_home)
        return
    port = free_port()
    command = [SLIPWAY, "server", "--port", str(port)]
    with run_server_process(command, env={"SLIPWAY_HOME": str(data_home)}, port=port):
        yield Cli(data_home, elsewhere, f"http://127.0.0.1:{port}")


@pytest.fixture(scope="module", params=MODES)
def cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """A CLI on seeded data that tests only read."""
    home = tmp_path_factory.mktemp("home")
    _seed(home)
    with _cli(request.param, home, tmp_path_factory.mktemp("elsewhere")) as run:
        yield run


@pytest.fixture(params=MODES)
def fresh_cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    """A CLI on seeded data of its own, for tests that change it."""
    _seed(tmp_path / "home")
    with _cli(request.param, tmp_path / "home", tmp_path / "elsewhere") as run:
        yield run


def _names(entities: list[dict], key: str) -> list[str]:
    return [entity[key] for entity in entities]


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("slipway: ")
    return lines[0]


# --- experiments ------------------------------------------------------------------------


def test_experiments_list_shows_every_experiment_in_a_table(cli: Cli) -> None:
    result = cli("experiments", "list")

    assert result.returncode == 0, result.stderr
    assert "churn" in result.stdout
    assert "empty-experiment" in result.stdout
    assert "Which customers leave [and why]" in result.stdout


def test_experiments_list_json_is_the_wire_shape_sorted_as_asked(cli: Cli) -> None:
    found = cli.json("experiments", "list", "--sort-by", "Name", "--sort-order", "Ascending")

    assert _names(found, "ExperimentName") == ["churn", "empty-experiment"]
    assert found[0]["Description"] == "Which customers leave [and why]"
    assert "CreationTime" in found[0]


def test_experiments_show_lists_the_experiments_trials(cli: Cli) -> None:
    table = cli("experiments", "show", "churn")
    shown = cli.json("experiments", "show", "churn")

    assert table.returncode == 0, table.stderr
    assert "churn-lr" in table.stdout
    assert "churn-rf" in table.stdout
    assert shown["Experiment"]["ExperimentName"] == "churn"
    assert sorted(_names(shown["Trials"], "TrialName")) == ["churn-lr", "churn-rf"]


@pytest.mark.parametrize(
    "command", [["show", "no-such-experiment"], ["delete", "no-such-experiment"]]
)
def test_missing_experiment_exits_1_with_one_line_naming_it(cli: Cli, command: list[str]) -> None:
    result = cli("experiments", *command)

    assert result.returncode == 1
    assert "'no-such-experiment' not found" in _one_line_error(result)


def test_delete_refuses_an_experiment_with_trials_unless_forced(fresh_cli: Cli) -> None:
    refused = fresh_cli("experiments", "delete", "churn")
    still_there = _names(fresh_cli.json("experiments", "list"), "ExperimentName")
    forced = fresh_cli("experiments", "delete", "churn", "--force")

    assert "still has 2 trial(s)" in _one_line_error(refused)
    assert "churn" in still_there
    assert forced.returncode == 0, forced.stderr
    assert _names(fresh_cli.json("experiments", "list"), "ExperimentName") == ["empty-experiment"]
    assert fresh_cli.json("components", "list") == []


def test_listings_follow_next_token_up_to_max(fresh_cli: Cli) -> None:
    with slipway_home(fresh_cli.data_home):
        for number in range(105):
            Experiment.create(f"bulk-{number:03d}")

    everything = fresh_cli.json("experiments", "list", "--max", "1000")
    default = fresh_cli.json("experiments", "list")
    three = fresh_cli.json("experiments", "list", "--max", "3", "--sort-by", "Name")

    assert len(everything) == 107
    assert len(set(_names(everything, "ExperimentName"))) == 107
    assert len(default) == 100
    assert _names(three, "ExperimentName") == ["empty-experiment", "churn", "bulk-104"]


# --- trials and trial components --------------------------------------------------------


def test_trials_list_names_the_trials_of_one_experiment(cli: Cli) -> None:
    table = cli("trials", "list", "--experiment", "churn")
    found = cli.json("trials", "list", "--experiment", "churn")

    assert "churn-lr" in table.stdout
    assert sorted(_names(found, "TrialName")) == ["churn-lr", "churn-rf"]
    assert {trial["ExperimentName"] for trial in found} == {"churn"}


def test_components_list_of_a_trial_shows_its_metrics_in_short(cli: Cli) -> None:
    table = cli("components", "list", "--trial", "churn-lr")
    everything = cli.json("components", "list", "--experiment", "churn")

    assert "churn-lr-training" in table.stdout
    assert "churn-rf-training" not in table.stdout
    assert "Completed" in table.stdout
    assert "accuracy=0.95 [0.8..0.95]" in table.stdout
    assert sorted(_names(everything, "TrialComponentName")) == [
        "churn-lr-training",
        "churn-rf-training",
    ]


def test_components_show_has_parameters_metrics_and_parents(cli: Cli) -> None:
    table = cli("components", "show", "churn-lr-training")
    shown = cli.json("components", "show", "churn-lr-training")

    assert table.returncode == 0, table.stderr
    for expected in ("Parameters", "lbfgs", "Metrics", "accuracy", "0.875", "Parents", "churn"):
        assert expected in table.stdout
    assert shown["Parameters"]["C"] == {"NumberValue": 0.5}
    assert shown["Metrics"][0]["Max"] == 0.95
    assert shown["Parents"] == [{"TrialName": "churn-lr", "ExperimentName": "churn"}]


def test_missing_component_exits_1_with_one_line_naming_it(cli: Cli) -> None:
    result = cli("components", "show", "no-such-component")

    assert result.returncode == 1
    assert "'no-such-component' not found" in _one_line_error(result)


# --- search -----------------------------------------------------------------------------


def test_search_filter_shorthand_finds_components_by_metric(cli: Cli) -> None:
    table = cli("search", "TrialComponent", "--filter", "Metrics.accuracy.Max GreaterThan 0.9")
    found = cli.json("search", "TrialComponent", "--filter", "Metrics.accuracy.Max GreaterThan 0.9")

    assert "churn-lr-training" in table.stdout
    assert "churn-rf-training" not in table.stdout
    assert _names(found, "TrialComponentName") == ["churn-lr-training"]


def test_several_filters_are_anded(cli: Cli) -> None:
    both = ["--filter", "Metrics.accuracy.Max GreaterThan 0.8"]
    found = cli.json(
        "search", "TrialComponent", *both, "--filter", "Parameters.n_estimators Exists"
    )

    assert _names(found, "TrialComponentName") == ["churn-rf-training"]


def test_search_expression_inline_and_from_a_file_agree(cli: Cli, tmp_path: Path) -> None:
    expression = {
        "Filters": [{"Name": "Parents.TrialName", "Operator": "Equals", "Value": "churn-rf"}]
    }
    file = tmp_path / "expression.json"
    file.write_text(json.dumps(expression))

    inline = cli.json("search", "TrialComponent", "--expression", json.dumps(expression))
    from_file = cli.json("search", "TrialComponent", "--expression", f"@{file}")

    assert _names(inline, "TrialComponentName") == ["churn-rf-training"]
    assert from_file == inline


@pytest.mark.parametrize("bad_filter", ["Metrics.accuracy.Max", "Metrics.accuracy.Max Bigger 0.9"])
def test_malformed_filter_exits_nonzero_with_one_line_naming_it(cli: Cli, bad_filter: str) -> None:
    result = cli("search", "TrialComponent", "--filter", bad_filter)

    assert repr(bad_filter) in _one_line_error(result)


@pytest.mark.parametrize("bad_expression", ["{not json", "[1]", "@no-such-file.json"])
def test_bad_expression_exits_nonzero_with_one_line_naming_it(
    cli: Cli, bad_expression: str
) -> None:
    result = cli("search", "Trial", "--expression", bad_expression)

    assert repr(bad_expression) in _one_line_error(result)


def test_search_by_an_unknown_property_exits_1_with_one_line(cli: Cli) -> None:
    result = cli("search", "Experiment", "--filter", "Colour Equals blue")

    assert result.returncode == 1
    assert "'Colour'" in _one_line_error(result)


# --- jobs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["jobs", "show", "nope", "--kind", "training"], ["monitor", "executions", "describe", "nope"]],
)
def test_a_missing_job_names_a_command_that_lists_its_kind(tmp_path: Path, command: list) -> None:
    cli = Cli(tmp_path, tmp_path)
    missing = cli(*command)
    hint = missing.stderr.split("list them with `")[1].split("`")[0]
    program, *listing = hint.split()
    listed = cli(*listing)
    assert missing.returncode == 1 and "'nope' not found" in missing.stderr
    assert program == "slipway"
    assert listed.returncode == 0


# --- the command in this process --------------------------------------------------------


def _process_state() -> tuple[Any, ...]:
    """What a command run in this process could change for the tests after it."""
    from slipway.cli import app

    mounted = (len(app.registered_groups), len(app.registered_commands))
    hooks = (sys.modules["__main__"], sys.excepthook, list(logging.root.handlers))
    return dict(os.environ), list(sys.argv), mounted, *hooks


def test_an_in_process_command_leaves_this_process_as_it_found_it(tmp_path: Path) -> None:
    from slipway.settings import get_settings

    before = _process_state()
    listed = run_slipway("experiments", "list", SLIPWAY_HOME=str(tmp_path / "elsewhere"))

    assert listed.returncode == 0, listed.stderr
    assert _process_state() == before
    assert get_settings().home != tmp_path / "elsewhere"


# --- the installed command: a new process, as a user's shell starts it ------------------


def test_the_installed_command_prints_its_help(tmp_path: Path) -> None:
    shown = Cli(tmp_path, tmp_path).installed("--help")

    assert shown.returncode == 0, shown.stderr
    assert "experiments" in shown.stdout


def test_the_installed_command_lists_as_the_in_process_command_does(cli: Cli) -> None:
    installed = cli.installed("experiments", "list")
    in_process = cli("experiments", "list")

    assert installed.returncode == 0, installed.stderr
    assert "empty-experiment" in installed.stdout
    assert (installed.stdout, installed.stderr) == (in_process.stdout, in_process.stderr)


def test_the_installed_command_prints_an_error_as_the_in_process_command_does(cli: Cli) -> None:
    installed = cli.installed("experiments", "show", "no-such-experiment")
    in_process = cli("experiments", "show", "no-such-experiment")

    assert installed.returncode == 1
    assert "'no-such-experiment' not found" in _one_line_error(installed)
    assert (installed.stdout, installed.stderr) == (in_process.stdout, in_process.stderr)
    assert in_process.returncode == 1


def test_the_installed_command_names_itself_in_a_usage_error(tmp_path: Path) -> None:
    cli = Cli(tmp_path, tmp_path)
    installed = cli.installed("experiments", "list", "--max", "lots")
    in_process = cli("experiments", "list", "--max", "lots")

    assert "(see `slipway experiments list --help`)" in _one_line_error(installed)
    assert (installed.returncode, installed.stderr) == (in_process.returncode, in_process.stderr)


def test_output_cut_short_by_the_reader_ends_quietly(tmp_path: Path) -> None:
    # `slipway ... --help | head -1`: the reader goes away; no traceback for the user.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env["SLIPWAY_HOME"] = str(tmp_path)
    process = subprocess.Popen(
        [SLIPWAY, "monitor", "executions", "--help"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(timeout=30)
    assert "Traceback" not in stderr, stderr


def test_python_dash_m_slipway_runs_the_command(tmp_path: Path) -> None:
    env = {**os.environ, "SLIPWAY_HOME": str(tmp_path), "SLIPWAY_SERVER_URL": ""}
    shown = subprocess.run(
        [sys.executable, "-m", "slipway", "--help"], env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert "experiments" in shown.stdout
