"""``find``'s lines: one per attempt found (time, state, task, short id, queue, duration, what happened),
columns aligned, and the count at the end.

The state is said in ``--state``'s own words (``ok``, ``failed``, ``retried``, ``revoked``, ...), so a
line read can be narrowed to its kind; the short id is what ``show`` takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rich.text import Text

from ..model.find import Hit
from .fate_lines import fate_phrase
from .formatting import UNKNOWN, clock, format_duration, short_id
from .outcome_style import OUTCOME_STYLE, outcome_mark

__all__ = ["STATE_WORD", "count_line", "find_lines"]

STATE_WORD: Final = {
    "success": "ok",
    "failure": "failed",
    "retry": "retried",
    "replaced": "replaced",
    "running": "running",
    "revoked": "revoked",
    "expired": "expired",
    "rejected": "rejected",
    "scheduled": "scheduled",
}
"""Each outcome in the words ``--state`` takes."""


def _label(hit: Hit) -> str:
    name = hit.name or "?"
    attempts = hit.task.attempts
    if hit.attempt is not None and (len(attempts) > 1 or (hit.attempt.number or 0) > 0):
        return f"{name} #{hit.attempt.label(hit.index)}"
    return name


def _what(hit: Hit) -> str:
    """The summary of how it ended: the error's line, the fate's words, or what is missing."""
    attempt, fate = hit.attempt, hit.task.fate
    if hit.outcome in ("failure", "retry"):
        return (attempt.error if attempt else None) or ""
    if fate is not None and hit.outcome == fate.kind:
        return fate_phrase(fate, hit.task)
    if hit.outcome == "replaced" and attempt is not None:
        return f"replaced by {attempt.replaced_by or '?'} (Task.replace)"
    if hit.outcome == "running":
        return "no end event (running, or lost)"
    if hit.outcome == "scheduled":
        return "never started"
    if attempt is not None and attempt.discarded:
        return "result discarded"
    return ""


def find_lines(found: Sequence[Hit]) -> list[Text]:
    """One aligned line per hit, in the order given."""
    labels = [_label(hit) for hit in found]
    queues = [hit.queue or UNKNOWN for hit in found]
    durations = [format_duration(hit.attempt.duration if hit.attempt else None) for hit in found]
    name_width = max(map(len, labels), default=0)
    queue_width = max(map(len, queues), default=0)
    word_width = max((len(STATE_WORD.get(hit.outcome, hit.outcome)) for hit in found), default=0)
    lines = []
    for hit, label, queue, duration in zip(found, labels, queues, durations, strict=True):
        style = OUTCOME_STYLE.get(hit.outcome, ("?", "dim"))[1]
        text = Text(clock(hit.ts, date=True), style="dim")
        text.append("  ")
        text.append(outcome_mark(hit.outcome))
        text.append(" ")
        text.append(STATE_WORD.get(hit.outcome, hit.outcome).ljust(word_width), style=style)
        text.append("  ")
        text.append(label.ljust(name_width), style="bold")
        text.append("  ")
        text.append(short_id(hit.task.task_id), style="cyan")
        text.append("  ")
        text.append(queue.ljust(queue_width), style="blue")
        text.append("  ")
        text.append(duration.rjust(7))
        what = _what(hit)
        if what:
            text.append("  ")
            text.append(what, style=style if hit.outcome != "success" else "dim")
        lines.append(text)
    return lines


def count_line(shown: int, total: int, *, oldest_first: bool) -> str:
    """``3 attempts found`` or ``showing the newest 20 of 113 attempts found (--limit 0 for all)``."""
    noun = "attempt" if total == 1 else "attempts"
    if shown >= total:
        return f"{total} {noun} found"
    which = "oldest" if oldest_first else "newest"
    return f"{total} {noun} found; showing the {which} {shown} (--limit 0 for all)"
