"""Firing schedules: which executions are due, their names, windows and output folders.

Scheduled executions are named after their schedule and firing time, so the jobs table's
unique (kind, name) is the lock that lets several servers share one database and still
run each execution once: whoever inserts the row runs it, the others see it exists and
move on.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.exc import IntegrityError

from slipway.errors import AlreadyExists, SlipwayError
from slipway.monitor import schedule as cron
from slipway.monitor.executions import ExecutionStore
from slipway.monitor.models import CreateMonitoringSchedule, StartExecution, offset
from slipway.monitor.runner import ExecutionRunner
from slipway.monitor.schedules import ScheduleStore

log = logging.getLogger("slipway.monitor")


class Firing:
    """Creates the executions of schedules, when due or by hand, and hands them to be run."""

    def __init__(
        self, schedules: ScheduleStore, executions: ExecutionStore, runner: ExecutionRunner
    ) -> None:
        self.schedules = schedules
        self.executions = executions
        self.runner = runner

    def fire_due(self, now: dt.datetime, schedule_name: str | None = None) -> list[str]:
        """Start the executions that are due (of one schedule, if named); their names."""
        started = []
        for row in self.schedules.scheduled(schedule_name):
            try:
                name = self._fire_if_due(row, now)
            except SlipwayError as error:
                # One broken schedule must not stop the others; its description says why.
                log.error("monitoring schedule %s cannot fire: %s", row.name, error.message)
                self.schedules.record_failure(row.name, error.message)
                continue
            if name:
                started.append(name)
        return started

    def fire_by_hand(self, schedule_name: str, request: StartExecution) -> str:
        """Start one execution now over a window given by hand; its name."""
        config = self.schedules.config(schedule_name)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        name = f"{schedule_name}-manual-{stamp}"
        output = f"{_folder(config)}/{schedule_name}/manual/{name}"
        end = request.data_analysis_end_time
        self.executions.create(name, config, end, request.data_analysis_start_time, end, output)
        self.runner.submit(name)
        return name

    def _fire_if_due(self, row: Any, now: dt.datetime) -> str | None:
        config = CreateMonitoringSchedule.model_validate(row.spec)
        plan = cron.parse(config.schedule_expression)
        if plan.once:
            if row.last_fired_at is not None:
                return None
            fire = row.created_at
            start = now + offset(config.data_analysis_start_time or "-PT1H")
            end = now + offset(config.data_analysis_end_time or "PT0S")
            name = f"{row.name}-{fire:%Y%m%d%H%M%S}"
        else:
            fire = plan.latest_at_or_before(now)
            if fire <= (row.last_fired_at or row.created_at):
                return None
            start, end = plan.previous(fire), fire
            name = f"{row.name}-{fire:%Y%m%d%H%M}"
        output = f"{_folder(config)}/{row.name}/{fire:%Y/%m/%d/%H}"
        try:
            self.executions.create(name, config, fire, start, end, output)
            claimed = True
        except (AlreadyExists, IntegrityError):
            claimed = False  # another server took this firing
        self.schedules.advance(row.name, fire)
        if not claimed:
            return None
        self.runner.submit(name)
        return name


def _folder(config: CreateMonitoringSchedule) -> str:
    """Where an endpoint's executions write their files, under the schedule's output URI."""
    return f"{config.output_uri.rstrip('/')}/{config.endpoint_name}"
