"""Finding one Celery canvas workflow in trace files: every task tied to an id by the canvas facts.

A canvas's tasks are tied by ids that appear in their events in any order: a chain's steps by
``root_id`` and ``parent``, a group's members only by ``group_id`` (each may be its own root), a
chord's body by the ``chord_id`` its header members name, links by ``callback_of`` / ``errback_of``.
So :func:`collect_canvas` reads the files more than once: each pass keeps the events of the ids known
so far and learns the ids they name, until a pass learns nothing new (two or three passes, usually).
Memory grows with the workflow, not with the files. Tasks that a canvas task's own code published
(no canvas facts of their own) come along through their ``parent``.

Every event a pass keeps names one of the ids known (or ``wanted``): the reader is handed those ids as
:class:`.prefilter.Needles` that grow with them, so it may skip the lines naming none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from ..reading.fields import as_str
from ..reading.lines import Record
from ..reading.prefilter import Needles
from .canvas_facts import is_canvas_event, linked_ids
from .canvas_run import CanvasRun
from .runs import TaskRun

__all__ = ["FoundCanvas", "collect_canvas"]

_MAX_PASSES: Final = 8


@dataclass(slots=True)
class FoundCanvas:
    """What :func:`collect_canvas` found: the workflow, the flow it belongs to, or other ids matching."""

    run: CanvasRun | None = None
    flow_id: str | None = None
    """Set when the workflow runs in a ``Dispatcher`` flow: the flow shows the canvas under its node."""
    ambiguous: set[str] = field(default_factory=set)


def collect_canvas(read: Callable[[Needles], Iterable[Record]], wanted: str) -> FoundCanvas:
    """Return the canvas workflow of ``wanted`` (a task, root or group id, or a unique start of one).

    ``read`` returns the records anew for each pass; it may leave out those naming none of its needles.
    """
    found = FoundCanvas()
    ident: str | None = None
    ids: set[str] = set()
    for _ in range(_MAX_PASSES):
        tasks: dict[str, TaskRun] = {}
        grew = False
        needles = Needles([wanted])
        needles.update(ids)
        for record in read(needles):
            details = record.details
            task_id = as_str(details, "task_id")
            if task_id is None or not record.event.startswith("TASK_"):
                continue
            if is_canvas_event(details):
                linked = linked_ids(details)
                if ident is None:
                    ident = _match(linked, wanted)
                    if ident is None:
                        continue
                    ids.add(ident)
                    grew = True  # the events before this one in the pass are read again
                elif ident != wanted:
                    found.ambiguous.update(i for i in linked if i != ident and i.startswith(wanted))
                if ids.isdisjoint(linked):
                    continue
                if not linked <= ids:
                    ids |= linked
                    needles.update(linked)
                    grew = True
            elif task_id not in ids and as_str(details, "parent") not in ids:
                continue
            elif task_id not in ids:  # published by a canvas task's own code
                ids.add(task_id)
                needles.add(task_id)
                grew = True
            run = tasks.get(task_id)
            if run is None:
                run = tasks[task_id] = TaskRun(task_id)
            run.apply(record)
        if ident is None or not grew:
            break
    if ident is None or not tasks or not any(task.canvas for task in tasks.values()):
        return found
    if found.ambiguous:
        found.ambiguous.add(ident)
        return found
    found.flow_id = next((task.flow_id for task in tasks.values() if task.flow_id), None)
    earliest = min(tasks.values(), key=lambda t: (t.first_ts, t.task_id))
    root = earliest.canvas.root_id if earliest.canvas and earliest.canvas.root_id else earliest.task_id
    found.run = CanvasRun(root, tasks)
    return found


def _match(linked: set[str], wanted: str) -> str | None:
    if wanted in linked:
        return wanted
    return min((i for i in linked if i.startswith(wanted)), default=None)
