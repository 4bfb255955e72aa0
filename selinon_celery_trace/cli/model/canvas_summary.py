"""Canvas workflows for ``summary``: the tasks of each chain, group or chord tied together, and how it went.

Tasks are tied by the ids their canvas facts name (:func:`.canvas_facts.linked_ids`), with a
union-find over those ids, so a chord's header members (each its own root) and its body end in one
workflow whatever the order of their events. Each workflow is named by its shape, arranged at the end
as ``show`` arranges it. Only the events of tasks in a canvas are kept track of: memory grows with the
number of canvas tasks in the input (their facts and plans, under a kilobyte each for short chains),
never with the events of other tasks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..reading.event_names import ATTEMPT_OUTCOME, FATE_OUTCOME, TASK_SCHEDULE, TASK_START
from ..reading.fields import as_int, as_str, error_line, task_name
from .canvas import Structure
from .canvas_facts import CanvasFacts, is_canvas_event, linked_ids
from .canvas_shape import shape_of
from .fates import FATES
from .runs import Attempt, TaskRun
from .tallies import FlowTally, tally

__all__ = ["CanvasTasks", "Workflow"]


@dataclass(slots=True)
class _Task:
    name: str | None = None
    root_id: str | None = None
    parent: str | None = None
    first_ts: float = math.inf
    scheduled: float | None = None
    end: float | None = None
    attempt: tuple[int, int] = (-1, -1)  # (replacement, retried_count) of the latest attempt ended
    outcome: str = "running"
    error: str | None = None
    facts: CanvasFacts = field(default_factory=CanvasFacts)

    def run(self, task_id: str) -> TaskRun:
        """The task as the model's tree arranges it (for the workflow's shape)."""
        run = TaskRun(task_id, name=self.name, parent=self.parent, scheduled=self.scheduled)
        run.first_ts, run.canvas = self.first_ts, self.facts
        if self.outcome != "running" or self.end is not None:
            run.attempts.append(Attempt(self.attempt[1], outcome=self.outcome, end=self.end))
        return run


@dataclass(frozen=True, slots=True)
class Workflow:
    """One canvas workflow as ``summary`` lists it."""

    root_id: str
    name: str  # the workflow's shape (see canvas_shape)
    outcome: str  # success | failure | running | revoked | expired | rejected (a member's fate)
    start: float
    duration: float | None
    failed: str | None  # "at <task name>: <error>" of the task that failed first
    failed_id: str | None = None  # that task's id (show it to see the whole workflow)


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
        # A replacement's events name the task it replaced: the task's own name.
        task.name = task.name or as_str(details, "replaces") or task_name(details)
        task.root_id = task.root_id or as_str(details, "root_id")
        task.parent = task.parent or as_str(details, "parent")
        task.facts.apply(details)
        if event == TASK_SCHEDULE:
            if task.scheduled is None:
                task.scheduled = ts
            task.first_ts = min(task.first_ts, ts)
        elif event == TASK_START:
            task.first_ts = min(task.first_ts, ts)
        elif event in ATTEMPT_OUTCOME:
            number = (as_int(details, "replacement") or 0, as_int(details, "retried_count") or 0)
            if number >= task.attempt:
                task.attempt, task.end, task.outcome = number, ts, ATTEMPT_OUTCOME[event]
                if as_str(details, "replaced_by") is not None:
                    task.outcome = "replaced"  # its replacement's attempts say how it went
                task.error = error_line(details.get("what"), details.get("exc_type"))
            task.first_ts = min(task.first_ts, ts)
        elif event in FATE_OUTCOME and task.outcome in ("running", "retry", "replaced"):
            # Revoked, expired, rejected: the workflow ends there, that part of its work never done.
            task.end, task.outcome = ts, FATE_OUTCOME[event]
            task.first_ts = min(task.first_ts, ts)

    def task_ids(self) -> Container[str]:
        """The ids of the canvas tasks seen."""
        return self._tasks.keys()

    def merge(self, other: CanvasTasks) -> None:
        """Add the canvas tasks of another part of the input (none of them seen here: the caller checks)."""
        for ident, up in other._up.items():
            mine, theirs = self._find(ident), self._find(up)
            if mine != theirs:
                self._up[theirs] = mine
        self._tasks.update(other._tasks)

    def workflows(self) -> Iterable[Workflow]:
        """Every workflow seen, with its shape, outcome, duration and first failed task."""
        groups: dict[str, list[tuple[str, _Task]]] = {}
        for task_id, task in self._tasks.items():
            groups.setdefault(self._find(task_id), []).append((task_id, task))
        # In the order of their first task (not of the dictionary): the same whichever way they were folded.
        for members in sorted(groups.values(), key=lambda m: min((t.first_ts, i) for i, t in m)):
            first_id, first = min(members, key=lambda item: (item[1].first_ts, item[0]))
            failures = [(t.end or math.inf, i, t) for i, t in members if t.outcome == "failure"]
            open_ = any(t.outcome in ("running", "retry", "replaced") for _, t in members)
            fated = next((t.outcome for _, t in members if t.outcome in FATES), None)
            outcome = "failure" if failures else "running" if open_ else fated or "success"
            ends = [t.end for _, t in members if t.end is not None]
            start = first.first_ts
            duration = max(ends) - start if ends and outcome != "running" and math.isfinite(start) else None
            failed = failed_id = None
            if failures:
                _, failed_id, task = min(failures, key=lambda item: (item[0], item[1]))
                failed = f"at {task.name or '?'}: {task.error or 'failed'}"
            shape = shape_of(Structure({i: t.run(i) for i, t in members}).top())
            yield Workflow(first.root_id or first_id, shape, outcome, start, duration, failed, failed_id)

    def count_into(self, canvases: dict[str, FlowTally], failure: Callable[..., None]) -> None:
        """Count every workflow in ``canvases`` by its shape; ``failure(kind, name, error, ts, id)`` for
        each that failed (listed once, with its workflow)."""
        for workflow in self.workflows():
            tally_ = tally(canvases, workflow.name, FlowTally)
            tally_.runs += 1
            if workflow.outcome == "success":
                tally_.successes += 1
            elif workflow.outcome == "failure":
                tally_.failures += 1
                ended = workflow.start + (workflow.duration or 0.0)
                error = workflow.failed or "(no error text)"
                failure("canvas", workflow.name, error, ended, workflow.failed_id or workflow.root_id)
            elif workflow.outcome == "running":
                tally_.unfinished += 1
            else:  # a member was revoked, expired or rejected: it ended there, no failure
                tally_.dropped += 1
            if workflow.duration is not None:
                tally_.durations.add(workflow.duration)
