"""A message's fate in words: revoked, expired or rejected, when (against its scheduling) and why.

What the task lines of ``show`` (and the canvas and flow trees) say of a task whose message was not run
to an end, in place of "scheduled, never started", which would be false.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ..model.fates import Fate
from ..model.runs import TaskRun
from .formatting import clock, format_duration
from .outcome_style import OUTCOME_STYLE, outcome_mark

__all__ = ["fate_bar", "fate_error", "fate_line", "fate_phrase", "fate_text", "why"]

_PROBLEMS = {
    "unregistered": "unregistered task name",
    "undecodable": "undecodable message",
    "invalid": "invalid message",
    "content_disallowed": "content type not accepted",
    "not_a_task": "not a task message",
}


def why(fate: Fate) -> str | None:
    """Why, in Celery's words or the rejection's: ``None`` when the event says nothing more."""
    if fate.kind == "rejected":
        problem = _PROBLEMS.get(fate.problem or "", fate.problem)
        reason = fate.reason
        if problem and reason and fate.problem != "unregistered":  # that one's reason names it
            return f"{problem}: {reason}"
        return reason or problem or fate.exc_type
    reason = fate.reason
    if reason and reason.lower() not in (fate.kind, "terminated"):
        return reason
    return None


def fate_phrase(fate: Fate, task: TaskRun | None = None) -> str:
    """``revoked before it started, 2.00s after it was scheduled`` and the like (no leading space)."""
    scheduled = task.scheduled if task is not None else None
    if fate.kind == "revoked" and fate.started:
        start = (
            next((a.start for a in reversed(task.attempts) if a.start is not None), None)
            if task is not None
            else None
        )
        words = "revoked while running"
        if start is not None:
            words += f" after {format_duration(fate.ts - start)}"
        if fate.signal:
            words += f" (terminated with {fate.signal})"
        return words
    if fate.kind == "expired":
        words = "expired before it started"
        if fate.expires is not None:
            words += f": its deadline {clock(fate.expires)} UTC"
            late = fate.late
            words += f" had passed by {format_duration(late)}" if late is not None else " had passed"
        elif fate.late is not None:
            words += f", {format_duration(fate.late)} past its deadline"
        return words
    words = f"{fate.kind} before it started" if fate.kind == "revoked" else "rejected by the worker"
    if scheduled is not None and fate.ts >= scheduled:
        words += f", {format_duration(fate.ts - scheduled)} after it was scheduled"
    return words


def fate_text(task: TaskRun) -> Text:
    """The fate of ``task`` for its line in a tree (leading space, coloured); empty without a fate."""
    fate = task.fate
    text = Text()
    if fate is None:
        return text
    text.append(" " + fate_phrase(fate, task), style=OUTCOME_STYLE[fate.kind][1])
    reason = why(fate)
    if reason:
        text.append(f": {reason}", style=OUTCOME_STYLE[fate.kind][1])
    if fate.where:
        text.append(f" · {fate.where}", style="dim cyan")
    return text


def fate_line(task: TaskRun) -> Text:
    """The mark and words of the fate (the line ``show`` gives it under a task), empty without one."""
    if task.fate is None:
        return Text()
    return outcome_mark(task.fate.kind) + fate_text(task)


def fate_error(task: TaskRun) -> str | None:
    """The fate in one line, for the timeline's tooltips and list (``None`` without one)."""
    fate = task.fate
    if fate is None:
        return None
    reason = why(fate)
    return f"{fate_phrase(fate, task)}: {reason}" if reason else fate_phrase(fate, task)


def fate_bar(
    task: TaskRun, fate: Fate, t0: float, flow_id: str | None, flow_name: str | None
) -> dict[str, Any]:
    """The timeline's bar for a message dropped before it started: an instant at its fate, waited for."""
    at = fate.ts - t0
    waited = task.scheduled is not None and task.scheduled <= fate.ts
    return {
        "taskId": task.task_id,
        "name": task.name or "?",
        "replacement": 0,
        "replaces": None,
        "replacedBy": None,
        "attempt": 0,
        "attempts": len(task.attempts),
        "outcome": fate.kind,
        "fate": True,
        "discarded": False,
        "start": at,
        "end": at,
        "drawStart": at,
        "drawEnd": at,
        "startKnown": True,
        "endKnown": True,
        "duration": None,
        "waitFrom": task.scheduled - t0 if waited and task.scheduled is not None else None,
        "waitKind": "queue",
        "worker": fate.hostname,
        "node": None,
        "pid": fate.pid,
        "queue": task.queue,
        "flowId": flow_id,
        "flowName": flow_name,
        "error": fate_error(task),
        "what": None,
        "retryCountdown": None,
    }
