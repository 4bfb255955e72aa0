"""The events the Sentry sink treats apart, named here and numbered by the catalogue (the one place)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ...core import catalogue

__all__ = [
    "DISPATCHER_FAILURE",
    "DISPATCHER_RETRY",
    "FAILURE_EVENTS",
    "FATE_EVENTS",
    "FLOW_TERMINAL",
    "SUBFLOW_SCHEDULE",
    "TASK_FAILURE",
    "TASK_RETRY",
    "TASK_SCHEDULE",
    "TASK_START",
    "TASK_TERMINAL",
    "WAKEUP",
    "WARN",
    "event_numbers",
]


def _number(name: str) -> int:
    return catalogue.BY_NAME[name].number


FAILURE_EVENTS: Final = catalogue.numbers(
    ["TASK_FAILURE", "FLOW_FAILURE", "DISPATCHER_FAILURE", "NODE_FAILURE"]
)
"""TASK_FAILURE, FLOW_FAILURE, DISPATCHER_FAILURE, NODE_FAILURE: what becomes a Sentry event by default."""

TASK_START: Final = _number("TASK_START")
WAKEUP: Final = _number("DISPATCHER_WAKEUP")
TASK_SCHEDULE: Final = _number("TASK_SCHEDULE")
SUBFLOW_SCHEDULE: Final = _number("SUBFLOW_SCHEDULE")
TASK_FAILURE: Final = _number("TASK_FAILURE")
TASK_RETRY: Final = _number("TASK_RETRY")
DISPATCHER_FAILURE: Final = _number("DISPATCHER_FAILURE")
DISPATCHER_RETRY: Final = _number("DISPATCHER_RETRY")

TASK_TERMINAL: Final = catalogue.numbers(["TASK_END", "TASK_FAILURE", "TASK_RETRY"])
"""The events that end a task attempt."""
FATE_EVENTS: Final = catalogue.numbers(["TASK_REVOKED", "TASK_EXPIRED", "TASK_REJECTED"])
"""A message's fate outside an attempt (revoked, expired, rejected): its task's history ends there too."""
FLOW_TERMINAL: Final = catalogue.numbers(["FLOW_END", "FLOW_FAILURE", "DISPATCHER_RETRY"])
"""The events that end a dispatcher's execution."""
WARN: Final = catalogue.WARNING_EVENTS


def event_numbers(events: Iterable[str | int]) -> frozenset[int]:
    """The numbers of ``events``: names (read by the catalogue) or known event numbers.

    ``ValueError`` for one string instead of a list, and for the first unknown name or number.
    """
    if isinstance(events, str):
        raise ValueError("'events' must be a list of event names, not one string")
    found: set[int] = set()
    for item in events:
        if isinstance(item, int) and not isinstance(item, bool):
            if item not in catalogue.NAMES:
                raise ValueError(f"unknown event {item!r}")
            found.add(item)
        else:
            found |= catalogue.numbers([item])
    return frozenset(found)
