"""The trace event catalogue: the one place where each event's facts live.

Numbers and names are exactly those of the reference ``selinon.trace`` (DISPATCHER_WAKEUP = 0 ...
EAGER_FAILURE = 49), so code and trace files written against Selinon keep their meaning. The rows are
data (:mod:`.events`); the docs' event table is generated from :data:`EVENTS`
(``python -m selinon_celery_trace.core.catalogue``) and a test fails when the two differ.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .events import ROWS, WARN_EVENTS

__all__ = ["BY_NAME", "EVENTS", "LEVELS", "NAMES", "WARN_EVENTS", "EventSpec", "markdown_table", "numbers"]

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


def _level(number: int) -> int:
    # The reference's logging rule: DISPATCHER_FAILURE is an error, WARN_EVENTS warnings, the rest info.
    if number == _DISPATCHER_FAILURE:
        return logging.ERROR
    return logging.WARNING if number in WARN_EVENTS else logging.INFO


EVENTS: Final[tuple[EventSpec, ...]] = tuple(
    EventSpec(number, name, description, emitter, _level(number), keys)
    for number, name, description, emitter, keys in ROWS
)
"""All 50 events, indexed by their number (``EVENTS[n].number == n``)."""

NAMES: Final[tuple[str, ...]] = tuple(spec.name for spec in EVENTS)
"""Event names indexed by number: the hot path's ``event2str``."""

LEVELS: Final[tuple[int, ...]] = tuple(spec.level for spec in EVENTS)
"""Logging levels indexed by number."""

BY_NAME: Final[dict[str, EventSpec]] = {spec.name: spec for spec in EVENTS}


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
        "| # | event | level | emitter | description | detail keys |",
        "|---|---|---|---|---|---|",
    ]
    for spec in EVENTS:
        keys = ", ".join(f"`{key}`" for key in spec.keys)
        level = logging.getLevelName(spec.level)
        lines.append(
            f"| {spec.number} | `{spec.name}` | {level} | {spec.emitter} | {spec.description} | {keys} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - documentation helper
    print(markdown_table(), end="")
