"""One readable, coloured line per trace event: what ``selinon-trace follow`` prints.

The renderer is a plain function so that other live views can use it too, for example a function sink
that prints events as a worker emits them::

    from rich.console import Console
    from selinon_celery_trace import Trace
    from selinon_celery_trace.cli.render import render_event

    console = Console()
    Trace.trace_by_func(lambda event, details: console.print(render_event(event, details)))

Failures stand out in red, the dispatcher's own errors reversed, the other warning events (retries,
discarded results, ...) in yellow, as the event catalogue's levels say.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from rich.text import Text

from ..core import catalogue
from .fields import as_float, as_int, as_str, clock, error_line, format_duration, short_id
from .reader import Record

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


def _ref(text: Text, name: str | None, ident: str | None, style: str = "bold") -> None:
    """Append ``name[short id]``: the name to read, the id to copy into ``selinon-trace show``."""
    text.append(name or "?", style=style)
    if ident:
        text.append(f"[{short_id(ident)}]", style="dim")


def _task(text: Text, details: Mapping[str, Any]) -> None:
    _ref(text, as_str(details, "task_name"), as_str(details, "task_id"))


def _flow(text: Text, details: Mapping[str, Any], prefix: str = "flow ") -> None:
    text.append(prefix, style="dim")
    _ref(text, as_str(details, "flow_name"), as_str(details, "dispatcher_id"), "bold magenta")


def _where(text: Text, details: Mapping[str, Any]) -> None:
    queue = as_str(details, "queue")
    if queue:
        text.append(f" q={queue}", style="blue")
    worker = as_str(details, "hostname")
    pid = as_str(details, "pid")
    if worker or pid:
        text.append(f" {worker or '?'}" + (f"/{pid}" if pid else ""), style="dim cyan")


def _in_flow(text: Text, details: Mapping[str, Any]) -> None:
    if as_str(details, "dispatcher_id") or as_str(details, "flow_name"):
        text.append(" in ", style="dim")
        _ref(text, as_str(details, "flow_name"), as_str(details, "dispatcher_id"), "magenta")


def _attempt(text: Text, details: Mapping[str, Any]) -> None:
    retried = as_int(details, "retried_count")
    if retried:
        text.append(f" attempt {retried + 1}", style="yellow")


def _error(text: Text, details: Mapping[str, Any], style: str) -> None:
    line = error_line(details.get("what"), details.get("exc_type"))
    if line:
        text.append(": ", style=style)
        text.append(line, style=style)


def _schedule(text: Text, details: Mapping[str, Any]) -> None:
    _task(text, details)
    _where(text, details)
    countdown = as_float(details, "countdown")
    if countdown:
        text.append(f" countdown {format_duration(countdown)}", style="dim")
    eta = as_str(details, "eta")
    if eta:
        text.append(f" eta {eta}", style="dim")
    _in_flow(text, details)


def _subflow(text: Text, details: Mapping[str, Any]) -> None:
    text.append("subflow ", style="dim")
    _ref(text, as_str(details, "flow_name"), as_str(details, "task_id"), "bold magenta")
    _where(text, details)
    parent = as_str(details, "parent_dispatcher_id")
    if parent:
        text.append(f" from [{short_id(parent)}]", style="dim")


def _start(text: Text, details: Mapping[str, Any]) -> None:
    _task(text, details)
    _attempt(text, details)
    _where(text, details)
    _in_flow(text, details)


def _end(text: Text, details: Mapping[str, Any]) -> None:
    _task(text, details)
    text.append(f" ok in {format_duration(as_float(details, 'runtime'))}", style="green")
    _where(text, details)
    _in_flow(text, details)


def _discard(text: Text, details: Mapping[str, Any]) -> None:
    _end(text, details)
    text.append(" (result discarded: no result backend keeps it)", style="yellow")


def _failure(text: Text, details: Mapping[str, Any]) -> None:
    _task(text, details)
    text.append(" failed", style="bold red")
    _attempt(text, details)
    _where(text, details)
    _in_flow(text, details)
    _error(text, details, "red")  # last: an error text may be long, the facts above are not


def _retry(text: Text, details: Mapping[str, Any]) -> None:
    _task(text, details)
    countdown = as_float(details, "retry_countdown")
    text.append(" retry" + (f" in {format_duration(countdown)}" if countdown is not None else ""), "yellow")
    _attempt(text, details)
    _where(text, details)
    _in_flow(text, details)
    _error(text, details, "yellow")


def _wakeup(text: Text, details: Mapping[str, Any]) -> None:
    _flow(text, details)
    retry = as_int(details, "retry")
    text.append(f" wake-up #{retry + 1}" if retry is not None else " wake-up", style="magenta")
    _where(text, details)


def _flow_start(text: Text, details: Mapping[str, Any]) -> None:
    _flow(text, details)
    text.append(" started", style="magenta")
    _where(text, details)


def _dispatcher_retry(text: Text, details: Mapping[str, Any]) -> None:
    _flow(text, details)
    text.append(" will check again", style="magenta")


def _flow_end(text: Text, details: Mapping[str, Any]) -> None:
    _flow(text, details)
    text.append(" finished", style="bold green")


def _flow_failure(text: Text, details: Mapping[str, Any]) -> None:
    _flow(text, details)
    text.append(" failed", style="bold red")
    _error(text, details, "red")


def _dispatcher_failure(text: Text, details: Mapping[str, Any]) -> None:
    _flow(text, details)
    text.append(" dispatcher error", style="bold red")
    _error(text, details, "red")


def _node(text: Text, details: Mapping[str, Any], ok: bool) -> None:
    _flow(text, details)
    text.append(" node ", style="dim")
    _ref(text, as_str(details, "node_name"), as_str(details, "node_id"))
    if ok:
        text.append(" succeeded", style="green")
    else:
        text.append(" failed", style="bold red")
        _error(text, details, "red")


def _scalar(value: object) -> str | None:
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:59] + "…"
    if value is None or isinstance(value, (bool, int, float)):
        return str(value)
    return None


def _generic(text: Text, details: Mapping[str, Any]) -> None:
    # Events the package does not emit itself (storage, caches, migrations, user code): their names
    # and flow context first, then every other simple value.
    shown = set()
    if as_str(details, "dispatcher_id") or as_str(details, "flow_name"):
        _flow(text, details, prefix="")
        shown |= {"dispatcher_id", "flow_name"}
    for key in ("node_name", "task_name", "storage_name"):
        if as_str(details, key):
            text.append(f" {key}=", style="dim")
            text.append(as_str(details, key) or "", style="bold")
            shown.add(key)
    if "what" in details:
        _error(text, details, "yellow")
        shown.add("what")
    for key, value in details.items():
        if key in shown or not isinstance(key, str):
            continue
        rendered = _scalar(value)
        if rendered is not None and value is not None:
            text.append(f" {key}=", style="dim")
            text.append(rendered)


_MESSAGES: Final[dict[str, Callable[[Text, Mapping[str, Any]], None]]] = {
    "TASK_SCHEDULE": _schedule,
    "SUBFLOW_SCHEDULE": _subflow,
    "TASK_START": _start,
    "TASK_END": _end,
    "TASK_DISCARD_RESULT": _discard,
    "TASK_FAILURE": _failure,
    "TASK_RETRY": _retry,
    "DISPATCHER_WAKEUP": _wakeup,
    "FLOW_START": _flow_start,
    "DISPATCHER_RETRY": _dispatcher_retry,
    "FLOW_END": _flow_end,
    "FLOW_FAILURE": _flow_failure,
    "DISPATCHER_FAILURE": _dispatcher_failure,
    "NODE_SUCCESSFUL": lambda text, details: _node(text, details, ok=True),
    "NODE_FAILURE": lambda text, details: _node(text, details, ok=False),
}


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
        name = catalogue.NAMES[event] if 0 <= event < len(catalogue.NAMES) else f"UNKNOWN_EVENT_{event}"
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
    _MESSAGES.get(name, _generic)(text, fields)
    return text


def render_record(record: Record) -> Text:
    """Return :func:`render_event`'s line for a record read from a trace file."""
    return render_event(record.event, record.details, ts=record.ts, node=record.node)
