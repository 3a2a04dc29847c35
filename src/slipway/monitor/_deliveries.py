"""Alert deliveries kept in the database: each is tried a few times at once, then again
later with a back-off, and after the last try marked Failed and logged as an error.

Servers sharing a database take due deliveries with a compare-and-set on
``next_attempt_at`` (a lease), so a delivery is attempted by one server at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import sqlalchemy as sa

from slipway.monitor import alerts
from slipway.monitor import formats as f
from slipway.monitor.models import AlertDelivery, AlertRule, DeliveryStatus
from slipway.monitor.tables import alert_deliveries as t
from slipway.store.db import Database

log = logging.getLogger("slipway.monitor.alerts")
_LEASE = dt.timedelta(minutes=2)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Deliveries:
    def __init__(self, database: Database) -> None:
        self.db = database

    def record(
        self,
        rules: list[AlertRule],
        execution: dict[str, Any],
        status: str,
        violations: list[f.Violation],
        distances: dict[str, float],
    ) -> list[int]:
        """Record a delivery for every rule that fires; nothing is sent yet."""
        found = []
        for rule in rules:
            reported = alerts.fires(rule, status, violations, distances)
            if reported is not None:
                body = alerts.payload(rule, execution, reported)
                found.append(self._record(rule, execution, body))
        return found

    def send(self, delivery_ids: list[int]) -> None:
        """Attempt recorded deliveries a few times at once; the rest is retry_due's."""
        for delivery_id in delivery_ids:
            with self.db.read() as conn:
                row = conn.execute(sa.select(t).where(t.c.id == delivery_id)).one()
            rule = AlertRule.model_validate(row.rule)
            self._attempt(
                delivery_id, rule, row.payload, attempts_done=0, tries=alerts.INLINE_ATTEMPTS
            )

    def retry_due(self, now: dt.datetime | None = None) -> int:
        """Try again every delivery whose next attempt is due; returns how many were tried."""
        now = now or _now()
        tried = 0
        with self.db.read() as conn:
            due = list(
                conn.execute(
                    sa.select(t.c.id, t.c.next_attempt_at).where(
                        t.c.status == DeliveryStatus.PENDING.value, t.c.next_attempt_at <= now
                    )
                )
            )
        for row in due:
            if not self._lease(row.id, row.next_attempt_at, now):
                continue
            with self.db.read() as conn:
                current = conn.execute(sa.select(t).where(t.c.id == row.id)).one()
            rule = AlertRule.model_validate(current.rule)
            self._attempt(row.id, rule, current.payload, current.attempts, tries=1)
            tried += 1
        return tried

    def list(
        self, execution_name: str | None = None, schedule_name: str | None = None
    ) -> list[AlertDelivery]:
        query = sa.select(t).order_by(t.c.id)
        if execution_name:
            query = query.where(t.c.execution_name == execution_name)
        if schedule_name:
            query = query.where(t.c.schedule_name == schedule_name)
        with self.db.read() as conn:
            return [_delivery(row) for row in conn.execute(query.limit(1000))]

    # --- internals ----------------------------------------------------------------------

    def _record(self, rule: AlertRule, execution: dict[str, Any], body: dict[str, Any]) -> int:
        with self.db.write() as conn:
            return conn.execute(
                sa.insert(t)
                .values(
                    execution_name=execution["MonitoringExecutionName"],
                    schedule_name=execution["MonitoringScheduleName"],
                    alert_name=rule.alert_name,
                    channel=rule.channel,
                    target=alerts.target(rule)[:2048],
                    rule=rule.to_wire(),
                    payload=body,
                    status=DeliveryStatus.PENDING.value,
                    attempts=0,
                    created_at=_now(),
                    next_attempt_at=_now() + _LEASE,  # ours while we try it inline
                )
                .returning(t.c.id)
            ).scalar_one()

    def _lease(self, delivery_id: int, seen: dt.datetime, now: dt.datetime) -> bool:
        with self.db.write() as conn:
            taken = conn.execute(
                sa.update(t)
                .where(
                    t.c.id == delivery_id,
                    t.c.next_attempt_at == seen,
                    t.c.status == DeliveryStatus.PENDING.value,
                )
                .values(next_attempt_at=now + _LEASE)
            )
            return taken.rowcount == 1

    def _attempt(
        self,
        delivery_id: int,
        rule: AlertRule,
        body: dict[str, Any],
        attempts_done: int,
        tries: int,
    ) -> None:
        attempts = attempts_done
        error = ""
        for attempt in range(tries):
            attempts += 1
            try:
                alerts.deliver_once(rule, body)
            except alerts.DeliveryFailed as failure:
                error = str(failure)
                if attempt + 1 < tries:
                    time.sleep(alerts.inline_pause(attempt))
                continue
            self._update(delivery_id, DeliveryStatus.DELIVERED, attempts, None, None)
            return
        if attempts >= alerts.MAX_ATTEMPTS:
            log.error(
                "alert %s for %s was not delivered after %d attempts: %s",
                rule.alert_name,
                body.get("MonitoringExecutionName"),
                attempts,
                error,
            )
            self._update(delivery_id, DeliveryStatus.FAILED, attempts, error, None)
            return
        log.warning(
            "alert %s not delivered yet (%d attempts): %s", rule.alert_name, attempts, error
        )
        self._update(
            delivery_id, DeliveryStatus.PENDING, attempts, error, _now() + alerts.backoff(attempts)
        )

    def _update(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        attempts: int,
        error: str | None,
        next_attempt: dt.datetime | None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status.value,
            "attempts": attempts,
            "last_error": (error or "")[:1024] or None,
            "next_attempt_at": next_attempt,
        }
        if status == DeliveryStatus.DELIVERED:
            values["delivered_at"] = _now()
        with self.db.write() as conn:
            conn.execute(sa.update(t).where(t.c.id == delivery_id).values(**values))


def _delivery(row: Any) -> AlertDelivery:
    return AlertDelivery(
        delivery_id=row.id,
        alert_name=row.alert_name,
        channel=row.channel,
        target=row.target,
        monitoring_execution_name=row.execution_name,
        monitoring_schedule_name=row.schedule_name,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        creation_time=row.created_at,
        delivered_time=row.delivered_at,
        next_attempt_time=row.next_attempt_at,
        payload=row.payload,
    )
