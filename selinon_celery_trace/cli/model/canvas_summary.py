"""Canvas workflows for ``summary``: the tasks of each chain, group or chord tied together, and how it went.

Tasks are tied by the ids their canvas facts name (:func:`.canvas_facts.linked_ids`), with a
union-find over those ids, so a chord's header members (each its own root) and its body end in one
workflow whatever the order of their events. Only the events of tasks in a canvas are kept track of:
memory grows with the number of canvas tasks in the input (a few hundred bytes each), never with
the events of other tasks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..reading.event_names import ATTEMPT_OUTCOME, TASK_SCHEDULE, TASK_START
from ..reading.fields import as_int, as_str, error_line
from .canvas_facts import is_canvas_event, linked_ids

__all__ = ["CanvasTasks", "Workflow"]


@dataclass(slots=True)
class _Task:
    name: str | None = None
    root_id: str | None = None
    first_ts: float = math.inf
    end: float | None = None
    attempt: int = -1  # the latest attempt whose end was seen
    outcome: str = "running"
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Workflow:
    """One canvas workflow as ``summary`` lists it."""

    root_id: str
    name: str
    outcome: str  # success | failure | running
    start: float
    duration: float | None
    failed: str | None  # "at <task name>: <error>" of the task that failed first


class CanvasTasks:
    """The tasks of every canvas in a stream of records, folded one record at a time."""

    def __init__(self) -> None:
        self._up: dict[str, str] = {}
        self._tasks: dict[str, _Task] = {}

    def _find(self, ident: str) -> str:
        up = self._up
        root = up.setdefault(ident, ident)
        while root != up[root]:
            root = up[root]
        while ident != root:  # path compression
            up[ident], ident = root, up[ident]
        return root

    def add(self, ts: float, event: str, details: Mapping[str, Any]) -> None:
        """Fold one event (events of tasks outside a canvas are ignored)."""
        task_id = as_str(details, "task_id")
        if task_id is None or not is_canvas_event(details):
            return
        anchor = self._find(task_id)
        for ident in linked_ids(details):
            other = self._find(ident)
            if other != anchor:
                self._up[other] = anchor
        task = self._tasks.get(task_id)
        if task is None:
            task = self._tasks[task_id] = _Task()
        task.name = task.name or as_str(details, "task_name")
        task.root_id = task.root_id or as_str(details, "root_id")
        if event in (TASK_SCHEDULE, TASK_START):
            task.first_ts = min(task.first_ts, ts)
        elif event in ATTEMPT_OUTCOME:
            number = as_int(details, "retried_count") or 0
            if number >= task.attempt:
                task.attempt, task.end, task.outcome = number, ts, ATTEMPT_OUTCOME[event]
                task.error = error_line(details.get("what"), details.get("exc_type"))
            task.first_ts = min(task.first_ts, ts)

    def workflows(self) -> Iterable[Workflow]:
        """Every workflow seen, with its outcome, duration and first failed task."""
        groups: dict[str, list[tuple[str, _Task]]] = {}
        for task_id, task in self._tasks.items():
            groups.setdefault(self._find(task_id), []).append((task_id, task))
        for members in groups.values():
            first_id, first = min(members, key=lambda item: (item[1].first_ts, item[0]))
            failures = [(t.end or math.inf, i, t) for i, t in members if t.outcome == "failure"]
            open_ = any(t.outcome in ("running", "retry") for _, t in members)
            outcome = "failure" if failures else "running" if open_ else "success"
            ends = [t.end for _, t in members if t.end is not None]
            start = first.first_ts
            duration = max(ends) - start if ends and outcome != "running" and math.isfinite(start) else None
            failed = None
            if failures:
                task = min(failures, key=lambda item: (item[0], item[1]))[2]
                failed = f"at {task.name or '?'}: {task.error or 'failed'}"  # show the root for its id
            yield Workflow(first.root_id or first_id, first.name or "?", outcome, start, duration, failed)
