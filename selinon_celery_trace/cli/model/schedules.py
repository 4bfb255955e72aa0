"""A beat entry's schedule read back from its text: an interval, or a crontab whose due times we list.

TASK_SCHEDULE's ``periodic`` carries the schedule as text (``every 5s``, ``crontab */5 * * * *``, or as
Celery writes it: ``<freq: 5.00 seconds>``, ``<crontab: */5 * * * * (m/h/dM/MY/d)>``) and an interval's
seconds (``interval``); ``summary`` needs it to tell a missed run from a schedule
kept. The CLI imports no Celery, so the two common kinds are parsed here; anything else (solar, a
custom schedule) reads as ``None`` and is never flagged. A crontab's fields are Celery's: minute, hour,
day of month, month, day of week (0 or ``sun`` is Sunday), and, as in Celery, a day must match both its
day-of-month and its day-of-week fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Final

__all__ = ["Crontab", "parse_crontab", "parse_interval"]

_UNITS: Final = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_INTERVAL: Final = re.compile(
    r"(?:<freq:|every)?\s*([0-9]+(?:\.[0-9]+)?)\s*(second|minute|hour|day)s?\b", re.I
)
_NUMBER: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_SHORT: Final = re.compile(r"every\s+([0-9.]+(?:e[+-]?[0-9]+)?)s", re.I)  # this package's "every 30s"
_CRONTAB: Final = re.compile(r"crontab[:(\s]\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+([^\s)>]+)", re.I)
_DAYS: Final = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def parse_interval(text: str) -> float | None:
    """Seconds of an interval schedule (``every 30s``, ``<freq: 2.00 minutes>``, ``30``), else None."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        seconds = float(text)
        return seconds if seconds > 0 else None
    if "crontab" in text.lower():
        return None
    short = _SHORT.fullmatch(text)
    if short is not None:
        seconds = float(short.group(1))
        return seconds if seconds > 0 else None
    match = _INTERVAL.search(text)
    if match is None:
        return None
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    return seconds if seconds > 0 else None


def _value(token: str, names: dict[str, int]) -> int:
    token = token.strip().lower()
    return names[token[:3]] if token[:3] in names else int(token)


def _field(spec: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The values a crontab field allows: ``*``, ``*/n``, ``a``, ``a-b``, ``a-b/n``, comma-separated."""
    found: set[int] = set()
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise ValueError(spec)
        if part in ("*", ""):
            first, last = low, high
        elif "-" in part:
            first_text, last_text = part.split("-", 1)
            first, last = _value(first_text, names or {}), _value(last_text, names or {})
        else:
            first = _value(part, names or {})
            last = high if step > 1 else first
        if high == 6 and last == 7:  # Sunday written as 7
            found.add(0)
            last = 6
        if not (low <= first <= high and low <= last <= high):
            raise ValueError(spec)
        found.update(range(first, last + 1, step))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Crontab:
    """A parsed crontab: the minutes, hours, days, months and weekdays it runs at (in ``zone``)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday, as in Celery
    zone: tzinfo = timezone.utc

    def dues(self, after: float, until: float, limit: int = 10_000) -> Iterator[float]:
        """Its due times in ``(after, until]`` (POSIX seconds), at most ``limit`` of them, in order."""
        day = datetime.fromtimestamp(after, self.zone).replace(hour=0, minute=0, second=0, microsecond=0)
        last_day = datetime.fromtimestamp(until, self.zone)
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        count = 0
        while day <= last_day and count < limit:
            weekday = (day.weekday() + 1) % 7  # Python's Monday 0 -> cron's Sunday 0
            if day.month in self.months and day.day in self.days and weekday in self.weekdays:
                for hour in hours:
                    for minute in minutes:
                        moment = day.replace(hour=hour, minute=minute).timestamp()
                        if after < moment <= until:
                            count += 1
                            yield moment
                            if count >= limit:
                                return
            day = (day + timedelta(days=1)).replace(hour=0, minute=0)

    def last_due(self, at: float) -> float | None:
        """The latest due time at or before ``at`` (looking back at most 400 days), else None."""
        found = None
        start = at - 400 * 86400.0
        # Walk back a day at a time: the first day (from the end) with a due time holds the answer.
        for days_back in range(0, 401):
            begin = max(start, at - (days_back + 1) * 86400.0)
            for moment in self.dues(begin, at - days_back * 86400.0):
                found = moment
            if found is not None:
                return found
        return None


def parse_crontab(text: str, zone: tzinfo = timezone.utc) -> Crontab | None:
    """A :class:`Crontab` from ``crontab m h dM MY d`` (or Celery's ``<crontab: ...>``), else None."""
    match = _CRONTAB.search(text)
    if match is None:
        return None
    minute, hour, day, month, weekday = match.groups()
    try:
        return Crontab(
            _field(minute, 0, 59),
            _field(hour, 0, 23),
            _field(day, 1, 31),
            _field(month, 1, 12, _MONTHS),
            _field(weekday, 0, 6, _DAYS),
            zone,
        )
    except (ValueError, KeyError):
        return None
