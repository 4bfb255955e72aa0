"""What this package's Celery events (numbers 100 up) say happened, in words, for ``follow`` and ``watch``.

A message's fate (revoked, expired, rejected: when, where, why), beat's start and its late sends, a
worker coming online and going offline, a pool process lost. Missing keys and odd values read as ``?``
or are left out, never raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from rich.text import Text

from ..reading.fields import as_float, as_int, as_str, signal_name
from .formatting import clock, format_duration
from .message_parts import add_attempt, add_in_flow, add_ref, add_task, add_where

__all__ = ["CELERY_MESSAGES", "clock_of", "periodic_words"]

_PROBLEMS: Final = {
    "unregistered": "unregistered task name",
    "undecodable": "undecodable message",
    "invalid": "invalid message",
    "content_disallowed": "content type not accepted",
    "not_a_task": "not a task message",
}


def clock_of(details: Mapping[str, Any], key: str) -> str | None:
    """The clock time (``HH:MM:SS.mmm``) of an ISO time or POSIX seconds in ``details[key]``, else None."""
    value = details.get(key)
    if isinstance(value, str) and len(value) >= 19 and value[10] in "T ":
        return value[11:23]  # an ISO time: its clock part, to the millisecond
    number = as_float(details, key)
    return clock(number) if number is not None and number > 1e8 else None


def _reason(text: Text, details: Mapping[str, Any], style: str, skip: tuple[str, ...] = ()) -> None:
    reason = as_str(details, "reason")
    if reason and reason.lower() not in skip:
        text.append(f": {reason}", style=style)


def _revoked(text: Text, details: Mapping[str, Any]) -> None:
    add_task(text, details)
    terminated = details.get("terminated") is True
    if terminated or details.get("started") is True:
        text.append(" revoked while running", style="bold magenta")
        how = signal_name(details.get("signal")) or signal_name(details.get("signum"))
        if terminated:
            text.append(f", terminated with {how}" if how else ", terminated", style="magenta")
    else:
        text.append(" revoked before it started", style="bold magenta")
    add_attempt(text, details)
    add_where(text, details)
    add_in_flow(text, details)
    _reason(text, details, "magenta", skip=("revoked", "terminated"))


def _expired(text: Text, details: Mapping[str, Any]) -> None:
    add_task(text, details)
    text.append(" expired before it started", style="bold yellow")
    late, deadline = as_float(details, "late"), clock_of(details, "expires")
    if late is not None:
        text.append(f": {format_duration(late)} past its deadline", style="yellow")
    if deadline:
        text.append(f" {deadline}" if late is not None else f": deadline {deadline}", style="yellow")
    add_attempt(text, details)
    add_where(text, details)
    add_in_flow(text, details)


def _rejected(text: Text, details: Mapping[str, Any]) -> None:
    add_task(text, details)
    text.append(" rejected", style="bold red")
    add_where(text, details)
    problem = as_str(details, "kind")
    words = _PROBLEMS.get(problem or "", problem) or as_str(details, "exc_type")
    if words:
        text.append(f": {words}", style="red")
    _reason(text, details, "red")


def periodic_words(value: Any) -> str | None:
    """A TASK_SCHEDULE's ``periodic``: ``entry 'name' (schedule)``, or ``None`` when it has none."""
    if isinstance(value, Mapping):
        name = as_str(value, "name") or as_str(value, "entry")
        schedule = as_str(value, "schedule")
    elif isinstance(value, str) and value:
        name, schedule = value, None
    else:
        return None
    words = f"periodic entry {name!r}" if name else "periodic"
    return f"{words} {schedule}" if schedule else words


def _beat_start(text: Text, details: Mapping[str, Any]) -> None:
    text.append("beat started", style="bold blue")
    entries = details.get("entries")
    if isinstance(entries, Mapping):
        names = [str(name) for name in entries]
    elif isinstance(entries, list):
        names = [
            str(e.get("name") or e.get("entry") or "?") if isinstance(e, Mapping) else str(e) for e in entries
        ]
    else:
        names = []
    if names:
        shown = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
        text.append(f" with {len(names)} entr{'y' if len(names) == 1 else 'ies'}: {shown}", style="blue")
    scheduler = as_str(details, "scheduler")
    if scheduler:
        text.append(f" ({scheduler.rsplit('.', 1)[-1]})", style="dim")
    add_where(text, details)


def _beat_late(text: Text, details: Mapping[str, Any]) -> None:
    text.append("beat entry ", style="dim")
    text.append(repr(as_str(details, "entry") or "?"), style="bold")
    late = as_float(details, "late")
    text.append(" sent ", style="dim")
    add_task(text, details)
    text.append(f" {format_duration(late)} late" if late is not None else " late", style="bold yellow")
    due, schedule = clock_of(details, "due"), as_str(details, "schedule")
    if due:
        text.append(f" (due {due})", style="yellow")
    if schedule:
        text.append(f" {schedule}", style="dim")
    add_where(text, details)


def _software(details: Mapping[str, Any]) -> str | None:
    software = details.get("software")
    if isinstance(software, Mapping):
        celery = as_str(software, "celery")
        return f"celery {celery}" if celery else None
    return as_str(details, "software")


def _online(text: Text, details: Mapping[str, Any]) -> None:
    text.append(as_str(details, "hostname") or "?", style="bold cyan")
    text.append(" online", style="bold green")
    pool, concurrency = as_str(details, "pool"), as_int(details, "concurrency")
    if pool or concurrency is not None:
        text.append(f": {pool or '?'}" + (f" \u00d7{concurrency}" if concurrency is not None else ""))
    queues = details.get("queues")
    if isinstance(queues, list) and queues:
        text.append(" queues ", style="dim")
        text.append(", ".join(str(q) for q in queues[:6]) + (", …" if len(queues) > 6 else ""), style="blue")
    software = _software(details)
    if software:
        text.append(f" · {software}", style="dim")
    pid = as_str(details, "pid")
    if pid:
        text.append(f" pid {pid}", style="dim cyan")


def _offline(text: Text, details: Mapping[str, Any]) -> None:
    text.append(as_str(details, "hostname") or "?", style="bold cyan")
    text.append(" offline", style="bold yellow")
    reason, how = as_str(details, "reason"), signal_name(details.get("signal"))
    if reason or how:
        words = f"{reason}{'' if 'shutdown' in reason else ' shutdown'}" if reason else "shutdown"
        text.append(f" ({words}{f', {how}' if how else ''})", style="yellow")
    uptime = as_float(details, "uptime")
    if uptime is not None:
        text.append(f" after {format_duration(uptime)} online", style="dim")
    pid = as_str(details, "pid")
    if pid:
        text.append(f" pid {pid}", style="dim cyan")


def _process_lost(text: Text, details: Mapping[str, Any]) -> None:
    text.append(as_str(details, "hostname") or "?", style="bold cyan")
    text.append(" lost pool process", style="bold red")
    process = as_str(details, "process_pid")
    if process:
        text.append(f" {process}", style="bold red")
    exitcode = as_int(details, "exitcode")
    how = signal_name(details.get("signal"))
    if how is None and exitcode is not None and exitcode < 0:  # multiprocessing's -N: killed by signal N
        how = signal_name(-exitcode)
    if how:
        text.append(f" ({how})", style="red")
    elif exitcode is not None:
        text.append(f" (exit code {exitcode})", style="red")
    if as_str(details, "task_id") or as_str(details, "task_name"):
        text.append(" running ", style="dim")
        add_ref(text, as_str(details, "task_name"), as_str(details, "task_id"))
    elif "task_id" in details:
        text.append(" with no task running", style="dim")


CELERY_MESSAGES: Final[dict[str, Callable[[Text, Mapping[str, Any]], None]]] = {
    "TASK_REVOKED": _revoked,
    "TASK_EXPIRED": _expired,
    "TASK_REJECTED": _rejected,
    "BEAT_START": _beat_start,
    "BEAT_LATE": _beat_late,
    "WORKER_ONLINE": _online,
    "WORKER_OFFLINE": _offline,
    "WORKER_PROCESS_LOST": _process_lost,
}
"""The words of each of this package's Celery events, by name."""
