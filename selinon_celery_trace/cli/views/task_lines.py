"""The lines every tree view shares: a task's label, its attempts, and the clock they are timed by."""

from __future__ import annotations

import json
import math
import re

from rich.text import Text
from rich.tree import Tree

from ..model.runs import Attempt, TaskRun
from .fate_lines import fate_text
from .formatting import format_duration, short_id
from .outcome_style import OUTCOME_STYLE, OUTCOME_WORD, outcome_mark
from .render import render_record

__all__ = [
    "Clock",
    "add_attempts",
    "add_details",
    "append_ending",
    "attempt_text",
    "plural",
    "raised_at",
    "task_label",
]


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class Clock:
    """Offsets from the start of what is shown: ``+1.234s`` reads faster than a wall-clock time."""

    def __init__(self, origin: float) -> None:
        self.origin = origin

    def __call__(self, ts: float | None) -> Text:
        if ts is None or not math.isfinite(ts):
            return Text("?".rjust(9), style="dim")
        return Text(f"+{ts - self.origin:.3f}s".rjust(9), style="dim")


def attempt_text(attempt: Attempt, index: int, *, traceback: bool, verbose: bool = False) -> Text:
    text = Text()
    text.append(outcome_mark(attempt.outcome))
    if attempt.replacement:
        text.append(" replacement ", style="magenta")
        text.append(attempt.task_name or "?", style="bold magenta")
    text.append(f" attempt {attempt.label(index)}", style="bold")
    if attempt.outcome == "retry":
        text.append(f" retried after {format_duration(attempt.duration)}", style="yellow")
        if attempt.retry_countdown is not None:
            text.append(f", next in {format_duration(attempt.retry_countdown)}", style="yellow")
    elif attempt.outcome == "replaced":
        text.append(
            f" replaced by {attempt.replaced_by} after {format_duration(attempt.duration)}", style="magenta"
        )
        text.append(" (Task.replace)", style="dim")
    else:
        append_ending(text, attempt)
        if attempt.outcome == "success" and attempt.discarded:
            text.append(" (result discarded)", style="yellow")
    text.append(f" · {attempt.worker}", style="dim cyan")
    if attempt.queue:
        text.append(f" · q={attempt.queue}", style="blue")
    if attempt.error and not verbose:  # verbose: said with where it was raised, below
        text.append(f"\n{attempt.error}", style="red" if attempt.outcome == "failure" else "yellow")
    if verbose:
        add_details(text, attempt)
    if traceback and attempt.what and attempt.what.strip() != attempt.error:
        text.append("\n" + attempt.what.rstrip(), style="dim red")
    return text


def append_ending(text: Text, attempt: Attempt) -> None:
    """How an attempt that was not retried ended, in the words of the attempt and the task lines."""
    if attempt.outcome == "success":
        text.append(f" ok in {format_duration(attempt.duration)}", style="green")
    elif attempt.outcome == "failure" and attempt.duration is None:
        text.append(" failed, no start event (worker lost or killed?)", style="bold red")
    elif attempt.outcome == "failure":
        text.append(f" failed after {format_duration(attempt.duration)}", style="bold red")
    elif attempt.outcome == "replaced":
        text.append(f" replaced by {attempt.replaced_by}, which has no event yet", style="magenta")
    elif attempt.outcome == "revoked":
        text.append(f" revoked while running after {format_duration(attempt.duration)}", style="bold magenta")
    else:
        text.append(" running or lost (no end event)", style="cyan")


def task_label(task: TaskRun, at: Clock) -> Text:
    text = at(task.scheduled if task.scheduled is not None else task.first_ts)
    text.append(" ")
    text.append(outcome_mark(task.outcome))
    text.append(" ")
    text.append(task.name or "?", style="bold")
    text.append(f" [{short_id(task.task_id)}]", style="dim")
    attempts = task.attempts
    error: str | None = None
    first_start = next((a.start for a in attempts if a.start is not None), None)
    replacement = next((a for a in reversed(attempts) if a.replacement), None)
    if replacement is not None:
        text.append(f" replaced by {replacement.task_name or '?'}", style="magenta")
    if task.fate is not None and task.outcome == task.fate.kind:
        # Revoked, expired or rejected: say so, when and why (never "scheduled, never started").
        text.append(fate_text(task))
        earlier = [a for a in attempts if a.outcome != task.fate.kind]
        if earlier:
            text.append(f" · after {plural(len(earlier), 'earlier attempt')}", style="dim")
    elif replacement is not None:
        append_ending(text, replacement)
        error = replacement.error
    elif len(attempts) == 1:
        attempt = attempts[0]
        append_ending(text, attempt)
        text.append(f" · {attempt.worker}", style="dim cyan")
        error = attempt.error
    elif attempts:
        retries = sum(1 for a in attempts if a.outcome == "retry")
        word = OUTCOME_WORD.get(task.outcome, task.outcome)
        text.append(f" {word} after {len(attempts)} attempts", style=OUTCOME_STYLE[task.outcome][1])
        text.append(f" ({retries} retr{'y' if retries == 1 else 'ies'})", style="yellow")
    else:
        text.append(" scheduled, never started", style="dim")
    if task.queue:
        text.append(f" · q={task.queue}", style="blue")
    if task.scheduled is not None and first_start is not None and first_start - task.scheduled > 1e-3:
        text.append(f" · waited {format_duration(first_start - task.scheduled)}", style="dim")
    if task.node_seen and task.node_seen[0] == "NODE_FAILURE" and task.outcome != "failure":
        text.append(" · dispatcher saw it fail", style="red")
    if error:
        text.append(f"\n{error}", style="red")
    return text


def add_details(text: Text, attempt: Attempt) -> None:
    """An attempt's arguments (as the trace has them: redacted by the writer) and its result or error."""
    arguments = attempt.args
    if isinstance(arguments, dict) and ("args" in arguments or "kwargs" in arguments):
        text.append("\n  args ", style="dim")
        text.append(_value(arguments.get("args")), style="cyan")
        text.append(" kwargs ", style="dim")
        text.append(_value(arguments.get("kwargs")), style="cyan")
    elif arguments is not None:
        text.append("\n  arguments ", style="dim")
        text.append(_value(arguments), style="cyan")
    if attempt.outcome == "success":
        text.append("\n  result ", style="dim")
        if attempt.result is not None:
            text.append(_clip(attempt.result), style="green")
        else:
            text.append(
                "not in the trace (it holds a result only when no result backend keeps it)", style="dim"
            )
    elif attempt.error:
        place = raised_at(attempt.what)
        text.append("\n  exception ", style="dim")
        text.append(attempt.error, style="red" if attempt.outcome == "failure" else "yellow")
        if place:
            text.append(f" at {place}", style="dim")


_MAX_VALUE = 300


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _value(value: object) -> str:
    return _clip(json.dumps(value, ensure_ascii=False, default=str))


def raised_at(what: str | None) -> str | None:
    """Where a traceback says the exception was raised, in the application's code: the last frame
    outside installed libraries (``self.retry()`` raises inside Celery), as ``file:line in function``."""
    if not what:
        return None
    frames = _FRAME.findall(what)
    if not frames:
        return None
    own = [f for f in frames if not any(part in f[0] for part in _LIBRARIES)]
    path, line, function = (own or frames)[-1]
    return f"{path.rsplit('/', 1)[-1]}:{line} in {function}"


_LIBRARIES = ("/site-packages/", "/dist-packages/", "/lib/python", "<frozen")


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def add_attempts(branch: Tree, task: TaskRun, at: Clock, *, traceback: bool, verbose: bool = False) -> None:
    """A line per attempt under a task retried (or with a traceback or details to show), then its other
    events."""
    first = task.attempts[0] if task.attempts else None
    if len(task.attempts) > 1 or (first is not None and ((traceback and first.what) or verbose)):
        for index, attempt in enumerate(task.attempts):
            line = at(attempt.start if attempt.start is not None else attempt.end)
            line.append(" ")
            branch.add(line + attempt_text(attempt, index, traceback=traceback, verbose=verbose))
    for note in task.notes:
        branch.add(at(note.ts) + " " + render_record(note))
