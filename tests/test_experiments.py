"""Experiment tracking as a sagemaker-experiments user writes it, embedded and remote.

Every test runs twice (the `backend` fixture): in-process on SQLite, and through a real
server on PostgreSQL. The server's database is shared by the session, so names carry the
`unique` suffix and listings are narrowed to the test's own entities.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
import statistics
import time
from pathlib import Path

import pytest

from slipway.errors import AlreadyExists, Conflict, NotFound, ValidationError
from slipway.experiments import Experiment, ExperimentAnalytics, Tracker, Trial, TrialComponent
from slipway.experiments.models import MetricPoint

pytestmark = pytest.mark.usefixtures("backend")


def _generated(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"{prefix}-\d{{4}}-\d{{2}}-\d{{2}}-\d{{6}}-[a-z]{{4}}")


def _read(backend, uri: str) -> bytes:
    return b"".join(backend.open_artifact(uri))


def _summary(component: TrialComponent, metric_name: str):
    (summary,) = [m for m in component.metrics if m.metric_name == metric_name]
    return summary


# --- experiments ----------------------------------------------------------------------


def test_created_experiment_loads_and_lists_with_its_fields(unique: str) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    Experiment.create(
        experiment_name=f"churn-{unique}",
        description="why do customers leave",
        tags=[{"Key": "team", "Value": "growth"}],
    )

    loaded = Experiment.load(f"churn-{unique}")
    listed = [e.experiment_name for e in Experiment.list(created_after=before)]

    assert loaded.description == "why do customers leave"
    assert [(tag.key, tag.value) for tag in loaded.tags] == [("team", "growth")]
    assert loaded.creation_time.tzinfo is not None
    assert f"churn-{unique}" in listed


def test_experiment_list_sorts_by_name_both_ways(unique: str) -> None:
    names = [f"{letter}-{unique}" for letter in "cab"]
    for name in names:
        Experiment.create(experiment_name=name)

    def listed(order: str) -> list[str]:
        found = Experiment.list(sort_by="Name", sort_order=order)
        return [e.experiment_name for e in found if e.experiment_name in names]

    assert listed("Ascending") == sorted(names)
    assert listed("Descending") == sorted(names, reverse=True)


def test_experiment_and_trial_save_what_the_user_changed(unique: str) -> None:
    experiment = Experiment.create(experiment_name=f"exp-{unique}", description="first idea")
    trial = experiment.create_trial(trial_name=f"trial-{unique}")

    experiment.description = "second idea"
    experiment.display_name = "Churn"
    experiment.save()
    trial.display_name = "Baseline"
    trial.save()

    loaded = Experiment.load(f"exp-{unique}")
    assert (loaded.description, loaded.display_name) == ("second idea", "Churn")
    assert Trial.load(f"trial-{unique}").display_name == "Baseline"


def test_experiment_list_trials_gives_its_own_trials(unique: str) -> None:
    experiment = Experiment.create(experiment_name=f"mine-{unique}")
    Experiment.create(experiment_name=f"other-{unique}")
    experiment.create_trial(trial_name=f"first-{unique}")
    Trial.create(experiment_name=f"mine-{unique}", trial_name=f"second-{unique}")
    Trial.create(experiment_name=f"other-{unique}", trial_name=f"elsewhere-{unique}")

    names = {t.trial_name for t in experiment.list_trials()}

    assert names == {f"first-{unique}", f"second-{unique}"}


def test_experiment_with_trials_is_deleted_only_after_its_trials(unique: str) -> None:
    experiment = Experiment.create(experiment_name=f"exp-{unique}")
    trial = experiment.create_trial(trial_name=f"trial-{unique}")

    with pytest.raises(Conflict, match=f"exp-{unique}"):
        experiment.delete()
    trial.delete()
    experiment.delete()

    with pytest.raises(NotFound):
        Experiment.load(f"exp-{unique}")


def test_delete_all_force_removes_the_experiment_its_trials_and_components(unique: str) -> None:
    experiment = Experiment.create(experiment_name=f"exp-{unique}")
    trial = experiment.create_trial(trial_name=f"trial-{unique}")
    trial.add_trial_component(TrialComponent.create(f"tc-{unique}"))

    experiment.delete_all(action="--force")

    for load, name in [
        (Experiment.load, f"exp-{unique}"),
        (Trial.load, f"trial-{unique}"),
        (TrialComponent.load, f"tc-{unique}"),
    ]:
        with pytest.raises(NotFound):
            load(name)


def test_delete_all_with_another_action_is_refused_and_deletes_nothing(unique: str) -> None:
    experiment = Experiment.create(experiment_name=f"exp-{unique}")
    experiment.create_trial(trial_name=f"trial-{unique}")

    with pytest.raises(ValidationError, match="--force"):
        experiment.delete_all(action="yes")

    assert Trial.load(f"trial-{unique}").experiment_name == f"exp-{unique}"


# --- trials and trial components -------------------------------------------------------


def test_trial_adds_and_removes_components_given_as_object_name_or_tracker(unique: str) -> None:
    Experiment.create(experiment_name=f"exp-{unique}")
    trial = Trial.create(experiment_name=f"exp-{unique}", trial_name=f"trial-{unique}")
    by_object = TrialComponent.create(f"object-{unique}")
    TrialComponent.create(f"name-{unique}")
    tracker = Tracker.create(base_trial_component_name=f"tracker-{unique}")

    for component in (by_object, f"name-{unique}", tracker):
        trial.add_trial_component(component)
    trial.remove_trial_component(f"name-{unique}")

    listed = {c.trial_component_name for c in trial.list_trial_components()}
    assert listed == {f"object-{unique}", tracker.trial_component_name}


def test_trial_created_with_components_lists_them(unique: str) -> None:
    Experiment.create(experiment_name=f"exp-{unique}")
    components = [TrialComponent.create(f"tc{i}-{unique}") for i in range(3)]

    trial = Trial.create(f"exp-{unique}", f"trial-{unique}", trial_components=components)

    listed = sorted(c.trial_component_name for c in trial.list_trial_components())
    assert listed == [f"tc{i}-{unique}" for i in range(3)]


def test_trial_delete_all_keeps_components_that_another_trial_still_holds(unique: str) -> None:
    Experiment.create(experiment_name=f"exp-{unique}")
    doomed = Trial.create(f"exp-{unique}", f"doomed-{unique}")
    kept = Trial.create(f"exp-{unique}", f"kept-{unique}")
    doomed.add_trial_component(TrialComponent.create(f"only-{unique}"))
    TrialComponent.create(f"shared-{unique}")
    for trial in (doomed, kept):
        trial.add_trial_component(f"shared-{unique}")

    doomed.delete_all(action="--force")

    with pytest.raises(NotFound):
        TrialComponent.load(f"only-{unique}")
    shared = TrialComponent.load(f"shared-{unique}")
    assert [p.trial_name for p in shared.parents] == [f"kept-{unique}"]


def test_removing_a_component_that_is_not_in_the_trial_is_not_found(unique: str) -> None:
    Experiment.create(experiment_name=f"exp-{unique}")
    trial = Trial.create(experiment_name=f"exp-{unique}", trial_name=f"trial-{unique}")
    TrialComponent.create(f"tc-{unique}")

    with pytest.raises(NotFound, match=f"tc-{unique}"):
        trial.remove_trial_component(f"tc-{unique}")


def test_component_in_two_trials_has_both_as_parents(unique: str) -> None:
    for experiment in ("a", "b"):
        Experiment.create(experiment_name=f"{experiment}-{unique}")
        Trial.create(experiment_name=f"{experiment}-{unique}", trial_name=f"t{experiment}-{unique}")
    shared = TrialComponent.create(f"shared-{unique}")
    Trial.load(f"ta-{unique}").add_trial_component(shared)
    Trial.load(f"tb-{unique}").add_trial_component(shared)

    loaded = TrialComponent.load(f"shared-{unique}")
    parents = {(p.trial_name, p.experiment_name) for p in loaded.parents}
    trials = {t.trial_name for t in Trial.list(trial_component_name=f"shared-{unique}")}

    assert parents == {(f"ta-{unique}", f"a-{unique}"), (f"tb-{unique}", f"b-{unique}")}
    assert trials == {f"ta-{unique}", f"tb-{unique}"}


def test_trial_component_save_edits_and_removes_parameters(unique: str) -> None:
    component = TrialComponent.create(f"tc-{unique}", display_name="Preprocess")
    component.parameters = {"lr": 0.1, "optimizer": "adam", "epochs": 10}
    component.save()

    component.parameters["lr"] = 0.05
    del component.parameters["optimizer"]
    component.display_name = "Preprocess-v2"
    component.save()

    loaded = TrialComponent.load(f"tc-{unique}")
    assert loaded.parameters == {"lr": 0.05, "epochs": 10.0}
    assert loaded.display_name == "Preprocess-v2"


def test_trial_component_list_filters_by_trial_and_experiment(unique: str) -> None:
    Experiment.create(experiment_name=f"exp-{unique}")
    trial = Trial.create(experiment_name=f"exp-{unique}", trial_name=f"trial-{unique}")
    trial.add_trial_component(TrialComponent.create(f"in-{unique}"))
    TrialComponent.create(f"out-{unique}")

    by_trial = [c.trial_component_name for c in TrialComponent.list(trial_name=f"trial-{unique}")]
    by_experiment = [
        c.trial_component_name for c in TrialComponent.list(experiment_name=f"exp-{unique}")
    ]

    assert by_trial == by_experiment == [f"in-{unique}"]


def test_component_in_a_trial_is_deleted_only_with_force_disassociate(unique: str) -> None:
    Experiment.create(experiment_name=f"exp-{unique}")
    trial = Trial.create(experiment_name=f"exp-{unique}", trial_name=f"trial-{unique}")
    component = TrialComponent.create(f"tc-{unique}")
    trial.add_trial_component(component)

    with pytest.raises(Conflict, match="force_disassociate"):
        component.delete()
    component.delete(force_disassociate=True)

    with pytest.raises(NotFound):
        TrialComponent.load(f"tc-{unique}")
    assert list(trial.list_trial_components()) == []


# --- the tracker ------------------------------------------------------------------------


def test_tracker_records_parameters_inputs_outputs_and_completes(unique: str) -> None:
    with Tracker.create(display_name=f"train-{unique}") as tracker:
        tracker.log_parameters({"learning_rate": 0.1, "optimizer": "adam"})
        tracker.log_parameter("epochs", 10)
        tracker.log_input("train", "s3://data/train.csv", media_type="text/csv")
        tracker.log_output("model", "s3://models/model.tar.gz")
        in_progress = TrialComponent.load(tracker.trial_component_name)

    component = TrialComponent.load(tracker.trial_component_name)
    assert in_progress.status.primary_status == "InProgress"
    assert component.status.primary_status == "Completed"
    assert component.start_time <= component.end_time <= dt.datetime.now(dt.UTC)
    assert component.parameters == {"learning_rate": 0.1, "optimizer": "adam", "epochs": 10.0}
    assert component.input_artifacts["train"].value == "s3://data/train.csv"
    assert component.input_artifacts["train"].media_type == "text/csv"
    assert component.output_artifacts["model"].value == "s3://models/model.tar.gz"


def test_tracker_marks_the_component_failed_with_the_exception_message() -> None:
    with pytest.raises(RuntimeError), Tracker.create() as tracker:
        raise RuntimeError("diverged at epoch 3")

    component = TrialComponent.load(tracker.trial_component_name)
    assert component.status.primary_status == "Failed"
    assert component.status.message == "diverged at epoch 3"
    assert component.end_time is not None


def test_log_metric_keeps_every_step_and_timestamp() -> None:
    start = float(int(time.time()) - 60)  # whole seconds: exact as datetimes too
    with Tracker.create() as tracker:
        for step in range(5):
            stamp = dt.datetime.fromtimestamp(start + step, dt.UTC)
            tracker.log_metric("accuracy", 0.5 + step / 10, timestamp=stamp, iteration_number=step)

    series = TrialComponent.load(tracker.trial_component_name).metric_series("accuracy")

    assert [(p.iteration_number, p.timestamp, p.value) for p in series] == [
        (step, start + step, 0.5 + step / 10) for step in range(5)
    ]


def test_metric_summaries_are_exact_across_batches() -> None:
    values = [0.93, 0.71, 0.55, 0.52, 0.5, 0.61, 0.4, 0.38, 0.45, 0.33]
    with Tracker.create() as tracker:
        for step, value in enumerate(values):
            tracker.log_metric("loss", value, iteration_number=step)
            if step == 3:
                tracker.flush()  # the rest arrives in a later batch, merged into the summary

    summary = _summary(TrialComponent.load(tracker.trial_component_name), "loss")

    assert summary.count == len(values)
    assert summary.min == min(values)
    assert summary.max == max(values)
    assert summary.avg == pytest.approx(statistics.mean(values), rel=1e-12)
    assert summary.std_dev == pytest.approx(statistics.stdev(values), rel=1e-12)
    assert summary.last == values[-1]


def test_last_is_the_value_with_the_latest_timestamp_not_the_last_logged() -> None:
    now = time.time()
    with Tracker.create() as tracker:
        tracker.log_metric("loss", 0.2, timestamp=now - 1)
        tracker.log_metric("loss", 0.9, timestamp=now - 30)
        tracker.flush()
        tracker.log_metric("loss", 0.7, timestamp=now - 20)

    summary = _summary(TrialComponent.load(tracker.trial_component_name), "loss")

    assert summary.last == 0.2


def test_nan_and_infinity_are_kept_as_points_but_left_out_of_summaries() -> None:
    with Tracker.create() as tracker:
        for step, value in enumerate([1.0, math.nan, math.inf, -math.inf, 3.0]):
            tracker.log_metric("loss", value, iteration_number=step)

    component = TrialComponent.load(tracker.trial_component_name)
    series = [p.value for p in component.metric_series("loss")]
    summary = _summary(component, "loss")

    assert series[0] == 1.0 and math.isnan(series[1]) and series[2:] == [math.inf, -math.inf, 3.0]
    assert (summary.count, summary.min, summary.max, summary.avg) == (2, 1.0, 3.0, 2.0)


def test_log_artifact_uploads_a_file_whose_bytes_read_back(backend, tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    (tmp_path / "model.bin").write_bytes(data)
    with Tracker.create() as tracker:
        tracker.log_artifact(tmp_path / "model.bin", media_type="application/octet-stream")

    artifact = TrialComponent.load(tracker.trial_component_name).output_artifacts["model.bin"]

    assert artifact.media_type == "application/octet-stream"
    assert _read(backend, artifact.value) == data


def test_chart_artifacts_are_json_documents_of_their_type(backend) -> None:
    y_true, y_score = [0, 0, 1, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.9, 0.2]
    with Tracker.create() as tracker:
        tracker.log_table(title="sizes", values={"size": [1, 2, 3], "name": ["a", "b", "c"]})
        tracker.log_confusion_matrix(y_true, [0, 1, 1, 1, 0, 0], title="confusion")
        tracker.log_roc_curve(y_true, y_score, title="roc")
        tracker.log_precision_recall(y_true, y_score, title="pr")

    outputs = TrialComponent.load(tracker.trial_component_name).output_artifacts
    documents = {name: json.loads(_read(backend, a.value)) for name, a in outputs.items()}

    assert {name: doc["type"] for name, doc in documents.items()} == {
        "sizes": "Table",
        "confusion": "ConfusionMatrix",
        "roc": "ROCCurve",
        "pr": "PrecisionRecallCurve",
    }
    assert documents["sizes"]["data"] == {"size": [1, 2, 3], "name": ["a", "b", "c"]}
    assert documents["confusion"]["confusionMatrix"] == [[2, 1], [1, 2]]
    assert {a.media_type for a in outputs.values()} == {"application/json"}


def test_tracker_load_continues_an_existing_component(unique: str) -> None:
    TrialComponent.create(f"tc-{unique}")

    with Tracker.load(f"tc-{unique}") as tracker:
        tracker.log_parameter("batch_size", 32)

    component = TrialComponent.load(f"tc-{unique}")
    assert component.parameters == {"batch_size": 32.0}
    assert component.status.primary_status == "Completed"


def test_tracker_load_without_a_name_outside_a_job_says_what_to_pass() -> None:
    with pytest.raises(ValidationError, match="trial_component_name="):
        Tracker.load()


# --- analytics ----------------------------------------------------------------------------


def test_analytics_dataframe_has_parameter_metric_and_trial_columns(unique: str) -> None:
    experiment = Experiment.create(experiment_name=f"exp-{unique}")
    for learning_rate, losses in [(0.1, [0.9, 0.5]), (0.01, [0.8, 0.6, 0.4])]:
        trial = experiment.create_trial(trial_name=f"lr{int(1 / learning_rate)}-{unique}")
        with Tracker.create() as tracker:
            tracker.log_parameter("learning_rate", learning_rate)
            for loss in losses:
                tracker.log_metric("loss", loss)
        trial.add_trial_component(tracker)

    frame = ExperimentAnalytics(experiment_name=f"exp-{unique}").dataframe()
    rows = frame.set_index("learning_rate")

    assert {"TrialComponentName", "learning_rate", "loss - Max", "loss - Avg", "Trials"} <= set(
        frame.columns
    )
    assert rows.loc[0.01, "loss - Max"] == 0.8
    assert rows.loc[0.01, "loss - Avg"] == pytest.approx(0.6)
    assert rows.loc[0.01, "loss - Count"] == 3
    assert rows.loc[0.1, "Trials"] == [f"lr10-{unique}"]


# --- errors -------------------------------------------------------------------------------


def test_duplicate_names_raise_already_exists(unique: str) -> None:
    Experiment.create(experiment_name=f"exp-{unique}")
    Trial.create(experiment_name=f"exp-{unique}", trial_name=f"trial-{unique}")
    TrialComponent.create(f"tc-{unique}")

    with pytest.raises(AlreadyExists, match=f"exp-{unique}"):
        Experiment.create(experiment_name=f"exp-{unique}")
    with pytest.raises(AlreadyExists, match=f"trial-{unique}"):
        Trial.create(experiment_name=f"exp-{unique}", trial_name=f"trial-{unique}")
    with pytest.raises(AlreadyExists, match=f"tc-{unique}"):
        TrialComponent.create(f"tc-{unique}")


def test_missing_entities_raise_not_found_naming_them(unique: str) -> None:
    for load in (Experiment.load, Trial.load, TrialComponent.load, Tracker.load):
        with pytest.raises(NotFound, match=f"missing-{unique}"):
            load(f"missing-{unique}")
    with pytest.raises(NotFound, match=f"missing-{unique}"):
        Trial.create(experiment_name=f"missing-{unique}", trial_name=f"trial-{unique}")


@pytest.mark.parametrize("bad_name", ["has space", "x" * 121, "-leading-hyphen", "under_score"])
def test_bad_names_raise_validation_error_naming_the_value(bad_name: str) -> None:
    shown = bad_name[:40]

    with pytest.raises(ValidationError, match=re.escape(shown)):
        Experiment.create(experiment_name=bad_name)
    with pytest.raises(ValidationError, match=re.escape(shown)):
        TrialComponent.create(bad_name)


def test_generated_names_follow_the_reference_format() -> None:
    experiment = Experiment.create()
    trial = experiment.create_trial()
    component = TrialComponent.create()
    tracker = Tracker.create()

    assert _generated("Experiment").fullmatch(experiment.experiment_name)
    assert _generated("Trial").fullmatch(trial.trial_name)
    assert _generated("TrialComponent").fullmatch(component.trial_component_name)
    assert _generated("TrialComponent").fullmatch(tracker.trial_component_name)


def test_metric_series_puts_points_logged_without_a_step_after_the_stepped_ones() -> None:
    with Tracker.create() as tracker:
        tracker.log_metric("loss", 0.5)
        tracker.log_metric("loss", 0.9, iteration_number=0)
        tracker.log_metric("loss", 0.7, iteration_number=1)

    series = TrialComponent.load(tracker.trial_component_name).metric_series("loss")

    assert [(p.iteration_number, p.value) for p in series] == [(0, 0.9), (1, 0.7), (None, 0.5)]


def _mixed_series(metric_name: str) -> list[MetricPoint]:
    """Steps with ties in time and points without a step, shuffled."""
    stepped = [
        MetricPoint(
            metric_name=metric_name,
            value=step * 10 + i,
            timestamp=1e9 + step + (i // 2),  # two points of a step share a time stamp
            iteration_number=step,
        )
        for step in range(400)
        for i in range(3)
    ]
    unstepped = [
        MetricPoint(metric_name=metric_name, value=-1 - i, timestamp=2e9 + i // 3)
        for i in range(300)
    ]
    return random.Random(7).sample(stepped + unstepped, k=len(stepped) + len(unstepped))


def _read_order(points: list[MetricPoint]) -> list[MetricPoint]:
    """Steps first, then time; ties in the order stored (a stable sort keeps it)."""
    return sorted(
        points,
        key=lambda p: (p.iteration_number is None, p.iteration_number or 0, p.timestamp),
    )


def test_metric_points_come_in_bounded_pages_that_hold_every_point_once_in_order(
    backend, unique: str
) -> None:
    name = f"paged-{unique}"
    backend.create_trial_component(name)
    logged = _mixed_series("loss")
    backend.log_metrics(name, logged)

    pages, token = [], None
    while True:
        page = backend.list_metric_points(name, "loss", max_results=257, next_token=token)
        pages.append(page.items)
        token = page.next_token
        if token is None:
            break

    assert [len(items) for items in pages[:-1]] == [257] * (len(pages) - 1)
    assert 0 < len(pages[-1]) <= 257
    assert [p for items in pages for p in items] == _read_order(logged)
    assert backend.get_metric_series(name, "loss") == _read_order(logged)


@pytest.mark.parametrize(
    ("max_results", "next_token", "named"),
    [
        (0, None, "max_results 0"),
        (25_001, None, "max_results 25001"),
        (-5, None, "max_results -5"),
        (10, "not-a-token", "'not-a-token'"),
    ],
)
def test_a_bad_page_of_metric_points_is_refused_naming_the_value(
    backend, unique: str, max_results: int, next_token: str | None, named: str
) -> None:
    name = f"bad-page-{unique}"
    backend.create_trial_component(name)
    backend.log_metrics(name, _mixed_series("loss")[:20])

    with pytest.raises(ValidationError, match=re.escape(named)):
        backend.list_metric_points(name, "loss", max_results=max_results, next_token=next_token)


def test_a_page_token_of_another_metric_is_refused(backend, unique: str) -> None:
    name = f"other-token-{unique}"
    backend.create_trial_component(name)
    backend.log_metrics(name, _mixed_series("loss")[:20] + _mixed_series("accuracy")[:20])
    token = backend.list_metric_points(name, "loss", max_results=5).next_token

    with pytest.raises(ValidationError, match="is not one of metric 'accuracy'"):
        backend.list_metric_points(name, "accuracy", max_results=5, next_token=token)


@pytest.mark.parametrize("metric_name", ["train/loss", "validation:accuracy", "f1 score"])
def test_metric_names_with_slashes_colons_and_spaces_are_read_back(metric_name: str) -> None:
    with Tracker.create() as tracker:
        tracker.log_metric(metric_name, 0.25, iteration_number=0)

    component = TrialComponent.load(tracker.trial_component_name)

    assert [p.value for p in component.metric_series(metric_name)] == [0.25]
    assert _summary(component, metric_name).max == 0.25


def test_artifact_names_may_hold_a_folder(backend, tmp_path: Path) -> None:
    (tmp_path / "roc.png").write_bytes(b"\x89PNG...")
    with Tracker.create() as tracker:
        tracker.log_artifact(tmp_path / "roc.png", name="plots/roc.png")

    artifact = TrialComponent.load(tracker.trial_component_name).output_artifacts["plots/roc.png"]

    assert _read(backend, artifact.value) == b"\x89PNG..."
