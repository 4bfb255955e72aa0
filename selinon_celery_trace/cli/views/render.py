"""One readable, coloured line per trace event: what ``selinon-trace follow`` prints.

The renderer is a plain function so that other live views can use it too, for example a function sink
that prints events as a worker emits them::

    from rich.console import Console
    from selinon_celery_trace import Trace
    from selinon_celery_trace.cli import render_event

    console = Console()
    Trace.trace_by_func(lambda event, details: console.print(render_event(event, details)))

Failures stand out in red, the dispatcher's own errors reversed, the other warning events (retries,
discarded results, ...) in yellow, as the event catalogue's levels say.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from rich.text import Text

from ...core import catalogue
from ..reading.lines import Record
from .event_messages import append_message
from .formatting import clock

__all__ = ["EVENT_WIDTH", "event_style", "render_event", "render_record"]

EVENT_WIDTH: Final = len("TASK_DISCARD_RESULT")
"""Width of the event-name column: the longest name the package emits itself (longer ones overflow)."""

_STYLE_BY_EVENT: Final = {
    "TASK_SCHEDULE": "blue",
    "SUBFLOW_SCHEDULE": "blue",
    "TASK_START": "cyan",
    "TASK_END": "green",
    "NODE_SUCCESSFUL": "green",
    "FLOW_START": "bold magenta",
    "FLOW_END": "bold green",
    "DISPATCHER_WAKEUP": "magenta",
    "DISPATCHER_RETRY": "magenta",
    "TASK_RETRY": "bold yellow",
    "TASK_FAILURE": "bold red",
    "NODE_FAILURE": "bold red",
    "FLOW_FAILURE": "bold red",
    "EAGER_FAILURE": "bold red",
}
_ERROR_STYLE: Final = "bold white on red"
_WARNING_STYLE: Final = "yellow"


def event_style(name: str) -> str:
    """Return the style of an event name: by its catalogue level first, so warnings always stand out."""
    spec = catalogue.BY_NAME.get(name)
    if spec is not None and spec.level >= logging.ERROR:
        return _ERROR_STYLE
    style = _STYLE_BY_EVENT.get(name)
    if style is not None:
        return style
    if spec is not None and spec.level >= logging.WARNING:
        return _WARNING_STYLE
    return "default" if spec is not None else "dim"


def render_event(
    event: int | str,
    details: object,
    *,
    ts: float | datetime | None = None,
    node: str | None = None,
) -> Text:
    """Return one line for one event: time, host, event name, and what happened in words.

    ``event`` is the event number (as a ``Trace`` sink receives it) or its name (as in a trace file);
    ``ts`` defaults to now (for live sinks); ``node`` is the host that emitted it, left out when
    ``None``. Any ``details`` are accepted: missing keys and odd values render as ``?``, never raise.

    >>> render_event("TASK_END", {"task_name": "fetch", "task_id": "3f2a9c1e77", "runtime": 1.5},
    ...              ts=0, node="host-a").plain
    '00:00:00.000 host-a TASK_END            fetch[3f2a9c1e] ok in 1.50s'
    """
    if isinstance(event, int) and not isinstance(event, bool):
        name = catalogue.NAMES.get(event, f"UNKNOWN_EVENT_{event}")
    else:
        name = str(event)
    if isinstance(details, Mapping):
        fields: Mapping[str, Any] = details
    else:
        fields = {} if details is None else {"details": details}
    if ts is None:
        ts = time.time()
    elif isinstance(ts, datetime):
        ts = ts.timestamp()
    style = event_style(name)
    text = Text(no_wrap=False, overflow="fold")
    text.append(clock(ts), style="dim")
    if node is not None:
        text.append(f" {node}", style="cyan")
    text.append(" ")
    text.append(name.ljust(EVENT_WIDTH), style=style)
    text.append(" ")
    append_message(text, name, fields)
    return text


def render_record(record: Record) -> Text:
    """Return :func:`render_event`'s line for a record read from a trace file."""
    return render_event(record.event, record.details, ts=record.ts, node=record.node)
