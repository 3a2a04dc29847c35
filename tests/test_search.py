"""Search: the reference expression language over every kind of property, in both modes.

The runs below are made once per mode and only read afterwards. Each search is scoped to
their experiment, because the session's stores hold the other tests' entities too.

    run  display  status      lr            optimizer  loss            team  trials
    a    alpha    Completed   0.1           adam       0.9, 0.5, 0.3   red   ta
    b    beta     Failed      0.01          sgd        0.8, 0.6        blue  ta
    c    gamma    InProgress  0.001         -          -               -     tb
    d    alpha-2  Completed   "auto"        -          0.2             red   tb, to (other)
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from slipway.errors import ValidationError
from slipway.experiments import Experiment, Tracker, Trial, TrialComponent, search
from slipway.experiments.expressions import Resource, SearchExpression, id_query
from slipway.experiments.models import SortOrder
from slipway.store.db import open_database

INJECTION = "'; DROP TABLE experiments; --"


@dataclass(frozen=True)
class Runs:
    suffix: str
    between_b_and_c: str  # an ISO time after runs a and b were created, before c and d

    @property
    def experiment(self) -> str:
        return f"exp-{self.suffix}"

    def scope(self) -> dict:
        return {"Name": "Parents.ExperimentName", "Operator": "Equals", "Value": self.experiment}


def _make_runs() -> Runs:
    suffix = uuid.uuid4().hex[:10]
    Experiment.create(experiment_name=f"exp-{suffix}", tags=[{"Key": "team", "Value": "red"}])
    Experiment.create(experiment_name=f"other-{suffix}", description=INJECTION)
    for trial, experiment in [("ta", "exp"), ("tb", "exp"), ("to", "other")]:
        Trial.create(experiment_name=f"{experiment}-{suffix}", trial_name=f"{trial}-{suffix}")

    def run(key, display, status, tags, parameters, losses, trials) -> None:
        TrialComponent.create(f"{key}-{suffix}", display_name=display, tags=tags)
        tracker = Tracker.load(f"{key}-{suffix}")
        tracker.trial_component.status = status
        tracker.log_parameters(parameters)
        for loss in losses:
            tracker.log_metric("loss", loss)
        tracker.close()
        for trial in trials:
            Trial.load(f"{trial}-{suffix}").add_trial_component(f"{key}-{suffix}")

    red, blue = [{"Key": "team", "Value": "red"}], [{"Key": "team", "Value": "blue"}]
    run("a", "alpha", "Completed", red, {"lr": 0.1, "optimizer": "adam"}, [0.9, 0.5, 0.3], ["ta"])
    run("b", "beta", "Failed", blue, {"lr": 0.01, "optimizer": "sgd"}, [0.8, 0.6], ["ta"])
    time.sleep(0.01)
    between = dt.datetime.now(dt.UTC).isoformat()
    time.sleep(0.01)
    run("c", "gamma", "InProgress", [], {"lr": 0.001}, [], ["tb"])
    run("d", "alpha-2", "Completed", red, {"lr": "auto"}, [0.2], ["tb", "to"])
    return Runs(suffix, between)


@pytest.fixture(scope="module")
def made() -> dict[str, Runs]:
    return {}


@pytest.fixture
def runs(backend, made: dict[str, Runs]) -> Runs:
    """The runs of the table above, made once per mode."""
    mode = type(backend).__name__  # the service in-process, its HTTP client remote
    if mode not in made:
        made[mode] = _make_runs()
    return made[mode]


def _keys(items) -> list[str]:
    """Runs a..d (or trials, experiments) by the key their name starts with."""
    names = [
        getattr(i, "trial_component_name", None) or getattr(i, "trial_name", None) for i in items
    ]
    return [name.split("-")[0] for name in names]


def _found(runs: Runs, *filters: dict, **options) -> set[str]:
    expression = {"Filters": [runs.scope(), *filters]}
    return set(_keys(TrialComponent.search(expression, **options)))


CASES = [
    ("TrialComponentName", "Equals", "a-{u}", "a"),
    ("TrialComponentName", "NotEquals", "a-{u}", "bcd"),
    ("TrialComponentName", "In", "a-{u},c-{u}", "ac"),
    ("DisplayName", "Equals", "alpha", "a"),
    ("DisplayName", "Contains", "alpha", "ad"),
    ("DisplayName", "GreaterThan", "beta", "c"),
    ("Status.PrimaryStatus", "Equals", "Completed", "ad"),
    ("Status.PrimaryStatus", "NotEquals", "Completed", "bc"),
    ("Status.PrimaryStatus", "In", "Failed,InProgress", "bc"),
    ("CreationTime", "GreaterThan", "{between}", "cd"),
    ("CreationTime", "LessThanOrEqualTo", "{between}", "ab"),
    ("CreationTime", "Exists", None, "abcd"),
    ("Parameters.lr", "Equals", "0.1", "a"),
    ("Parameters.lr", "Equals", "auto", "d"),
    ("Parameters.lr", "NotEquals", "0.1", "bcd"),
    ("Parameters.lr", "GreaterThan", "0.01", "a"),
    ("Parameters.lr", "GreaterThanOrEqualTo", "0.01", "ab"),
    ("Parameters.lr", "LessThan", "0.01", "c"),
    ("Parameters.lr", "LessThanOrEqualTo", "0.01", "bc"),
    ("Parameters.lr", "In", "0.1,auto", "ad"),
    ("Parameters.optimizer", "Equals", "adam", "a"),
    ("Parameters.optimizer", "Contains", "g", "b"),
    ("Parameters.optimizer", "Exists", None, "ab"),
    ("Parameters.optimizer", "NotExists", None, "cd"),
    ("Metrics.loss.Max", "GreaterThan", "0.8", "a"),
    ("Metrics.loss.Max", "GreaterThanOrEqualTo", "0.8", "ab"),
    ("Metrics.loss.Max", "In", "0.9,0.2", "ad"),
    ("Metrics.loss.Min", "LessThan", "0.3", "d"),
    ("Metrics.loss.Min", "LessThanOrEqualTo", "0.3", "ad"),
    ("Metrics.loss.Avg", "GreaterThan", "0.6", "b"),
    ("Metrics.loss.Last", "Equals", "0.3", "a"),
    ("Metrics.loss.Count", "Equals", "2", "b"),
    ("Metrics.loss.Count", "NotEquals", "2", "ad"),
    ("Metrics.loss.StdDev", "Equals", "0", "d"),
    ("Metrics.loss.Max", "Exists", None, "abd"),
    ("Metrics.loss.Max", "NotExists", None, "c"),
    ("Tags.team", "Equals", "red", "ad"),
    ("Tags.team", "NotEquals", "red", "b"),
    ("Tags.team", "In", "blue,green", "b"),
    ("Tags.team", "Exists", None, "abd"),
    ("Tags.team", "NotExists", None, "c"),
    ("Parents.TrialName", "Equals", "ta-{u}", "ab"),
    ("Parents.TrialName", "In", "tb-{u},to-{u}", "cd"),
    ("Parents.ExperimentName", "Equals", "other-{u}", "d"),
]


@pytest.mark.parametrize(("name", "operator", "value", "expected"), CASES)
def test_filter_finds_exactly_the_matching_runs(
    runs: Runs, name: str, operator: str, value: str | None, expected: str
) -> None:
    condition = {"Name": name, "Operator": operator}
    if value is not None:
        condition["Value"] = value.format(u=runs.suffix, between=runs.between_b_and_c)

    assert _found(runs, condition) == set(expected)


def test_nested_parent_filters_must_hold_for_one_and_the_same_parent(runs: Runs) -> None:
    def nested(trial: str, experiment: str) -> set[str]:
        filters = [
            {"Name": "Parents.TrialName", "Operator": "Equals", "Value": f"{trial}-{runs.suffix}"},
            {"Name": "Parents.ExperimentName", "Value": f"{experiment}-{runs.suffix}"},
        ]
        expression = {"NestedFilters": [{"NestedPropertyName": "Parents", "Filters": filters}]}
        return set(_keys(TrialComponent.search(expression)))

    assert nested("to", "other") == {"d"}
    assert nested("tb", "exp") == {"c", "d"}
    assert nested("tb", "other") == set()


def test_sub_expression_with_or_finds_either_match(runs: Runs) -> None:
    either = {
        "Operator": "Or",
        "Filters": [
            {"Name": "Tags.team", "Operator": "Equals", "Value": "blue"},
            {"Name": "Parameters.lr", "Operator": "LessThan", "Value": "0.005"},
        ],
    }
    expression = {"Filters": [runs.scope()], "SubExpressions": [either]}

    assert set(_keys(TrialComponent.search(expression))) == {"b", "c"}


@pytest.mark.parametrize(("order", "expected"), [("Descending", "abdc"), ("Ascending", "dbac")])
def test_sort_by_a_metric_puts_runs_without_it_last(runs: Runs, order: str, expected: str) -> None:
    found = TrialComponent.search(
        {"Filters": [runs.scope()]}, sort_by="Metrics.loss.Max", sort_order=order
    )

    assert "".join(_keys(found)) == expected


def test_sort_by_a_metric_that_is_also_filtered_on(runs: Runs) -> None:
    at_least = {"Name": "Metrics.loss.Max", "Operator": "GreaterThanOrEqualTo", "Value": "0.2"}
    found = TrialComponent.search(
        {"Filters": [runs.scope(), at_least]}, sort_by="Metrics.loss.Max", sort_order="Ascending"
    )

    assert "".join(_keys(found)) == "dba"


@pytest.mark.parametrize("sort_by", ["Metrics.loss.Max", "Name", "CreationTime"])
def test_pages_with_next_token_cover_every_run_exactly_once(
    backend, runs: Runs, sort_by: str
) -> None:
    expression = {"Filters": [runs.scope()]}
    whole = _keys(TrialComponent.search(expression, sort_by=sort_by))
    paged, token = [], None
    while True:
        page = backend.search(
            "TrialComponent",
            search_expression=expression,
            sort_by=sort_by,
            max_results=1,
            next_token=token,
        )
        paged += _keys(page.items)
        token = page.next_token
        if not token:
            break

    assert paged == whole
    assert sorted(paged) == ["a", "b", "c", "d"]


def test_experiments_are_searched_by_name_description_and_tags(runs: Runs) -> None:
    def found(*filters: dict) -> set[str]:
        names = {"Name": "ExperimentName", "Operator": "Contains", "Value": runs.suffix}
        return {e.experiment_name for e in Experiment.search({"Filters": [names, *filters]})}

    assert found() == {runs.experiment, f"other-{runs.suffix}"}
    assert found({"Name": "Tags.team", "Value": "red"}) == {runs.experiment}
    assert found({"Name": "Description", "Operator": "Equals", "Value": INJECTION}) == {
        f"other-{runs.suffix}"
    }


def test_trials_are_searched_by_experiment_and_name(runs: Runs) -> None:
    def found(*filters: dict) -> set[str]:
        return set(_keys(search("ExperimentTrial", {"Filters": list(filters)})))

    assert found({"Name": "Parents.ExperimentName", "Value": runs.experiment}) == {"ta", "tb"}
    assert found({"Name": "ExperimentName", "Value": f"other-{runs.suffix}"}) == {"to"}
    assert found({"Name": "TrialName", "Operator": "In", "Value": f"ta-{runs.suffix}"}) == {"ta"}


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"Name": "Colour", "Value": "red"}, "cannot search TrialComponent by 'Colour'"),
        (
            {"Name": "Metrics.loss.Max", "Operator": "GreaterThan", "Value": "high"},
            "'high' is not a number",
        ),
        ({"Name": "Metrics.loss", "Value": "1"}, "must name a statistic"),
        ({"Name": "DisplayName", "Operator": "Like", "Value": "a"}, "Operator"),
        ({"Name": "Parameters.lr", "Operator": "GreaterThan", "Value": "fast"}, "'fast'"),
    ],
)
def test_bad_filters_raise_validation_error_saying_what_is_wrong(
    runs: Runs, condition: dict, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _found(runs, condition)


def test_unknown_resource_raises_validation_error_listing_the_known_ones(runs: Runs) -> None:
    with pytest.raises(ValidationError, match="'Model' is not known; use Experiment"):
        search("Model")


@pytest.mark.parametrize("token", ["forged", "eyJvZmZzZXQiOiAtMX0=", "W10="])
def test_forged_next_token_raises_validation_error(backend, runs: Runs, token: str) -> None:
    with pytest.raises(ValidationError, match="NextToken"):
        backend.search(
            "TrialComponent",
            search_expression={"Filters": [runs.scope()]},
            max_results=10,
            next_token=token,
        )


def test_sql_in_values_is_only_a_value(runs: Runs) -> None:
    for name in ("DisplayName", "Parameters.optimizer", "Tags.team", "Parents.TrialName"):
        for operator in ("Equals", "Contains", "In"):
            condition = {"Name": name, "Operator": operator, "Value": INJECTION}
            assert _found(runs, condition) == set()

    assert Experiment.load(runs.experiment).experiment_name == runs.experiment
    assert _found(runs) == {"a", "b", "c", "d"}


def test_metric_filter_and_sort_use_an_index_of_metric_summaries(tmp_path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'plan.db'}")
    expression = SearchExpression.model_validate(
        {"Filters": [{"Name": "Metrics.loss.Max", "Operator": "GreaterThan", "Value": "0.5"}]}
    )
    query, _ = id_query(
        Resource.TRIAL_COMPONENT, expression, "Metrics.loss.Max", SortOrder.DESCENDING, 10, None
    )
    sql = str(query.compile(database.engine, compile_kwargs={"literal_binds": True}))

    with database.engine.connect() as conn:
        plan = [row[3] for row in conn.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"))]

    on_summaries = [step for step in plan if "metric_summaries" in step or "sort_metric" in step]
    assert on_summaries, plan
    assert all(step.startswith("SEARCH") and "INDEX" in step for step in on_summaries), plan
