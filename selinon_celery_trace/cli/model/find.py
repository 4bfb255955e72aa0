"""Finding task attempts: ``find``'s answer, one :class:`Hit` per attempt that matches a :class:`.Query`.

Two passes over the records, each fed parsed records (so a reader that skips lines that cannot match,
before parsing them, can feed either): :func:`candidates` keeps the ids of the tasks some of whose events
satisfy each condition (a necessary condition, in memory for those ids only); :func:`collect` rebuilds
those tasks (:class:`.runs.TaskRun`, the same model as ``show``) and :func:`hits` checks each attempt
exactly. With no condition, every task is a candidate and the first pass is skipped.

A hit is one attempt, or a message that never ran (revoked, expired or rejected before it started, or
only scheduled): its time is the attempt's start (its end when no start was seen), else the fate's time,
else the publish.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..reading.event_names import DISPATCHER_WAKEUP, FLOW_START, WORKER_PROCESS_LOST
from ..reading.fields import as_str
from ..reading.lines import Record
from .attempt import Attempt
from .find_query import Query, name_matches
from .runs import TaskRun

__all__ = ["Hit", "candidates", "collect", "find_attempts", "hits", "ordered"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One attempt that matched (``attempt`` None: a message that never ran) and its task."""

    ts: float
    outcome: str  # success | failure | retry | replaced | running | revoked | expired | rejected | scheduled
    task: TaskRun
    attempt: Attempt | None
    index: int  # the attempt's place among its task's attempts (for its label)
    args: Any  # node_args, as the trace has them (redacted)

    @property
    def name(self) -> str | None:
        """The task's name (a replacement's own name for a ``Task.replace`` replacement's attempt)."""
        return (self.attempt.task_name if self.attempt else None) or self.task.name

    @property
    def queue(self) -> str | None:
        """The queue the attempt's message came from, else the task's."""
        return (self.attempt.queue if self.attempt else None) or self.task.queue


def _task_event(record: Record) -> str | None:
    """The task id of a task's own event (what :class:`TaskRun` folds), else None."""
    if record.event.startswith("TASK_") or record.event == WORKER_PROCESS_LOST:
        return as_str(record.details, "task_id")
    return None


def candidates(records: Iterable[Record], query: Query) -> set[str]:
    """The ids of the tasks whose events, together, satisfy every condition of ``query`` (pass one)."""
    wanted = query.wanted
    seen: dict[str, int] = {}
    for record in records:
        task_id = _task_event(record)
        if task_id is None:
            continue
        bits = query.clues(record)
        if bits:
            seen[task_id] = seen.get(task_id, 0) | bits
    return {task_id for task_id, bits in seen.items() if bits & wanted == wanted}


def collect(records: Iterable[Record], ids: set[str] | None) -> dict[str, tuple[TaskRun, Any]]:
    """The tasks ``ids`` (None: all) rebuilt from their events, each with the arguments first seen.

    A flow's dispatcher is published as a task (``TASK_SCHEDULE``) but runs as a flow (its events are
    ``DISPATCHER_*``, told by ``show`` and ``summary``): it is left out, not listed as never started.
    """
    runs: dict[str, tuple[TaskRun, Any]] = {}
    flows: set[str] = set()
    for record in records:
        if record.event in (DISPATCHER_WAKEUP, FLOW_START):
            flow_id = as_str(record.details, "dispatcher_id")
            if flow_id is not None and (ids is None or flow_id in ids):
                flows.add(flow_id)
        task_id = _task_event(record)
        if task_id is None or (ids is not None and task_id not in ids):
            continue
        entry = runs.get(task_id)
        if entry is None:
            entry = runs[task_id] = (TaskRun(task_id), None)
        if entry[1] is None and record.details.get("node_args") is not None:
            entry = runs[task_id] = (entry[0], record.details["node_args"])
        entry[0].apply(record)
    for flow_id in flows:
        if flow_id in runs and not runs[flow_id][0].attempts:
            del runs[flow_id]
    return runs


def _hits_of(run: TaskRun, args: Any) -> Iterator[Hit]:
    for index, attempt in enumerate(run.attempts):
        ts = attempt.start if attempt.start is not None else attempt.end
        attempt_args = attempt.args if attempt.args is not None else args
        yield Hit(ts if ts is not None else run.first_ts, attempt.outcome, run, attempt, index, attempt_args)
    fate = run.fate
    if fate is not None and not fate.started:
        yield Hit(fate.ts, fate.kind, run, None, len(run.attempts), args)
    elif fate is None and not run.attempts:
        ts = run.scheduled if run.scheduled is not None else run.first_ts
        yield Hit(ts, "scheduled", run, None, 0, args)


def _exact(hit: Hit, query: Query) -> bool:
    if query.tasks and not name_matches(query.tasks, hit.task.task_id, hit.task.name, hit.name):
        return False
    if query.queues and not name_matches(query.queues, None, hit.queue):
        return False
    if query.outcomes and hit.outcome not in query.outcomes:
        return False
    if not math.isfinite(hit.ts) or not query.in_window(hit.ts):
        return False
    return query.args_match(hit.args)


def hits(runs: Iterable[tuple[TaskRun, Any]], query: Query) -> list[Hit]:
    """Every attempt (and never-run message) of ``runs`` that matches ``query`` exactly (pass two)."""
    return [hit for run, args in runs for hit in _hits_of(run, args) if _exact(hit, query)]


def find_attempts(read: Callable[[list[str] | None], Iterable[Record]], query: Query) -> list[Hit]:
    """The hits of ``query`` in the records ``read(texts)`` yields (called once, or twice with
    conditions). ``texts``: the records needed are those whose lines contain one of them (None: all);
    ``read`` may yield others too."""
    ids = candidates(read(query.texts()), query) if query.wanted else None
    if ids is not None and not ids:
        return []
    return hits(collect(read(None if ids is None else sorted(ids)), ids).values(), query)


def ordered(found: list[Hit], *, oldest_first: bool = False, limit: int = 0) -> list[Hit]:
    """``found`` newest first (or oldest first), the first ``limit`` of them (0: all)."""
    result = sorted(found, key=lambda hit: (hit.ts, hit.task.task_id, hit.index), reverse=not oldest_first)
    return result[:limit] if limit else result
