"""Schedules and executions: cron forms, the verbs in embedded and remote mode, and the
database lock that makes servers sharing a database run each execution once."""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from helpers import free_port, fresh_database, run_server_process
from monitor_support import HOUR, csv_captures, platform, table, write_capture
from slipway.errors import AlreadyExists, NotFound, ValidationError
from slipway.monitor import CronExpressionGenerator, DatasetFormat, DefaultModelMonitor
from slipway.monitor import schedule as cron
from slipway.monitor.models import CreateMonitoringSchedule, ExecutionStatus, ScheduleStatus

END = HOUR + dt.timedelta(hours=1)


def test_schedule_expressions_follow_the_reference_forms():
    assert CronExpressionGenerator.hourly() == "cron(0 * ? * * *)"
    assert CronExpressionGenerator.daily(6) == "cron(0 6 ? * * *)"
    assert cron.parse("hourly").hours == frozenset(range(24))
    assert cron.parse("daily").hours == {0}
    assert cron.parse(CronExpressionGenerator.daily_every_x_hours(6, 2)).hours == {2, 8, 14, 20}
    assert cron.parse("cron(0 1,13 ? * * *)").hours == {1, 13}
    assert cron.parse("NOW").once
    plan = cron.parse("cron(0 */6 ? * * *)")
    moment = dt.datetime(2024, 3, 5, 14, 25, tzinfo=dt.UTC)
    assert plan.latest_at_or_before(moment) == dt.datetime(2024, 3, 5, 12, tzinfo=dt.UTC)
    assert plan.previous(plan.latest_at_or_before(moment)).hour == 6
    assert plan.next_after(moment) == dt.datetime(2024, 3, 5, 18, tzinfo=dt.UTC)
    for bad, reason in [
        ("cron(5 * ? * * *)", "minute must be 0"),
        ("cron(0 25 ? * * *)", "hour '25'"),
        ("cron(0 * * *)", "has 4 fields"),
        ("cron(0 * 1 * * *)", "day, month, weekday and year"),
        ("every hour", "is not valid"),
    ]:
        with pytest.raises(ValidationError, match=reason):
            cron.parse(bad)


@pytest.fixture(params=["embedded", pytest.param("remote", marks=pytest.mark.postgres)])
def monitor(request, tmp_path: Path):
    server = request.getfixturevalue("slipway_server") if request.param == "remote" else None
    with platform(tmp_path / "home", server):
        yield DefaultModelMonitor()


def test_schedule_and_execution_verbs_work_alike_embedded_and_remote(monitor, tmp_path, unique):
    train = tmp_path / "train.csv"
    table(1000).to_csv(train, index=False)
    monitor.suggest_baseline(str(train), DatasetFormat.csv(), str(tmp_path / "baseline"))
    capture = tmp_path / "capture"
    write_capture(capture, f"ep-{unique}", csv_captures(table(300, seed=5, shift=40_000)))
    name = f"sched-{unique}"
    created = monitor.create_monitoring_schedule(
        endpoint_input=f"ep-{unique}",
        output_s3_uri=str(tmp_path / "out"),
        monitor_schedule_name=name,
        schedule_cron_expression="cron(0 */2 ? * * *)",
        data_capture_uri=str(capture),
    )
    assert created.monitoring_schedule_status == ScheduleStatus.SCHEDULED
    assert created.next_scheduled_time.hour % 2 == 0
    assert created.monitoring_schedule_config.constraints_uri.endswith("constraints.json")
    with pytest.raises(AlreadyExists):
        monitor.create_monitoring_schedule(
            endpoint_input=f"ep-{unique}",
            output_s3_uri=str(tmp_path / "out"),
            monitor_schedule_name=name,
        )
    execution = monitor.run_execution(HOUR, END, timeout=60)
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED_WITH_VIOLATIONS
    assert execution.data_analysis_start_time == HOUR
    assert execution.violation_count >= 1
    assert monitor.latest_monitoring_constraint_violations()["violations"][0]["feature_name"]
    assert monitor.latest_monitoring_statistics()["dataset"]["item_count"] == 300
    assert [e.monitoring_execution_name for e in monitor.list_executions()] == [
        execution.monitoring_execution_name
    ]
    described = monitor.describe_schedule()
    assert described.last_monitoring_execution_summary.monitoring_execution_name == (
        execution.monitoring_execution_name
    )
    assert monitor.stop_monitoring_schedule().monitoring_schedule_status == ScheduleStatus.STOPPED
    assert monitor.start_monitoring_schedule().monitoring_schedule_status == (
        ScheduleStatus.SCHEDULED
    )
    listed = monitor.backend.list_monitoring_schedules(endpoint_name=f"ep-{unique}").items
    assert [s.monitoring_schedule_name for s in listed] == [name]
    monitor.delete_monitoring_schedule()
    with pytest.raises(NotFound, match=name):
        monitor.backend.describe_monitoring_schedule(name)
    # The execution and its files outlive the schedule.
    kept = monitor.backend.describe_monitoring_execution(execution.monitoring_execution_name)
    assert Path(kept.statistics_uri).exists()


def test_bad_requests_are_refused_with_the_reason(monitor, tmp_path, unique):
    with pytest.raises(ValidationError, match="minute must be 0"):
        monitor.create_monitoring_schedule(
            endpoint_input="ep",
            output_s3_uri=str(tmp_path),
            monitor_schedule_name=f"s{unique}",
            schedule_cron_expression="cron(30 * ? * * *)",
        )
    with pytest.raises(ValidationError, match="does not exist"):
        monitor.create_monitoring_schedule(
            endpoint_input="ep",
            output_s3_uri=str(tmp_path),
            monitor_schedule_name=f"s{unique}",
            constraints=str(tmp_path / "missing.json"),
        )


def _services(url: str, home: Path, count: int):
    """``count`` independent sets of services on one database, as separate servers have."""
    from slipway.artifacts.service import ArtifactService
    from slipway.jobs.service import JobService
    from slipway.monitor.service import MonitorService
    from slipway.settings import Settings
    from slipway.store.artifacts import ArtifactStore
    from slipway.store.db import Database

    found = []
    for i in range(count):
        database = Database(url)
        database.upgrade()
        settings = Settings(
            home=home / f"server-{i}", database_url=url, artifact_uri=str(home / "artifacts")
        )
        artifacts = ArtifactService(database, ArtifactStore(settings.resolved_artifact_uri))
        found.append(MonitorService(database, JobService(database), artifacts, None, settings))
    return found


def _schedule(monitor, name: str, tmp: Path, expression: str) -> None:
    monitor.create_monitoring_schedule(
        CreateMonitoringSchedule(
            monitoring_schedule_name=name,
            endpoint_name="shared",
            output_uri=str(tmp / "out"),
            data_capture_uri=str(tmp / "capture"),
            schedule_expression=expression,
        )
    )


@pytest.mark.postgres
def test_schedulers_racing_on_one_database_run_each_firing_once(postgres_url, tmp_path):
    with fresh_database(postgres_url) as url:
        services = _services(url, tmp_path, 3)
        for i in range(3):
            _schedule(services[0], f"race-{i}", tmp_path, "hourly")
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        barrier = threading.Barrier(len(services))

        def race(service, now):
            barrier.wait()
            for _ in range(3):
                service.tick(now)

        for now in (later, later + dt.timedelta(hours=1)):
            threads = [threading.Thread(target=race, args=(s, now)) for s in services]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for i in range(3):
            names = [
                e.monitoring_execution_name
                for e in services[0].list_monitoring_executions(schedule_name=f"race-{i}").items
            ]
            assert len(names) == 2, names
            assert len(set(names)) == 2
            for name in names:
                done = services[0].wait_for_execution(name, timeout=30)
                assert done.monitoring_execution_status == ExecutionStatus.COMPLETED
                assert done.data_analysis_end_time - done.data_analysis_start_time == (
                    dt.timedelta(hours=1)
                )
        for service in services:
            service.close()
            service.db.dispose()


@pytest.mark.postgres
def test_a_tick_for_one_schedule_starts_only_that_schedules_execution(postgres_url, tmp_path):
    # A Kubernetes CronJob runs one schedule's tick; the others are not its business.
    with fresh_database(postgres_url) as url:
        (service,) = _services(url, tmp_path, 1)
        for name in ("mine", "theirs"):
            _schedule(service, name, tmp_path, "hourly")
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        started = service.tick(later, schedule_name="mine")
        theirs = service.list_monitoring_executions(schedule_name="theirs").items
        assert [
            service.wait_for_execution(n, timeout=30).monitoring_schedule_name for n in started
        ] == ["mine"]
        assert theirs == []
        service.close()
        service.db.dispose()


@pytest.mark.postgres
def test_two_servers_sharing_a_database_run_a_due_execution_once(postgres_url, tmp_path):
    with fresh_database(postgres_url) as url:
        (setup,) = _services(url, tmp_path, 1)
        now = dt.datetime.now(dt.UTC)
        hour = now.replace(minute=0, second=0, microsecond=0)
        write_capture(tmp_path / "capture", "shared", csv_captures(table(50), when=hour), hour)
        for i in range(4):
            _schedule(setup, f"now-{i}", tmp_path, "NOW")
        servers = []
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "slipway.server.app:create_app",
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
        ]
        try:
            for i in range(2):
                port = free_port()
                env = {
                    "SLIPWAY_HOME": str(tmp_path / f"home-{i}"),
                    "SLIPWAY_DATABASE_URL": url,
                    "SLIPWAY_ARTIFACT_URI": str(tmp_path / "artifacts"),
                    "SLIPWAY_SERVER_URL": "",
                    "SLIPWAY_TOKEN": "",
                }
                server = run_server_process([*args, "--port", str(port)], env, port)
                server.__enter__()
                servers.append((server, port))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                found = setup.list_monitoring_executions().items
                if len(found) >= 4 and all(
                    e.monitoring_execution_status
                    in (ExecutionStatus.COMPLETED, ExecutionStatus.COMPLETED_WITH_VIOLATIONS)
                    for e in found
                ):
                    break
                time.sleep(0.2)
            time.sleep(1.0)  # both schedulers have ticked more than once by now
            for i in range(4):
                runs = setup.list_monitoring_executions(schedule_name=f"now-{i}").items
                assert len(runs) == 1, [r.monitoring_execution_name for r in runs]
                assert runs[0].monitoring_execution_status == ExecutionStatus.COMPLETED
                assert runs[0].record_count == 50
            for _, port in servers:
                body = httpx.get(f"http://127.0.0.1:{port}/api/v1/monitoring-executions").json()
                assert len(body["Items"]) == 4
        finally:
            for server, _ in reversed(servers):
                server.__exit__(None, None, None)
            setup.close()
            setup.db.dispose()
