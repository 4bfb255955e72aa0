"""The tallies ``summary`` keeps per task name, flow (or canvas shape), queue or host, and per failure.

Plain counters and duration sketches, folded by :class:`.summary.Summary`: each one's size is fixed, so
memory grows with the number of names, never with the number of events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .duration_sketch import DurationSketch

__all__ = ["FailureGroup", "FlowTally", "PlaceTally", "TaskTally", "tally"]

_Tally = TypeVar("_Tally")


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


@dataclass(slots=True)
class PlaceTally:
    """Events seen on one queue or host, and how many task attempts started, retried and failed there."""

    events: int = 0
    starts: int = 0
    retries: int = 0
    failures: int = 0
