"""``summary``'s periodic section: per beat entry, its sends, how the tasks it sent ended, and its gaps.

Beat publishes an entry's task with TASK_SCHEDULE carrying ``periodic`` (the entry's name and its
schedule as text); BEAT_START says beat (re)started, BEAT_LATE that it sent an entry late. From the
sends alone a missed run shows: an interval entry whose gap between two sends is over 1.5 times its
interval, a crontab entry with a due time and no send for it. Memory: one tally per entry, plus the ids
of the tasks it sent that have not ended yet (bounded).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, Final
from zoneinfo import ZoneInfo

from ..reading.event_names import (
    ATTEMPT_OUTCOME,
    BEAT_LATE,
    BEAT_START,
    FATE_OUTCOME,
    TASK_RETRY,
    TASK_SCHEDULE,
)
from ..reading.fields import as_float, as_str, task_name
from ..reading.lines import Record
from .schedules import Crontab, parse_crontab, parse_interval

__all__ = ["GAP_FACTOR", "BeatStart", "Entry", "Periodic"]

GAP_FACTOR: Final = 1.5
"""An interval entry's gap between two sends over this many intervals is a missed run."""

_CRON_GRACE: Final = 60.0
"""Seconds after a crontab due time before its missing send counts (at the end of the input)."""

_PENDING_LIMIT: Final = 100_000
"""Sent tasks waiting for their end, at most (the oldest are forgotten: their outcome reads "no end")."""


@dataclass(slots=True)
class Entry:
    """One beat entry: its schedule, its sends and what became of them."""

    name: str
    task: str | None = None
    schedule: str | None = None
    every: float | None = None  # an interval schedule's seconds
    crontab: Crontab | None = None
    sends: int = 0
    first: float | None = None
    last: float | None = None
    longest_gap: float | None = None
    longest_gap_end: float | None = None  # when the send that ended the longest gap happened
    missed: int = 0  # due times with no send, between two sends
    missed_at: list[float] = field(default_factory=list)  # the ends of the first few gaps with one
    since_last: int = 0  # due times with no send, from the last send to the end of the input
    input_end: float | None = None
    late: int = 0  # BEAT_LATE: sent later than due
    latest_late: float | None = None
    outcomes: Counter[str] = field(default_factory=Counter)  # success, failure, revoked, ...

    def send(self, ts: float) -> None:
        """Count a send at ``ts`` and what its gap from the previous one says."""
        previous, self.last = self.last, ts
        self.sends += 1
        if previous is None:
            self.first = ts
            return
        gap = ts - previous
        if self.longest_gap is None or gap > self.longest_gap:
            self.longest_gap, self.longest_gap_end = gap, ts
        self._miss(self._missed_between(previous, ts), ts)

    def _missed_between(self, previous: float, ts: float) -> int:
        gap = ts - previous
        if self.every is not None:
            return max(1, round(gap / self.every) - 1) if gap > GAP_FACTOR * self.every else 0
        if self.crontab is not None:
            # Each send fulfils the latest due time before it; due times between two of those had none.
            before, now = self.crontab.last_due(previous), self.crontab.last_due(ts)
            if before is not None and now is not None:
                return sum(1 for _ in self.crontab.dues(before, now)) - 1 if now > before else 0
        return 0

    def _miss(self, count: int, ts: float) -> None:
        if count > 0:
            self.missed += count
            if len(self.missed_at) < 5:
                self.missed_at.append(ts)

    @property
    def missed_total(self) -> int:
        """Every due time with no send: between sends and after the last one."""
        return self.missed + self.since_last

    def close(self, end: float) -> int:
        """Count the due times from the last send to ``end`` (the input's last event) with no send."""
        self.input_end = end
        if self.last is None or end <= self.last:
            return 0
        count = 0
        if self.every is not None and end - self.last > GAP_FACTOR * self.every:
            count = int((end - self.last) // self.every)
        elif self.crontab is not None:
            due = self.crontab.last_due(self.last)
            count = sum(1 for _ in self.crontab.dues(due or self.last, end - _CRON_GRACE))
        self.since_last = count
        return count


@dataclass(frozen=True, slots=True)
class BeatStart:
    """One start of celery beat: when, where, with how many entries."""

    ts: float
    where: str
    entries: int | None


def _periodic(details: Mapping[str, Any]) -> tuple[str, str | None, Mapping[str, Any]] | None:
    value = details.get("periodic")
    if isinstance(value, Mapping):
        name = as_str(value, "name") or as_str(value, "entry")
        return (name, as_str(value, "schedule"), value) if name else None
    if isinstance(value, str) and value:
        return value, None, {}
    return None


class Periodic:
    """Beat's entries and starts, folded from a stream of records."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.starts: list[BeatStart] = []
        # Task id -> entry name, of the tasks beat sent that wait for their end (non-empty: ``waiting``).
        self.pending: OrderedDict[str, str] = OrderedDict()

    @property
    def waiting(self) -> bool:
        """Whether tasks beat sent still wait for their end (their ends are then worth folding)."""
        return bool(self.pending)

    def waiting_ids(self) -> list[str]:
        """The ids of the tasks beat sent that wait for their end."""
        return list(self.pending)

    def add(self, record: Record) -> None:
        """Fold one record (those of no beat entry cost a dictionary lookup)."""
        ts, event, details, node = record
        if event == TASK_SCHEDULE:
            found = _periodic(details)
            if found is not None:
                self._send(ts, details, *found)
            return
        if event == BEAT_START:
            entries = details.get("entries")
            count = len(entries) if isinstance(entries, (list, Mapping)) else None
            where = as_str(details, "hostname") or node
            pid = as_str(details, "pid")
            self.starts.append(BeatStart(ts, f"{where} pid {pid}" if pid else where, count))
            return
        if event == BEAT_LATE:
            name = as_str(details, "entry")
            if name is not None:
                entry = self._entry(name)
                entry.late += 1
                entry.latest_late = as_float(details, "late")
            return
        if not self.pending:
            return
        task_id = as_str(details, "task_id")
        if task_id is None or event == TASK_RETRY:
            return
        outcome = ATTEMPT_OUTCOME.get(event) or FATE_OUTCOME.get(event)
        if outcome is not None:
            name = self.pending.pop(task_id, None)
            if name is not None:
                self.entries[name].outcomes[outcome] += 1

    def _entry(self, name: str) -> Entry:
        entry = self.entries.get(name)
        if entry is None:
            entry = self.entries[name] = Entry(name)
        return entry

    def _send(
        self, ts: float, details: Mapping[str, Any], name: str, schedule: str | None, value: Any
    ) -> None:
        entry = self._entry(name)
        entry.task = entry.task or task_name(details)
        if schedule is not None and schedule != entry.schedule:
            entry.schedule = schedule
            entry.every = as_float(value, "every") or as_float(value, "interval") or parse_interval(schedule)
            entry.crontab = None
            if entry.every is None:
                entry.crontab = parse_crontab(schedule, _zone(value))
        entry.send(ts)
        task_id = as_str(details, "task_id")
        if task_id is not None:
            self.pending[task_id] = name
            if len(self.pending) > _PENDING_LIMIT:
                self.pending.popitem(last=False)

    def finish(self, end: float | None) -> None:
        """At the end of the input: the runs still without an end, and the due times since the last send."""
        for name in self.pending.values():
            self.entries[name].outcomes["no end"] += 1
        self.pending.clear()
        if end is not None:
            for entry in self.entries.values():
                entry.close(end)


def _zone(value: Any) -> Any:
    name = as_str(value, "timezone") if isinstance(value, Mapping) else None
    if name:
        try:
            return ZoneInfo(name)
        except Exception:  # an unknown zone: UTC, as Celery's default
            pass
    return timezone.utc
