"""The pieces every event's words are made of: a name with its short id, where it ran, its error.

Shared by :mod:`.event_messages` (the reference's events) and :mod:`.celery_messages` (this package's
Celery events). Missing keys and odd values read as ``?`` or are left out, never raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from ..reading.fields import as_int, as_str, error_line, task_name
from .formatting import short_id

__all__ = ["add_attempt", "add_error", "add_flow", "add_in_flow", "add_ref", "add_task", "add_where"]


def add_ref(text: Text, name: str | None, ident: str | None, style: str = "bold") -> None:
    """Append ``name[short id]``: the name to read, the id to copy into ``selinon-trace show``."""
    text.append(name or "?", style=style)
    if ident:
        text.append(f"[{short_id(ident)}]", style="dim")


def add_task(text: Text, details: Mapping[str, Any]) -> None:
    """Append the task's ``name[short id]``."""
    add_ref(text, task_name(details), as_str(details, "task_id"))


def add_flow(text: Text, details: Mapping[str, Any], prefix: str = "flow ") -> None:
    """Append ``flow name[short id]`` of the flow the event names."""
    text.append(prefix, style="dim")
    add_ref(text, as_str(details, "flow_name"), as_str(details, "dispatcher_id"), "bold magenta")


def add_where(text: Text, details: Mapping[str, Any]) -> None:
    """Append the queue and the worker (``hostname/pid``) the event happened on, as far as known."""
    queue = as_str(details, "queue")
    if queue:
        text.append(f" q={queue}", style="blue")
    worker = as_str(details, "hostname")
    pid = as_str(details, "pid")
    if worker or pid:
        text.append(f" {worker or '?'}" + (f"/{pid}" if pid else ""), style="dim cyan")


def add_in_flow(text: Text, details: Mapping[str, Any]) -> None:
    """Append `` in flow[id]`` when the event belongs to a flow."""
    if as_str(details, "dispatcher_id") or as_str(details, "flow_name"):
        text.append(" in ", style="dim")
        add_ref(text, as_str(details, "flow_name"), as_str(details, "dispatcher_id"), "magenta")


def add_attempt(text: Text, details: Mapping[str, Any]) -> None:
    """Append ``attempt N`` for a retried task's later attempts."""
    retried = as_int(details, "retried_count")
    if retried:
        text.append(f" attempt {retried + 1}", style="yellow")


def add_error(text: Text, details: Mapping[str, Any], style: str) -> None:
    """Append ``: Type: message``, the one line of the event's error text."""
    line = error_line(details.get("what"), details.get("exc_type"))
    if line:
        text.append(": ", style=style)
        text.append(line, style=style)
