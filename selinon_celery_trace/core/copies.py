"""What a function sink receives: its own copy of an event's details.

A function sink (``Trace.trace_by_func``, ``{"function": ...}``) is user code and may change the mapping
it is given. Selinon hands its trace functions a dict built per ``Trace.log`` call; here the details
are often someone else's: the dict a caller passed to ``Trace.log``, or the Celery adapters' details,
which later events reuse (an attempt's terminal event extends the dict its start event had; a flow
keeps its arguments). So each function sink gets its own copy of the dicts and lists, at any depth
(within bounds); every other value (a caller's own object, a string) is shared, as in Selinon.
Sinks with ``receive(event, record)`` (the built-in ones) never change what they read and get no
copy, so a process without function sinks pays nothing.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["BUDGET", "DEPTH", "fresh"]

DEPTH: Final = 32
"""Dicts and lists deeper than this are shared, not copied (the adapters' details go 4 deep)."""
BUDGET: Final = 4096
"""At most this many dicts and lists are copied per event; past it they are shared. Bounds the work
on details that reach one container many times (a cycle, a shared dict), which a walk would multiply."""


def fresh(details: Any) -> Any:
    """A copy of ``details``'s dicts and lists (within :data:`DEPTH` and :data:`BUDGET`), sharing the rest.

    >>> details = {"node_args": {"args": [1]}}
    >>> copy = fresh(details)
    >>> copy["node_args"]["args"].append(2)
    >>> details
    {'node_args': {'args': [1]}}
    """
    kind = type(details)
    if kind is dict:
        return _dict(details, DEPTH, [BUDGET])
    if kind is list:
        return _list(details, DEPTH, [BUDGET])
    return details


# Copy, then replace the few values that are containers: most values are not, and dict.copy() is C.
def _dict(value: dict[Any, Any], depth: int, budget: list[int]) -> dict[Any, Any]:
    new = value.copy()
    budget[0] -= 1
    if depth and budget[0] > 0:
        for key, item in value.items():
            kind = type(item)
            if kind is dict:
                new[key] = _dict(item, depth - 1, budget)
            elif kind is list:
                new[key] = _list(item, depth - 1, budget)
    return new


def _list(value: list[Any], depth: int, budget: list[int]) -> list[Any]:
    new = value.copy()
    budget[0] -= 1
    if depth and budget[0] > 0:
        for index, item in enumerate(value):
            kind = type(item)
            if kind is dict:
                new[index] = _dict(item, depth - 1, budget)
            elif kind is list:
                new[index] = _list(item, depth - 1, budget)
    return new
