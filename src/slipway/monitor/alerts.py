"""Alert rules on executions and the three ways to deliver them: webhook, e-mail, log.

Which rules fire is decided here; recording each delivery, retrying failed ones with a
back-off and giving up loudly after the last try is the service's (every attempt is a
row in ``monitor_alert_deliveries``).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx

from slipway.monitor import formats as f
from slipway.monitor.models import AlertRule

log = logging.getLogger("slipway.monitor.alerts")
MAX_ATTEMPTS = 6
INLINE_ATTEMPTS = 3
_INLINE_PAUSES = (0.2, 0.5)
_TIMEOUT = 10.0


class DeliveryFailed(Exception):
    """One attempt to deliver an alert did not succeed."""


def fires(
    rule: AlertRule,
    status: str,
    violations: list[f.Violation],
    distances: dict[str, float],
) -> list[f.Violation] | None:
    """The violations a rule reports, or None when the rule does not fire."""
    if rule.condition == "ExecutionFailed":
        return [] if status == "Failed" else None
    if rule.condition == "AnyViolation":
        return violations or None
    if rule.condition == "CheckType":
        matching = [v for v in violations if v.constraint_check_type == rule.check_type]
        return matching or None
    distance = distances.get(rule.feature_name or "")
    if distance is not None and distance > (rule.drift_threshold or 0.0):
        return [v for v in violations if v.feature_name == rule.feature_name] or [
            f.Violation(
                feature_name=rule.feature_name,
                constraint_check_type=f.CheckType.BASELINE_DRIFT.value,
                description=f"Baseline drift distance: {distance:.4g} exceeds the alert "
                f"threshold: {rule.drift_threshold:g} for feature '{rule.feature_name}'",
            )
        ]
    return None


def target(rule: AlertRule) -> str:
    if rule.channel == "Webhook":
        return rule.webhook_url or ""
    if rule.channel == "Email":
        return ", ".join(rule.email_to)
    return "log"


def payload(
    rule: AlertRule,
    execution: dict[str, Any],
    violations: list[f.Violation],
) -> dict[str, Any]:
    return {
        "AlertName": rule.alert_name,
        "Condition": rule.condition,
        **execution,
        "Violations": [v.model_dump(exclude_none=True) for v in violations],
        "AlertTime": dt.datetime.now(dt.UTC).isoformat(),
    }


def deliver_once(rule: AlertRule, body: dict[str, Any]) -> None:
    """One attempt; raises DeliveryFailed with the reason."""
    try:
        if rule.channel == "Webhook":
            response = httpx.post(rule.webhook_url or "", json=body, timeout=_TIMEOUT)
            if response.status_code >= 300:
                raise DeliveryFailed(
                    f"webhook {rule.webhook_url} answered {response.status_code}: "
                    f"{response.text[:200]}"
                )
        elif rule.channel == "Email":
            _mail(rule, body)
        else:
            log.warning("monitoring alert %s: %s", rule.alert_name, _subject(body))
    except DeliveryFailed:
        raise
    except (httpx.HTTPError, OSError, smtplib.SMTPException) as error:
        raise DeliveryFailed(
            f"{rule.channel} delivery to {target(rule)} failed: {error!r}"
        ) from None


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try: 30 s, 1, 2, 4... minutes."""
    return dt.timedelta(seconds=30 * 2 ** max(attempts - INLINE_ATTEMPTS, 0))


def inline_pause(attempt: int) -> float:
    return _INLINE_PAUSES[min(attempt, len(_INLINE_PAUSES) - 1)]


def _subject(body: dict[str, Any]) -> str:
    count = len(body.get("Violations", []))
    return (
        f"[slipway] {body.get('MonitoringScheduleName')}: "
        f"{body.get('MonitoringExecutionStatus')} ({count} violations) on endpoint "
        f"{body.get('EndpointName')}"
    )


def _mail(rule: AlertRule, body: dict[str, Any]) -> None:
    message = EmailMessage()
    message["Subject"] = _subject(body)
    message["From"] = rule.email_from
    message["To"] = ", ".join(rule.email_to)
    lines = [
        f"Alert {body['AlertName']} ({body['Condition']}) fired for monitoring execution "
        f"{body.get('MonitoringExecutionName')}.",
        f"Status: {body.get('MonitoringExecutionStatus')}",
        f"Window: {body.get('DataAnalysisStartTime')} to {body.get('DataAnalysisEndTime')}",
    ]
    if body.get("FailureReason"):
        lines.append(f"Failure reason: {body['FailureReason']}")
    if body.get("ReportUri"):
        lines.append(f"Report: {body['ReportUri']}")
    lines.append("")
    lines += [
        f"- {v.get('feature_name') or v.get('metric_name')}: {v['constraint_check_type']}: "
        f"{v['description']}"
        for v in body.get("Violations", [])
    ]
    message.set_content("\n".join(lines))
    with smtplib.SMTP(rule.smtp_host, rule.smtp_port, timeout=_TIMEOUT) as smtp:
        smtp.send_message(message)
