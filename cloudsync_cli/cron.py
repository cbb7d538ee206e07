"""The next time an EventBridge Scheduler cron expression fires, in its time zone.

``cloudsync doctor`` reports the nightly run's next start; GetSchedule returns the expression and
the time zone but not the next run. EventBridge's cron has six fields (minutes hours
day-of-month month day-of-week year), day-of-week 1-7 = SUN-SAT or names, and one of the two day
fields is ``?``. Supported: ``*``, ``?``, numbers, names, ranges, lists and ``/`` steps; the
rarer ``L``, ``W`` and ``#`` forms answer None (unknown) rather than a wrong time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
_EXPRESSION = re.compile(r"^cron\((.+)\)$")
MAX_YEARS = 5  # how far ahead to look before answering "never"


class CronError(ValueError):
    """Not a cron expression this module can evaluate."""


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, _, step_text = part.partition("/")
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"bad step in {text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, _, last = part.partition("-")
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise CronError(f"{text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    upper = text.upper()
    if names and upper in names:
        return names[upper]
    if not text.isdigit():
        raise CronError(f"{text!r} is not a value this evaluator knows (L, W and # are not)")
    return int(text)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: '?' (the day-of-week field decides)
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1-7 = SUN-SAT; None: '?'
    years: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Cron:
        match = _EXPRESSION.match(expression.strip())
        fields = match.group(1).split() if match else []
        if len(fields) != 6:
            raise CronError(f"{expression!r} is not cron(min hour day month weekday year)")
        minute, hour, day, month, weekday, year = fields
        return cls(
            minutes=_field(minute, 0, 59),
            hours=_field(hour, 0, 23),
            days=None if day == "?" else _field(day, 1, 31),
            months=_field(month, 1, 12, _MONTHS),
            weekdays=None if weekday == "?" else _field(weekday, 1, 7, _DAYS),
            years=_field(year, 1970, 2199),
        )

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        if self.days is not None and day.day not in self.days:
            return False
        sunday_first = day.isoweekday() % 7 + 1  # Monday=1 ... Sunday=7  ->  SUN=1 ... SAT=7
        return self.weekdays is None or sunday_first in self.weekdays

    def next_after(self, moment: datetime, timezone: str) -> datetime | None:
        """The first firing strictly after ``moment`` (aware), in ``timezone``; None if none
        within ``MAX_YEARS``."""
        zone = ZoneInfo(timezone)
        local = moment.astimezone(zone)
        day = local.date()
        for _ in range(366 * MAX_YEARS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime.combine(day, time(hour, minute), tzinfo=zone)
                        if candidate > local:
                            return candidate
            day += timedelta(days=1)
        return None


def next_run(expression: str, timezone: str, now: datetime) -> datetime | None:
    """``Cron.parse(expression).next_after(now, timezone)``; raises ``CronError``."""
    return Cron.parse(expression).next_after(now, timezone)
