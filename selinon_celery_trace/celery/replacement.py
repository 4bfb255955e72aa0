"""``Task.replace`` traced as what it is: a replacement, not a retry and not a second first attempt.

Celery's ``Task.replace(sig)`` publishes a replacement that inherits the running task's id (the
signature itself; a chain's last step; the body of the chord a group is turned into), then ends the
running attempt with ``Ignore``. Only ``replaced_task_nesting`` in the new messages tells: one more than
the replaced task's. So the publish hook marks them (:func:`marker`) in our header: the replaced task's
id and name and the nesting. A chain or chord that replaces a task carries the mark from task to task
until the message with the replaced id is published; that message's TASK_SCHEDULE and its attempts'
events carry ``replaces`` (the replaced task's name) and ``replacement`` (the nesting), so its attempts
are told apart from the replaced one's, whose TASK_END says ``replaced_by``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from . import context
from .execution import running

__all__ = ["CARRIED", "details_of", "marker", "note_replaced"]

CARRIED: Final = (*context.REPLACED, "replacement")
"""What our header carries for a replacement: the replaced task's id and name, the nesting."""


def marker(current: Any, request: Any, headers: Mapping[str, Any], task_id: Any) -> dict[str, Any] | None:
    """The replacement mark for a message the running task publishes; None for any other message."""
    nesting = headers.get("replaced_task_nesting")
    if type(nesting) is not int or nesting < 1:
        return None
    mine = getattr(request, "replaced_task_nesting", 0)
    if nesting > (mine if type(mine) is int else 0):  # Task.replace of the running task
        return {"replaces_id": request.id, "replaces": current.name, "replacement": nesting}
    carried = context.read(request)
    replaced = carried.get("replaces_id")
    if replaced is None or replaced == request.id:
        return None  # no replacement under way, or the replacement itself publishing (its chain goes on)
    # A step of the chain (or a member of the chord) that replaced a task: the mark goes on to the
    # message with the replaced id.
    return {key: carried[key] for key in CARRIED if key in carried}


def details_of(mark: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of the replacement's events: the replaced task's name and the nesting."""
    return {"replaces": mark.get("replaces"), "replacement": mark.get("replacement")}


def note_replaced(replaced_id: str, task_id: Any, name: Any, planned: Mapping[str, Any] | None) -> None:
    """Tell the replaced attempt (running in this thread) which task inherits its id, for its TASK_END."""
    attempt = running(replaced_id)
    if attempt is None:
        return
    inheritor = name if task_id == replaced_id else _named(planned, replaced_id)
    if isinstance(inheritor, str):
        attempt.replaced_by = inheritor


def _named(planned: Mapping[str, Any] | None, task_id: str) -> str | None:
    """The name of the planned task with ``task_id`` (a chain's step, a chord's body), if planned."""
    if not planned:
        return None
    entries = [*(planned.get("chain") or ()), *([planned["chord_body"]] if planned.get("chord_body") else ())]
    while entries:
        entry = entries.pop()
        if entry.get("task_id") == task_id:
            return entry.get("task_name")  # type: ignore[no-any-return]
        entries += [*(entry.get("group") or ()), *(entry.get("chain") or ())]  # a chain body's steps
        if entry.get("chord_body"):
            entries.append(entry["chord_body"])
    return None
