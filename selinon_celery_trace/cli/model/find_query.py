"""What ``find`` looks for: a :class:`Query` of task, queue, state, time window and arguments.

Each condition is checked twice: on one event (:meth:`Query.clues`, a cheap necessary condition that
picks the tasks worth rebuilding: some event of a matching attempt satisfies it) and on a rebuilt attempt
(:mod:`.find`, exact). Every value an attempt is matched by (its name, queue, arguments, time, how it
ended) is read from one of its task's events, which is what makes the first check a necessary one.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..reading.event_names import (
    FATE_OUTCOME,
    TASK_DISCARD_RESULT,
    TASK_END,
    TASK_FAILURE,
    TASK_RETRY,
    TASK_SCHEDULE,
    TASK_START,
    TERMINAL,
)
from ..reading.fields import as_str, task_name
from ..reading.lines import Record
from ..reading.prefilter import searchable
from .argument_match import ArgCondition

__all__ = ["STATES", "STATE_EVENTS", "Query", "name_matches", "state_outcomes"]

STATES: Final[Mapping[str, str]] = {
    "failed": "failure",
    "retried": "retry",
    "revoked": "revoked",
    "expired": "expired",
    "rejected": "rejected",
    "succeeded": "success",
    "ok": "success",
    "replaced": "replaced",
    "running": "running",
    "no-end": "running",
    "scheduled": "scheduled",
}
"""The words ``--state`` takes -> the outcome of an attempt (or of a message that never ran)."""

STATE_EVENTS: Final[Mapping[str, frozenset[str]]] = {
    "failure": frozenset({TASK_FAILURE}),
    "retry": frozenset({TASK_RETRY}),
    "success": frozenset({TASK_END, TASK_DISCARD_RESULT}),
    "replaced": TERMINAL,
    "running": frozenset({TASK_START}),
    "scheduled": frozenset({TASK_SCHEDULE}),
    **{outcome: frozenset({event}) for event, outcome in FATE_OUTCOME.items()},
}
"""The events that can tell each outcome (a running attempt: its start; a message never run: its publish)."""

_ID_START: Final = re.compile(r"^[0-9a-fA-F][0-9a-fA-F-]{5,}$")

TASK, QUEUE, STATE, WINDOW, ARGS = 1, 2, 4, 8, 16
"""The conditions, as bits of :meth:`Query.clues`."""


def state_outcomes(words: Iterable[str]) -> frozenset[str]:
    """The outcomes ``--state`` words name (``KeyError`` for a word not in :data:`STATES`)."""
    return frozenset(STATES[word] for word in words)


def _matches(value: str | None, patterns: Sequence[str]) -> bool:
    return value is not None and any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def name_matches(patterns: Sequence[str], task_id: str | None, *names: str | None) -> bool:
    """Whether a task is one ``--task`` names: by a name or pattern, its id, or its id's start (6+ hex)."""
    if _matches(task_id, patterns) or any(_matches(name, patterns) for name in names):
        return True
    return task_id is not None and any(
        _ID_START.match(pattern) and task_id.startswith(pattern) for pattern in patterns
    )


@dataclass(frozen=True, slots=True)
class Query:
    """What to find; an empty condition matches everything. Several values of one option: any of them."""

    tasks: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    outcomes: frozenset[str] = frozenset()
    since: float | None = None
    until: float | None = None
    args: tuple[ArgCondition, ...] = ()  # all must hold

    @property
    def wanted(self) -> int:
        """The bits of the conditions given."""
        bits = TASK if self.tasks else 0
        bits |= QUEUE if self.queues else 0
        bits |= STATE if self.outcomes else 0
        bits |= WINDOW if self.since is not None or self.until is not None else 0
        return bits | (ARGS if self.args else 0)

    def in_window(self, ts: float) -> bool:
        """Whether ``ts`` is within ``--since`` and ``--until`` (both included)."""
        return (self.since is None or ts >= self.since) and (self.until is None or ts <= self.until)

    def args_match(self, node_args: Any) -> bool:
        """Whether the arguments satisfy every ``--arg``."""
        return all(condition.matches(node_args) for condition in self.args)

    def texts(self) -> list[str] | None:
        """Texts every event that can satisfy the query's first check contains, one of them at least
        (for a byte search before parsing: :mod:`..reading.prefilter`); None: no such texts known.

        Four cases are sure: ids (and their starts) of ``--task``, which every event of the task
        carries; when ``--task`` is the only condition and names tasks literally (no pattern), those
        names (an event matches only by holding one, as its task name or id); when the arguments are
        the only condition, the values of ``--arg`` (each event that holds the arguments holds the
        values as compact JSON writes them); and when the state is the only condition (with
        ``--since`` at most), the names of the events that tell those outcomes.
        """
        if self.tasks and all(_ID_START.match(task) for task in self.tasks):
            return list(self.tasks)
        if self.wanted == TASK and all(searchable(task) for task in self.tasks):  # no pattern, no escapes
            return list(self.tasks)
        if self.wanted == ARGS:
            values = [condition.value for condition in self.args]
            if all(value and not any(char in value for char in "*?") for value in values):
                return values
        if self.wanted == STATE or (self.wanted == STATE | WINDOW and self.until is None):
            # The events that tell the outcomes, by name. With --since alone, the event that tells an
            # outcome is no earlier than the time a hit is dated by (its attempt's start or the event).
            return sorted({event for outcome in self.outcomes for event in STATE_EVENTS[outcome]})
        return None

    def clues(self, record: Record) -> int:
        """The bits of the conditions this one event satisfies (a task's event; see the module docstring)."""
        details = record.details
        bits = 0
        if self.tasks and name_matches(
            self.tasks, as_str(details, "task_id"), as_str(details, "task_name"), task_name(details)
        ):
            bits |= TASK
        if self.queues and _matches(as_str(details, "queue"), self.queues):
            bits |= QUEUE
        if self.outcomes and any(record.event in STATE_EVENTS[outcome] for outcome in self.outcomes):
            bits |= STATE
        if (self.since is not None or self.until is not None) and self.in_window(record.ts):
            bits |= WINDOW
        if self.args and "node_args" in details and self.args_match(details["node_args"]):
            bits |= ARGS
        return bits
