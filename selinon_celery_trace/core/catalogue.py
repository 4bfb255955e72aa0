"""The trace event catalogue: the one place where each event's facts live.

Three ranges, one catalogue:

- 0-49: the reference ``selinon.trace``, exactly its numbers and names (DISPATCHER_WAKEUP = 0 ...
  EAGER_FAILURE = 49), so code and trace files written against Selinon keep their meaning;
- 50-52: names later Selinon releases added (``FLOW_SCHEDULE``, ``STORAGE_DELETE``, ``STORAGE_DELETED``);
- 100 up: this package's Celery events (revoked, expired and rejected messages, beat, workers).

The rows are data (:mod:`.events`, :mod:`.celery_events`); the docs' event table is generated from
:data:`EVENTS` (``python -m selinon_celery_trace.core.catalogue``) and a test fails when the two differ.
Numbers are not contiguous: index by number through :data:`NAMES` / :data:`LEVELS` / :data:`BY_NUMBER`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from . import celery_events, events
from .celery_events import EXTENSION_WARN_EVENTS
from .events import WARN_EVENTS

__all__ = [
    "BY_NAME",
    "BY_NUMBER",
    "EVENTS",
    "EXTENSION_WARN_EVENTS",
    "LEVELS",
    "NAMES",
    "WARNING_EVENTS",
    "WARN_EVENTS",
    "EventSpec",
    "markdown_table",
    "numbers",
    "origin",
]

_DISPATCHER_FAILURE: Final = 11


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One trace event: its reference number and name, what it means, who emits it, its level and keys."""

    number: int
    name: str
    description: str
    emitter: str
    level: int
    keys: tuple[str, ...]


WARNING_EVENTS: Final[frozenset[int]] = frozenset((*WARN_EVENTS, *EXTENSION_WARN_EVENTS))
"""Every event logged at WARNING: the reference's WARN_EVENTS and this package's extension of them."""


def _level(number: int) -> int:
    # The reference's logging rule: DISPATCHER_FAILURE is an error, WARN_EVENTS warnings, the rest info
    # (this package's own events follow it through EXTENSION_WARN_EVENTS).
    if number == _DISPATCHER_FAILURE:
        return logging.ERROR
    return logging.WARNING if number in WARNING_EVENTS else logging.INFO


EVENTS: Final[tuple[EventSpec, ...]] = tuple(
    EventSpec(number, name, description, emitter, _level(number), keys)
    for number, name, description, emitter, keys in (*events.ROWS, *celery_events.ROWS)
)
"""Every event, in number order (0-52, then 100 up)."""

BY_NUMBER: Final[dict[int, EventSpec]] = {spec.number: spec for spec in EVENTS}
"""Each event by its number."""

NAMES: Final[dict[int, str]] = {spec.number: spec.name for spec in EVENTS}
"""Event names by number: the hot path's ``event2str`` (``KeyError`` for an unknown number)."""

LEVELS: Final[dict[int, int]] = {spec.number: spec.level for spec in EVENTS}
"""Logging levels by number."""

BY_NAME: Final[dict[str, EventSpec]] = {spec.name: spec for spec in EVENTS}


def origin(number: int) -> str:
    """Where an event's number and name come from: the reference, a later Selinon, or this package.

    >>> origin(3), origin(50), origin(100)
    ('Selinon', 'Selinon 1.1+', 'Celery (this package)')
    """
    if number < 50:
        return "Selinon"
    if number < 100:
        return "Selinon 1.1+"
    return "Celery (this package)"


def numbers(names: Iterable[object]) -> frozenset[int]:
    """The numbers of the events called ``names``; ``ValueError`` names the first unknown one.

    >>> sorted(numbers(["TASK_FAILURE", "FLOW_FAILURE"]))
    [8, 10]
    """
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ValueError(f"expected a list of event names, got {names!r}")
    found = set()
    for name in names:
        spec = BY_NAME.get(name) if isinstance(name, str) else None
        if spec is None:
            raise ValueError(f"unknown event {name!r}")
        found.add(spec.number)
    return frozenset(found)


def markdown_table() -> str:
    """Return README's event table, generated from :data:`EVENTS`."""
    lines = [
        "| # | event | from | level | emitter | description | detail keys |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in EVENTS:
        keys = ", ".join(f"`{key}`" for key in spec.keys)
        level = logging.getLevelName(spec.level)
        lines.append(
            f"| {spec.number} | `{spec.name}` | {origin(spec.number)} | {level} | {spec.emitter} "
            f"| {spec.description} | {keys} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - documentation helper
    print(markdown_table(), end="")
