"""Monitoring schedules: their rows in the metadata database, their state and description.

A schedule's ``last_fired_at`` is the scheduler's cursor: the last firing time an
execution was created for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from slipway.errors import AlreadyExists, NotFound, SlipwayError, ValidationError
from slipway.experiments.expressions import decode_token, encode_token
from slipway.experiments.models import Page
from slipway.monitor import _execution
from slipway.monitor import formats as f
from slipway.monitor import schedule as cron
from slipway.monitor._listing import check_page_size, enum_value
from slipway.monitor.models import (
    CreateMonitoringSchedule,
    MonitoringExecution,
    MonitoringSchedule,
    MonitoringType,
    ScheduleStatus,
    UpdateMonitoringSchedule,
)
from slipway.monitor.tables import monitoring_schedules as s
from slipway.store.db import Database

LatestExecution = Callable[[str], MonitoringExecution | None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_baseline(config: CreateMonitoringSchedule) -> None:
    """Refuse a schedule whose baseline files cannot be read, before it ever runs."""
    model = (
        f.QualityConstraints
        if config.monitoring_type == MonitoringType.MODEL_QUALITY
        else f.Constraints
    )
    for uri, kind, what in (
        (config.constraints_uri, model, "constraints"),
        (config.statistics_uri, f.Statistics, "statistics"),
    ):
        if uri is None or (kind is f.Statistics and model is f.QualityConstraints):
            continue
        try:
            _execution.load(kind, uri, what)
        except SlipwayError as error:
            raise ValidationError(error.message) from None


class ScheduleStore:
    """The monitoring schedules of one metadata database."""

    def __init__(self, database: Database, latest_execution: LatestExecution) -> None:
        self.db = database
        # Executions are stored apart; a description shows the newest one.
        self.latest_execution = latest_execution

    def create(self, request: CreateMonitoringSchedule) -> None:
        check_baseline(request)
        now = _now()
        with self.db.write() as conn:
            exists = conn.scalar(
                sa.select(s.c.id).where(s.c.name == request.monitoring_schedule_name)
            )
            if exists is not None:
                raise AlreadyExists(
                    f"monitoring schedule {request.monitoring_schedule_name!r} exists already; "
                    "delete it first or pick another name"
                )
            conn.execute(
                sa.insert(s).values(
                    name=request.monitoring_schedule_name,
                    endpoint_name=request.endpoint_name,
                    status=ScheduleStatus.SCHEDULED.value,
                    spec=request.to_wire(),
                    created_at=now,
                    modified_at=now,
                )
            )

    def row(self, name: str) -> Any:
        with self.db.read() as conn:
            row = conn.execute(sa.select(s).where(s.c.name == name)).first()
        if row is None:
            raise NotFound(
                f"monitoring schedule {name!r} not found; list schedules with "
                "`slipway monitor schedule list`"
            )
        return row

    def config(self, name: str) -> CreateMonitoringSchedule:
        return CreateMonitoringSchedule.model_validate(self.row(name).spec)

    def describe(self, name: str) -> MonitoringSchedule:
        return self._describe(self.row(name))

    def list(
        self,
        *,
        endpoint_name: str | None,
        status: ScheduleStatus | str | None,
        name_contains: str | None,
        max_results: int,
        next_token: str | None,
    ) -> Page[MonitoringSchedule]:
        check_page_size(max_results)
        query = sa.select(s)
        if endpoint_name:
            query = query.where(s.c.endpoint_name == endpoint_name)
        if status:
            query = query.where(s.c.status == enum_value(ScheduleStatus, status, "schedule status"))
        if name_contains:
            query = query.where(s.c.name.contains(name_contains, autoescape=True))
        offset = decode_token(next_token)
        query = query.order_by(s.c.created_at.desc(), s.c.id.desc())
        with self.db.read() as conn:
            rows = list(conn.execute(query.offset(offset).limit(max_results + 1)))
        items = [self._describe(row) for row in rows[:max_results]]
        token = encode_token(offset + max_results) if len(rows) > max_results else None
        return Page[MonitoringSchedule](items=items, next_token=token)

    def update(self, name: str, update: UpdateMonitoringSchedule) -> None:
        changes = update.model_dump(exclude_none=True)
        config = CreateMonitoringSchedule.model_validate(
            {**self.config(name).model_dump(), **changes}
        )
        check_baseline(config)
        self._set(name, spec=config.to_wire())

    def stop(self, name: str) -> None:
        self.row(name)
        self._set(name, status=ScheduleStatus.STOPPED.value)

    def start(self, name: str) -> None:
        row = self.row(name)
        plan = cron.parse(CreateMonitoringSchedule.model_validate(row.spec).schedule_expression)
        # Firings missed while stopped are not made up; the next one counts.
        cursor = row.last_fired_at if plan.once else plan.latest_at_or_before(_now())
        self._set(name, status=ScheduleStatus.SCHEDULED.value, last_fired_at=cursor)

    def delete(self, name: str) -> None:
        self.row(name)
        with self.db.write() as conn:
            conn.execute(sa.delete(s).where(s.c.name == name))

    def scheduled(self, name: str | None = None) -> list[Any]:
        """The rows of the schedules that are on (only ``name``'s, if given)."""
        query = sa.select(s).where(s.c.status == ScheduleStatus.SCHEDULED.value)
        if name is not None:
            query = query.where(s.c.name == name)
        with self.db.read() as conn:
            return list(conn.execute(query))

    def advance(self, name: str, fire: dt.datetime) -> None:
        """Move the cursor to ``fire``, never back (another server may be ahead)."""
        with self.db.write() as conn:
            conn.execute(
                sa.update(s)
                .where(
                    s.c.name == name, sa.or_(s.c.last_fired_at.is_(None), s.c.last_fired_at < fire)
                )
                .values(last_fired_at=fire)
            )

    def record_failure(self, name: str, reason: str) -> None:
        self._set(name, failure_reason=reason[:1024])

    def _set(self, name: str, **values: Any) -> None:
        with self.db.write() as conn:
            conn.execute(sa.update(s).where(s.c.name == name).values(modified_at=_now(), **values))

    def _describe(self, row: Any) -> MonitoringSchedule:
        config = CreateMonitoringSchedule.model_validate(row.spec)
        plan = cron.parse(config.schedule_expression)
        upcoming = None
        if row.status == ScheduleStatus.SCHEDULED.value and not plan.once:
            upcoming = plan.next_after(max(_now(), row.last_fired_at or row.created_at))
        return MonitoringSchedule(
            monitoring_schedule_name=row.name,
            monitoring_schedule_status=ScheduleStatus(row.status),
            endpoint_name=row.endpoint_name,
            monitoring_type=config.monitoring_type,
            creation_time=row.created_at,
            last_modified_time=row.modified_at,
            failure_reason=row.failure_reason,
            next_scheduled_time=upcoming,
            monitoring_schedule_config=config,
            last_monitoring_execution_summary=self.latest_execution(row.name),
        )
