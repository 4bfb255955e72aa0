"""The statistics ``summary`` prints, folded from any number of events in bounded memory.

:class:`Summary` keeps per-name tallies, duration sketches, the slowest flows, failures grouped by
error. What it keeps grows with the number of distinct task names, flow names, queues, hosts and errors
(the last capped), and with the tasks and flows still running at the end of the input, never with the
number of events.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Iterable, Mapping
from typing import Any, Final

from ..reading.event_names import (
    ATTEMPT_OUTCOME,
    BEAT_LATE,
    BEAT_START,
    DISPATCHER_FAILURE,
    DISPATCHER_WAKEUP,
    FATE_OUTCOME,
    FLOW_END,
    FLOW_FAILURE,
    FLOW_START,
    TASK_DISCARD_RESULT,
    TASK_SCHEDULE,
    TASK_START,
    TERMINAL,
    WORKER_EVENTS,
)
from ..reading.fields import as_float, as_int, as_str, error_line, task_name
from ..reading.lines import Record
from .canvas_facts import is_canvas_event
from .canvas_summary import CanvasTasks
from .periodic import Periodic
from .tallies import EventCounts, FailureGroup, FailureGroups, FlowTally, PlaceTally, TaskTally, merge_tallies
from .tallies import tally as _tally
from .workers import Workers

__all__ = ["UNNAMED", "FailureGroup", "FlowTally", "PlaceTally", "Summary", "TaskTally"]

UNNAMED: Final = "(unnamed)"
_MAX_DISCARDED: Final = 4096  # attempts whose TASK_END is yet to come after their TASK_DISCARD_RESULT
_NO_ERROR_TEXT: Final = "(no error text)"

_PERIODIC_EVENTS: Final = frozenset({TASK_SCHEDULE, BEAT_START, BEAT_LATE})
_ENDS: Final = frozenset(ATTEMPT_OUTCOME) | frozenset(FATE_OUTCOME)
_FLOW_EVENTS: Final = frozenset({FLOW_START, FLOW_END, FLOW_FAILURE, DISPATCHER_WAKEUP, DISPATCHER_FAILURE})
_EXACT: Final = 2**53  # integers a float holds exactly: as_int reads them as they are


def _attempt(task_id: str, details: Mapping[str, Any]) -> tuple[str, int | None, int | None]:
    """An attempt's key: ``(task_id, retried_count, replacement)``, the numbers as :func:`as_int` reads
    them (the usual forms without calling it)."""
    count = details.get("retried_count")
    if count.__class__ is not int or not -_EXACT < count < _EXACT:
        count = as_int(details, "retried_count")
    replacement = details.get("replacement")
    if replacement is not None:
        replacement = as_int(details, "replacement")
    return task_id, count, replacement


class Summary(EventCounts):
    """Everything ``summary`` prints, folded from a stream of records one at a time."""

    def __init__(self, top: int = 10) -> None:
        super().__init__()
        self.top = top
        self.tasks: dict[str, TaskTally] = {}
        self.flows: dict[str, FlowTally] = {}
        self.canvases: dict[str, FlowTally] = {}  # canvas workflows by their shape
        self._canvas_tasks = CanvasTasks()
        self.failures = FailureGroups()
        # (duration, flow id, flow name, outcome, start): a min-heap of the `top` slowest flows.
        self._slowest: list[tuple[float, str, str, str, float]] = []
        # Attempts and flows that started and have not ended yet: bounded by what runs concurrently.
        self.open_attempts: dict[tuple[str, int | None, int | None], tuple[float, str]] = {}
        self._open_flows: dict[str, tuple[float, str]] = {}
        self._discarded: dict[tuple[str, int | None, int | None], None] = {}  # awaiting their TASK_END
        self.periodic = Periodic()  # beat entries: sends, outcomes, gaps (model/periodic.py)
        self.workers = Workers()  # workers: online spans, processes lost (model/workers.py)
        # A part of the input folded apart (summary_parts.py) logs its failures here, to be grouped in order.
        self.failure_log: list[tuple[str, str, str, float, str | None]] | None = None
        self.not_joinable = False  # a part that cannot be put together exactly (summary_parts.py)

    def add_all(self, records: Iterable[Record]) -> Summary:
        """Fold every record of ``records``; return ``self`` for chaining."""
        add = self.add
        for record in records:
            add(record)
        return self

    def add(self, record: Record) -> None:
        """Fold one record."""
        # This runs once per event: the common cases are read inline (no helper calls, no lists).
        ts, event, details, node = record
        queue = details.get("queue")
        if queue is not None and queue.__class__ is not str:
            queue = as_str(details, "queue")
        self.count(ts, event, node, queue)
        if "root_id" in details and event.startswith("TASK_"):  # a canvas task's (canvas_facts)
            self._canvas_tasks.add(ts, event, details)
        if event == TASK_START:
            task_id = details.get("task_id")
            if task_id.__class__ is not str or not task_id:
                task_id = as_str(details, "task_id")
            if task_id is not None:
                self.open_attempts[_attempt(task_id, details)] = (ts, task_name(details) or UNNAMED)
            self.workers.add(record)
            return
        if event in TERMINAL:
            task_id = details.get("task_id")
            if task_id.__class__ is not str or not task_id:
                task_id = as_str(details, "task_id")
            self.end_attempt(
                ts,
                event,
                None if task_id is None else _attempt(task_id, details),
                task_name(details),
                details.get("replaced_by") is not None,
                details,
                as_float(details, "runtime"),
            )
        elif event in _FLOW_EVENTS:
            name = as_str(details, "flow_name") or UNNAMED
            self.flow_event(ts, event, as_str(details, "dispatcher_id"), name, details.get("what"))
            return
        elif event in FATE_OUTCOME:
            self._fate(event, details)
        elif event == TASK_SCHEDULE:
            if "periodic" in details:  # sent by beat (periodic.py reads nothing else of a schedule)
                self.periodic.add(record)
            return
        if event in _PERIODIC_EVENTS or (event in _ENDS and self.periodic.waiting):
            self.periodic.add(record)
        if event in WORKER_EVENTS:
            self.workers.add(record)

    def end_attempt(
        self,
        ts: float,
        event: str,
        key: tuple[str, int | None, int | None] | None,
        name: str | None,
        replaced: bool,
        error: Any,
        runtime: float | None,
    ) -> None:
        """Fold an attempt's end: ``key`` as :func:`_attempt` gives it (None: no task id); ``error``
        the details (a mapping or lean) whose ``what`` and ``exc_type`` say what failed."""
        opened = None
        if key is not None:
            # TASK_DISCARD_RESULT comes just before its attempt's TASK_END: one run, counted once.
            if event == TASK_DISCARD_RESULT:
                if len(self._discarded) >= _MAX_DISCARDED:
                    self._discarded.clear()
                    self.not_joinable = True
                self._discarded[key] = None
            elif self._discarded and self._discarded.pop(key, False) is None:
                return
            opened = self.open_attempts.pop(key, None)
        name = name or (opened[1] if opened else UNNAMED)
        tally = self.tasks.get(name) or _tally(self.tasks, name, TaskTally)
        tally.runs += 1
        outcome = ATTEMPT_OUTCOME[event]
        if replaced:
            tally.replaced += 1
        elif outcome == "success":
            tally.successes += 1
        elif outcome == "retry":
            tally.retries += 1
        else:
            tally.failures += 1
            if isinstance(error, Mapping):
                what, exc_type, canvas = error.get("what"), error.get("exc_type"), is_canvas_event(error)
            else:  # lean details: never a canvas task's (add_lean)
                what, exc_type, canvas = error.what, error.exc_type, False
            if not canvas:  # a canvas task's failure is listed with its workflow
                text = error_line(what, exc_type) or _NO_ERROR_TEXT
                self.record_failure("task", name, text, ts, None if key is None else key[0])
        if runtime is None and opened is not None:
            runtime = ts - opened[0]
        if runtime is not None:
            tally.durations.add(runtime)

    def _fate(self, event: str, details: Mapping[str, Any]) -> None:
        # Revoked, expired, rejected: counted per task name; a terminated attempt is also a run that ended.
        task_id = as_str(details, "task_id")
        opened = None
        if task_id is not None and (details.get("terminated") is True or details.get("started") is True):
            key = _attempt(task_id, details)
            opened = self.open_attempts.pop(key, None)
        tally = _tally(self.tasks, task_name(details) or (opened[1] if opened else UNNAMED), TaskTally)
        kind = FATE_OUTCOME[event]
        setattr(tally, kind, getattr(tally, kind) + 1)
        if opened is not None:
            tally.runs += 1

    def flow_event(self, ts: float, event: str, flow_id: str | None, name: str, what: object) -> None:
        tally = _tally(self.flows, name, FlowTally)
        if event == DISPATCHER_WAKEUP:
            tally.wakeups += 1
        elif event == FLOW_START:
            tally.runs += 1
            if flow_id is not None:
                self._open_flows[flow_id] = (ts, name)
        elif event == DISPATCHER_FAILURE:
            tally.dispatcher_errors += 1
            error = error_line(what) or _NO_ERROR_TEXT
            self.record_failure("dispatcher", name, error, ts, flow_id)
        else:
            opened = self._open_flows.pop(flow_id, None) if flow_id is not None else None
            outcome = "success" if event == FLOW_END else "failure"
            if outcome == "success":
                tally.successes += 1
            else:
                tally.failures += 1
                error = error_line(what) or _NO_ERROR_TEXT
                self.record_failure("flow", name, error, ts, flow_id)
            if opened is not None:
                duration = ts - opened[0]
                tally.durations.add(duration)
                self._keep_slowest((duration, flow_id or "?", name, outcome, opened[0]))

    def record_failure(self, kind: str, name: str, error: str, ts: float, ident: str | None) -> None:
        """Count a failure in its group (or, in a part folded apart, log it to be grouped in order)."""
        if self.failure_log is not None:
            self.failure_log.append((kind, name, error, ts, ident))
        else:
            self.failures.add(kind, name, error, ts, ident)

    def _keep_slowest(self, entry: tuple[float, str, str, str, float]) -> None:
        if len(self._slowest) < self.top:
            heapq.heappush(self._slowest, entry)
        elif self.top:
            heapq.heappushpop(self._slowest, entry)

    def open_ids(self) -> tuple[set[str], Container[str], set[str]]:
        """The ids with state kept between events: tasks started or awaiting an end, canvas tasks (whose
        facts are kept to the end), flows started."""
        tasks = {key[0] for key in self.open_attempts} | {key[0] for key in self._discarded}
        tasks.update(self.periodic.waiting_ids())
        return tasks, self._canvas_tasks.task_ids(), set(self._open_flows)

    def absorb(self, other: Summary) -> None:
        """Add a later part of the input folded apart: its counts, and the state it left open.

        The caller (summary_parts.py) has checked that no task or flow has state in both.
        """
        self.merge_counts(other)
        merge_tallies(self.tasks, other.tasks, TaskTally)
        merge_tallies(self.flows, other.flows, FlowTally)
        for entry in other._slowest:
            self._keep_slowest(entry)
        self.open_attempts.update(other.open_attempts)
        self._open_flows.update(other._open_flows)
        self._discarded.update(other._discarded)
        self.not_joinable |= other.not_joinable
        self._canvas_tasks.merge(other._canvas_tasks)
        self.workers.merge(other.workers)

    def finish(self) -> Summary:
        """Count what started and never ended (still running, or its end is in another file)."""
        for _, name in self.open_attempts.values():
            _tally(self.tasks, name, TaskTally).unfinished += 1
        for _, name in self._open_flows.values():
            _tally(self.flows, name, FlowTally).unfinished += 1
        self.open_attempts.clear()
        self._open_flows.clear()
        self._canvas_tasks.count_into(self.canvases, self.record_failure)
        self._canvas_tasks = CanvasTasks()
        self.periodic.finish(self.last_ts)
        return self

    @property
    def slowest(self) -> list[tuple[float, str, str, str, float]]:
        """The slowest finished flows, slowest first: (duration, id, name, outcome, start)."""
        return sorted(self._slowest, reverse=True)
