"""Schedule expressions as the reference allows them, and when they fire.

``cron(0 * ? * * *)`` (hourly), ``cron(0 H ? * * *)`` (daily at H), ``cron(0 H/N ? * * *)``
(every N hours from H), hour lists ``cron(0 1,13 ? * * *)``, the words ``hourly`` and
``daily``, and ``NOW`` (one execution, at once). The minute is always 0: monitoring runs
on the hour and analyses the period since the previous firing (the previous hour for an
hourly schedule). The grammar is this small on purpose, so it is parsed here rather than
handed to a general cron library that would accept forms the reference refuses.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from slipway.errors import ValidationError

NOW = "NOW"
_HOUR = r"(?:[01]?[0-9]|2[0-3])"
_HOURS = rf"(?:\*|{_HOUR}(?:,{_HOUR})*|(?:\*|{_HOUR})/(?:[1-9]|1[0-9]|2[0-4]))"
# The expressions parse() accepts, in the spelling the reference documents (parse() also
# takes other letter cases and spacing), for the OpenAPI schema.
EXPRESSION_PATTERN = rf"^(?:NOW|hourly|daily|cron\(0 {_HOURS} [*?] \* [*?] \*\))$"
_CRON = re.compile(r"cron\((.*)\)", re.IGNORECASE)
_WORDS = {"hourly": "cron(0 * ? * * *)", "daily": "cron(0 0 ? * * *)"}
_HELP = (
    "use cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H), "
    "cron(0 H/N ? * * *) (every N hours from H), hourly, daily or NOW"
)


class CronExpressionGenerator:
    """The reference SDK's helper for schedule expressions."""

    @staticmethod
    def hourly() -> str:
        return "cron(0 * ? * * *)"

    @staticmethod
    def daily(hour: int = 0) -> str:
        _hour(str(hour))
        return f"cron(0 {hour} ? * * *)"

    @staticmethod
    def daily_every_x_hours(hour_interval: int, starting_hour: int = 0) -> str:
        return f"cron(0 {starting_hour}/{hour_interval} ? * * *)"

    @staticmethod
    def now() -> str:
        return NOW


@dataclass(frozen=True)
class Schedule:
    """The hours (UTC) a schedule fires at; ``once`` for NOW."""

    expression: str
    hours: frozenset[int]
    once: bool = False

    def latest_at_or_before(self, moment: dt.datetime) -> dt.datetime:
        hour = moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        while hour.hour not in self.hours:
            hour -= dt.timedelta(hours=1)
        return hour

    def previous(self, fire: dt.datetime) -> dt.datetime:
        return self.latest_at_or_before(fire - dt.timedelta(hours=1))

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        hour = moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        hour += dt.timedelta(hours=1)
        while hour.hour not in self.hours:
            hour += dt.timedelta(hours=1)
        return hour


def parse(expression: str) -> Schedule:
    text = expression.strip()
    if text.upper() == NOW:
        return Schedule(NOW, frozenset(), once=True)
    text = _WORDS.get(text.lower(), text)
    found = _CRON.fullmatch(text)
    if not found:
        raise ValidationError(f"schedule expression {expression!r} is not valid; {_HELP}")
    fields = found.group(1).split()
    if len(fields) != 6:
        raise ValidationError(
            f"schedule expression {expression!r} has {len(fields)} fields, the reference's "
            f"cron has 6 (minute hour day-of-month month day-of-week year); {_HELP}"
        )
    minute, hour, day, month, weekday, year = fields
    if minute != "0":
        raise ValidationError(
            f"schedule expression {expression!r}: the minute must be 0 (monitoring runs on "
            "the hour)"
        )
    if day not in ("*", "?") or month != "*" or weekday not in ("*", "?") or year != "*":
        raise ValidationError(
            f"schedule expression {expression!r}: day, month, weekday and year must be * or ?; "
            f"{_HELP}"
        )
    return Schedule(text, frozenset(_hours(hour, expression)))


def _hours(field: str, expression: str) -> set[int]:
    if field == "*":
        return set(range(24))
    if "/" in field:
        start, _, step = field.partition("/")
        first = 0 if start == "*" else _hour(start, expression)
        if not step.isdigit() or not 1 <= int(step) <= 24:
            raise ValidationError(
                f"schedule expression {expression!r}: the interval {step!r} must be 1 to 24 hours"
            )
        return set(range(first, 24, int(step)))
    return {_hour(part, expression) for part in field.split(",")}


def _hour(text: str, expression: str | None = None) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 23:
        raise ValidationError(
            f"schedule expression {expression or text!r}: hour {text!r} must be 0 to 23"
        )
    return int(text)
