"""What happened, in words, after the event name on ``follow``'s line: one phrasing per event.

Each event the package emits has its own words (``fetch[3f2a9c1e] ok in 1.50s``); any other event (storage,
caches, migrations, user code) shows its names and flow context, then its other simple values. Missing
keys and odd values read as ``?``, never raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from rich.text import Text

from ..reading.fields import as_float, as_int, as_str
from .celery_messages import CELERY_MESSAGES, clock_of, periodic_words
from .formatting import format_duration, short_id
from .message_parts import add_attempt, add_error, add_flow, add_in_flow, add_ref, add_task, add_where

__all__ = ["append_message"]


def _schedule(text: Text, details: Mapping[str, Any]) -> None:
    add_task(text, details)
    add_where(text, details)
    countdown = as_float(details, "countdown")
    if countdown:
        text.append(f" countdown {format_duration(countdown)}", style="dim")
    eta = as_str(details, "eta")
    if eta:
        text.append(f" eta {eta}", style="dim")
    expires = clock_of(details, "expires") or as_str(details, "expires")
    if expires:
        text.append(f" expires {expires}", style="dim")
    periodic = periodic_words(details.get("periodic"))
    if periodic:
        text.append(f" {periodic}", style="blue")
    add_in_flow(text, details)


def _subflow(text: Text, details: Mapping[str, Any]) -> None:
    text.append("subflow ", style="dim")
    add_ref(text, as_str(details, "flow_name"), as_str(details, "task_id"), "bold magenta")
    add_where(text, details)
    parent = as_str(details, "parent_dispatcher_id")
    if parent:
        text.append(f" from [{short_id(parent)}]", style="dim")


def _start(text: Text, details: Mapping[str, Any]) -> None:
    add_task(text, details)
    add_attempt(text, details)
    add_where(text, details)
    add_in_flow(text, details)


def _end(text: Text, details: Mapping[str, Any]) -> None:
    add_task(text, details)
    text.append(f" ok in {format_duration(as_float(details, 'runtime'))}", style="green")
    add_where(text, details)
    add_in_flow(text, details)


def _discard(text: Text, details: Mapping[str, Any]) -> None:
    _end(text, details)
    text.append(" (result discarded: no result backend keeps it)", style="yellow")


def _failure(text: Text, details: Mapping[str, Any]) -> None:
    add_task(text, details)
    text.append(" failed", style="bold red")
    add_attempt(text, details)
    add_where(text, details)
    add_in_flow(text, details)
    add_error(text, details, "red")  # last: an error text may be long, the facts above are not


def _retry(text: Text, details: Mapping[str, Any]) -> None:
    add_task(text, details)
    countdown = as_float(details, "retry_countdown")
    text.append(" retry" + (f" in {format_duration(countdown)}" if countdown is not None else ""), "yellow")
    add_attempt(text, details)
    add_where(text, details)
    add_in_flow(text, details)
    add_error(text, details, "yellow")


def _wakeup(text: Text, details: Mapping[str, Any]) -> None:
    add_flow(text, details)
    retry = as_int(details, "retry")
    text.append(f" wake-up #{retry + 1}" if retry is not None else " wake-up", style="magenta")
    add_where(text, details)


def _flow_start(text: Text, details: Mapping[str, Any]) -> None:
    add_flow(text, details)
    text.append(" started", style="magenta")
    add_where(text, details)


def _dispatcher_retry(text: Text, details: Mapping[str, Any]) -> None:
    add_flow(text, details)
    text.append(" will check again", style="magenta")


def _flow_end(text: Text, details: Mapping[str, Any]) -> None:
    add_flow(text, details)
    text.append(" finished", style="bold green")


def _flow_failure(text: Text, details: Mapping[str, Any]) -> None:
    add_flow(text, details)
    text.append(" failed", style="bold red")
    add_error(text, details, "red")


def _dispatcher_failure(text: Text, details: Mapping[str, Any]) -> None:
    add_flow(text, details)
    text.append(" dispatcher error", style="bold red")
    add_error(text, details, "red")


def _node(text: Text, details: Mapping[str, Any], ok: bool) -> None:
    add_flow(text, details)
    text.append(" node ", style="dim")
    add_ref(text, as_str(details, "node_name"), as_str(details, "node_id"))
    if ok:
        text.append(" succeeded", style="green")
    else:
        text.append(" failed", style="bold red")
        add_error(text, details, "red")


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
        add_flow(text, details, prefix="")
        shown |= {"dispatcher_id", "flow_name"}
    for key in ("node_name", "task_name", "storage_name"):
        if as_str(details, key):
            text.append(f" {key}=", style="dim")
            text.append(as_str(details, key) or "", style="bold")
            shown.add(key)
    if "what" in details:
        add_error(text, details, "yellow")
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
    **CELERY_MESSAGES,
}


def append_message(text: Text, event: str, details: Mapping[str, Any]) -> None:
    """Append to ``text`` what the event ``event`` with ``details`` says happened."""
    _MESSAGES.get(event, _generic)(text, details)
