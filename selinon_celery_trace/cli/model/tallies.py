"""The tallies ``summary`` keeps per task name, flow (or canvas shape), queue or host, and per failure.

Plain counters and duration sketches, folded by :class:`.summary.Summary`: each one's size is fixed, so
memory grows with the number of names, never with the number of events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Final, TypeVar

from ..reading.event_names import TASK_FAILURE, TASK_RETRY, TASK_START
from .duration_sketch import DurationSketch

__all__ = [
    "FailureGroup",
    "FailureGroups",
    "FlowTally",
    "PlaceTally",
    "TaskTally",
    "merge_tallies",
    "tally",
]

_Tally = TypeVar("_Tally")
_Time = TypeVar("_Time", float, datetime)


def _least(one: _Time | None, other: _Time | None) -> _Time | None:
    return other if one is None else one if other is None else min(one, other)


def _most(one: _Time | None, other: _Time | None) -> _Time | None:
    return other if one is None else one if other is None else max(one, other)


def tally(table: dict[str, _Tally], key: str, new: Callable[[], _Tally]) -> _Tally:
    """The tally of ``key`` in ``table``, created empty on first sight."""
    found = table.get(key)
    if found is None:
        found = table[key] = new()
    return found


@dataclass(slots=True)
class TaskTally:
    """Counts for one task name: attempts by outcome and their durations."""

    runs: int = 0
    successes: int = 0
    failures: int = 0
    retries: int = 0
    unfinished: int = 0
    replaced: int = 0  # attempts that ended by Task.replace (their replacement is counted as its task)
    durations: DurationSketch = field(default_factory=DurationSketch)
    revoked: int = 0  # messages revoked (before they started, or terminated while running)
    expired: int = 0  # messages whose `expires` passed before they started
    rejected: int = 0  # messages a worker could not take (unregistered name, undecodable)


@dataclass(slots=True)
class FlowTally:
    """Counts for one flow name: flows started and how they ended, dispatcher work, durations."""

    runs: int = 0
    successes: int = 0
    failures: int = 0
    wakeups: int = 0
    dispatcher_errors: int = 0
    unfinished: int = 0
    dropped: int = 0  # canvas workflows ended by a member revoked, expired or rejected
    durations: DurationSketch = field(default_factory=DurationSketch)


@dataclass(slots=True)
class FailureGroup:
    """Failures with the same kind, name and error line: how many, when, and the latest id to show."""

    count: int
    first_ts: float
    last_ts: float
    last_id: str | None


class FailureGroups(dict[tuple[str, str, str], FailureGroup]):
    """Failures grouped by (kind, name, error line), in the order each group was first met."""

    MAX: Final = 1000
    """Distinct groups kept; errors that embed ids would otherwise grow forever."""

    def add(self, kind: str, name: str, error: str, ts: float, ident: str | None) -> None:
        """Count one failure of ``kind`` (task, flow, dispatcher, canvas) at ``ts``; ``ident`` to show it."""
        key = (kind, name, error)
        group = self.get(key)
        if group is None:
            if len(self) >= self.MAX:
                key = (kind, name, "(other errors: too many distinct ones to list)")
                group = self.get(key)
            if group is None:
                group = self[key] = FailureGroup(0, ts, ts, ident)
        group.count += 1
        group.first_ts = min(group.first_ts, ts)
        if ts >= group.last_ts:
            group.last_ts, group.last_id = ts, ident


@dataclass(slots=True)
class PlaceTally:
    """Events seen on one queue or host, and how many task attempts started, retried and failed there."""

    events: int = 0
    starts: int = 0
    retries: int = 0
    failures: int = 0


class EventCounts:
    """Events counted by name, host and queue, and the first and last event's time.

    The times are kept as POSIX seconds (:meth:`count`) or, for lines decoded lean, as the aware UTC
    datetimes they were read as (``first_moment``, ``last_moment``: the seconds are worked out once, at
    the end, not per line); ``first_ts`` and ``last_ts`` say the earliest and latest of both.
    """

    def __init__(self) -> None:
        self._first: float | None = None
        self._last: float | None = None
        self.first_moment: datetime | None = None
        self.last_moment: datetime | None = None
        # Events by (name, host, queue), each count in a list of one (one lookup to add to it).
        self.counts: dict[tuple[str, str, str | None], list[int]] = {}

    def count(self, ts: float, event: str, node: str, queue: str | None) -> None:
        """Count an event: its time, and its name on its host and queue."""
        last = self._last
        if last is None:
            self._first = self._last = ts
        elif ts > last:
            self._last = ts
        elif ts < self._first:  # type: ignore[operator]
            self._first = ts
        key = (event, node, queue)
        cell = self.counts.get(key)
        if cell is None:
            cell = self.counts[key] = [0]
        cell[0] += 1

    @property
    def first_ts(self) -> float | None:
        """The earliest event's time (POSIX seconds), None before any."""
        moment = None if self.first_moment is None else self.first_moment.timestamp()
        return _least(self._first, moment)

    @property
    def last_ts(self) -> float | None:
        """The latest event's time (POSIX seconds), None before any."""
        moment = None if self.last_moment is None else self.last_moment.timestamp()
        return _most(self._last, moment)

    def merge_counts(self, other: EventCounts) -> None:
        """Add the events ``other`` counted (another part of the same input)."""
        counts = self.counts
        for key, (number,) in other.counts.items():
            counts.setdefault(key, [0])[0] += number
        self._first, self._last = _least(self._first, other._first), _most(self._last, other._last)
        self.first_moment = _least(self.first_moment, other.first_moment)
        self.last_moment = _most(self.last_moment, other.last_moment)

    @property
    def events(self) -> int:
        """How many events were counted."""
        return sum(number for (number,) in self.counts.values())

    @property
    def by_event(self) -> Counter[str]:
        """Events by name."""
        table: Counter[str] = Counter()
        for (event, _, _), (number,) in self.counts.items():
            table[event] += number
        return table

    @property
    def by_host(self) -> dict[str, PlaceTally]:
        """Events by host (node), with the attempts that started, retried and failed there."""
        return self._places(1)

    @property
    def by_queue(self) -> dict[str, PlaceTally]:
        """Events by queue (those naming one), with the attempts that started, retried and failed there."""
        return self._places(2)

    def _places(self, position: int) -> dict[str, PlaceTally]:
        table: dict[str, PlaceTally] = {}
        for key, (number,) in self.counts.items():
            place = key[position]
            if place or position == 1:  # every host; a queue as as_str reads it: a non-empty text
                counted = tally(table, str(place), PlaceTally)
                counted.events += number
                event = key[0]
                if event == TASK_START:
                    counted.starts += number
                elif event == TASK_RETRY:
                    counted.retries += number
                elif event == TASK_FAILURE:
                    counted.failures += number
        return table


def merge_tallies(table: dict[str, _Tally], other: dict[str, _Tally], new: Callable[[], _Tally]) -> None:
    """Add the counts and durations of ``other``'s tallies (another part of the input) to ``table``'s."""
    for key, theirs in other.items():
        ours = tally(table, key, new)
        for column in fields(ours):  # type: ignore[arg-type]
            value = getattr(theirs, column.name)
            if isinstance(value, DurationSketch):
                getattr(ours, column.name).merge(value)
            else:
                setattr(ours, column.name, getattr(ours, column.name) + value)
