"""The metadata store keeps the same promises on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import importlib
import math
import pkgutil
import statistics
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import slipway
from slipway import platform
from slipway.experiments import tables as t
from slipway.experiments.models import MetricPoint
from slipway.experiments.service import ExperimentsService
from slipway.settings import Settings
from slipway.store import migrate
from slipway.store.db import Database, metadata, open_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'slipway.db'}"
    else:
        yield request.getfixturevalue("fresh_postgres_database")
    platform.reset()  # dispose the engines before the database is dropped


@pytest.fixture
def experiments(database_url: str, tmp_path: Path) -> ExperimentsService:
    settings = Settings(home=tmp_path, database_url=database_url)
    return platform.services(settings).experiments


def _every_table() -> set[str]:
    """Names of the tables every capability declares (each in a module named `tables`)."""
    for module in pkgutil.walk_packages(slipway.__path__, "slipway."):
        if module.name.endswith(".tables"):
            importlib.import_module(module.name)
    return set(metadata.tables)


def _new_experiment(conn: sa.Connection, name: str) -> None:
    now = dt.datetime.now(dt.UTC)
    conn.execute(
        sa.insert(t.experiments).values(
            name=name, display_name=name, created_at=now, modified_at=now
        )
    )


def _experiment_names(database: Database) -> list[str]:
    with database.read() as conn:
        return list(conn.scalars(sa.select(t.experiments.c.name)))


def test_migrations_create_every_table_as_declared_at_the_head_revision(database_url: str) -> None:
    declared = _every_table()
    database = open_database(database_url)

    with database.engine.connect() as conn:
        created = set(sa.inspect(conn).get_table_names())
        differences = compare_metadata(MigrationContext.configure(conn), metadata)

    assert created == declared | {"alembic_version"}
    assert differences == []
    assert migrate.current_revision(database.engine) == migrate.head_revision()


def test_upgrading_again_changes_nothing_and_keeps_the_data(database_url: str) -> None:
    database = open_database(database_url)
    with database.write() as conn:
        _new_experiment(conn, "kept")

    database.upgrade()
    command.upgrade(migrate.alembic_config(database.engine), "head")  # past the shortcut

    assert migrate.current_revision(database.engine) == migrate.head_revision()
    assert _experiment_names(database) == ["kept"]


def test_write_rolls_back_everything_when_the_block_raises(database_url: str) -> None:
    database = open_database(database_url)

    with pytest.raises(RuntimeError), database.write() as conn:
        _new_experiment(conn, "first")
        _new_experiment(conn, "second")
        raise RuntimeError("a rule failed half way")

    assert _experiment_names(database) == []


def test_a_write_inside_a_write_joins_it_and_rolls_back_with_it(database_url: str) -> None:
    database = open_database(database_url)

    with pytest.raises(RuntimeError), database.write() as outer:
        _new_experiment(outer, "outer")
        with database.write() as inner:
            _new_experiment(inner, "inner")
        seen_inside = _experiment_names(database)  # a read joins the write: it sees both
        raise RuntimeError("the caller's next step failed")

    assert sorted(seen_inside) == ["inner", "outer"]
    assert _experiment_names(database) == []


def test_times_round_trip_as_the_same_instant_in_utc(experiments: ExperimentsService) -> None:
    india = dt.datetime(2019, 12, 3, 17, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
    naive = dt.datetime(2019, 12, 3, 12, 0, 0, 123456)  # taken to be UTC
    experiments.create_trial_component("times", start_time=india, end_time=naive)

    loaded = experiments.get_trial_component("times")

    assert loaded.start_time == india
    assert loaded.end_time == naive.replace(tzinfo=dt.UTC)
    assert loaded.start_time.utcoffset() == loaded.end_time.utcoffset() == dt.timedelta(0)
    assert loaded.creation_time.tzinfo is not None


def test_concurrent_writers_lose_no_metric_points(experiments: ExperimentsService) -> None:
    threads, batches, per_batch = 4, 200, 5
    experiments.create_trial_component("shared")

    def batch(thread: int, number: int) -> list[MetricPoint]:
        first = (number * threads + thread) * per_batch
        return [
            MetricPoint(metric_name=name, value=math.sin(i) * scale, timestamp=1e9 + i)
            for i in range(first, first + per_batch)
            for name, scale in (("loss", 1.0), ("accuracy", 0.5))
        ]

    def write(thread: int) -> int:
        return sum(
            experiments.log_metrics("shared", batch(thread, n), uuid.uuid4().hex)
            for n in range(batches)
        )

    with ThreadPoolExecutor(threads) as pool:
        stored = sum(pool.map(write, range(threads)))

    total = threads * batches * per_batch
    values = [math.sin(i) for i in range(total)]
    summaries = {m.metric_name: m for m in experiments.get_trial_component("shared").metrics}
    assert stored == 2 * total
    assert len(experiments.get_metric_series("shared", "loss")) == total
    for name, scale in (("loss", 1.0), ("accuracy", 0.5)):
        scaled = [v * scale for v in values]
        summary = summaries[name]
        assert summary.count == total
        assert (summary.min, summary.max, summary.last) == (min(scaled), max(scaled), scaled[-1])
        assert summary.avg == pytest.approx(statistics.mean(scaled), rel=1e-9, abs=1e-12)
        assert summary.std_dev == pytest.approx(statistics.stdev(scaled), rel=1e-9)


def test_a_retried_metric_batch_is_stored_once(experiments: ExperimentsService) -> None:
    experiments.create_trial_component("retried")
    points = [MetricPoint(metric_name="loss", value=v, timestamp=1e9 + v) for v in (1.0, 2.0)]

    first = experiments.log_metrics("retried", points, batch_id="batch-1")
    again = experiments.log_metrics("retried", points, batch_id="batch-1")

    (summary,) = experiments.get_trial_component("retried").metrics
    assert (first, again, summary.count) == (2, 0, 2)


def test_a_metric_curve_is_the_series_in_the_same_order_as_x_and_y(
    experiments: ExperimentsService,
) -> None:
    # Out of order, with ties, a NaN, and points without a step (which go last, by time).
    points = [
        MetricPoint(metric_name="loss", value=0.5, timestamp=30.0, iteration_number=2),
        MetricPoint(metric_name="loss", value=0.9, timestamp=10.0, iteration_number=0),
        MetricPoint(metric_name="loss", value=0.7, timestamp=50.0),
        MetricPoint(metric_name="loss", value=math.nan, timestamp=20.0, iteration_number=1),
        MetricPoint(metric_name="loss", value=0.6, timestamp=40.0),
        MetricPoint(metric_name="loss", value=0.4, timestamp=30.0, iteration_number=2),
        MetricPoint(metric_name="other", value=1.0, timestamp=10.0, iteration_number=0),
    ]
    experiments.create_trial_component("curve")
    experiments.log_metrics("curve", points)

    xs, ys = experiments.get_metric_curve("curve", "loss")
    series = experiments.get_metric_series("curve", "loss")

    assert xs == [0.0, 1.0, 2.0, 2.0, 40.0, 50.0]
    assert [str(y) for y in ys] == ["0.9", "nan", "0.5", "0.4", "0.6", "0.7"]
    assert [str(p.value) for p in series] == [str(y) for y in ys]
    assert experiments.get_metric_curve("curve", "missing") == ([], [])
