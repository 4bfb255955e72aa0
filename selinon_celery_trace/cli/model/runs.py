"""One flow or one task rebuilt from its events, as a tree: what ``show`` and ``timeline`` draw.

A :class:`FlowRun` holds its dispatcher's :class:`Wakeup` runs, its tasks and its subflows; a
:class:`TaskRun` holds its scheduling and its :class:`Attempt` runs (what an attempt is: see
:mod:`..reading.event_names`). :class:`.collector.Collector` picks the events of one flow or task out
of a stream and folds them into these.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..reading.event_names import (
    ATTEMPT_OUTCOME,
    DISPATCHER_FAILURE,
    DISPATCHER_RETRY,
    DISPATCHER_WAKEUP,
    FATE_OUTCOME,
    FLOW_END,
    FLOW_FAILURE,
    FLOW_START,
    NODE_FAILURE,
    NODE_SUCCESSFUL,
    SUBFLOW_SCHEDULE,
    TASK_DISCARD_RESULT,
    TASK_END,
    TASK_FAILURE,
    TASK_RETRY,
    TASK_SCHEDULE,
    TASK_START,
    TERMINAL,
)
from ..reading.fields import as_float, as_int, as_str, error_line, task_name
from ..reading.lines import Record
from .attempt import Attempt, attempt_order
from .canvas_facts import CanvasFacts, is_canvas_event
from .fates import Fate, fate_of

__all__ = ["Attempt", "FlowRun", "TaskRun", "Wakeup"]


@dataclass(slots=True)
class TaskRun:
    """One task (one ``task_id``) with its scheduling, its attempts and what its dispatcher saw."""

    task_id: str
    name: str | None = None
    flow_id: str | None = None
    flow_name: str | None = None
    parent: str | None = None
    scheduled: float | None = None
    queue: str | None = None
    countdown: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    node_seen: tuple[str, float] | None = None  # (NODE_SUCCESSFUL | NODE_FAILURE, when)
    notes: list[Record] = field(default_factory=list)
    first_ts: float = math.inf
    canvas: CanvasFacts | None = None  # set when its events say it is in a Celery canvas
    fate: Fate | None = None  # revoked, expired or rejected (the first such event: a message's fate)

    @property
    def outcome(self) -> str:
        """The outcome of the last attempt; its fate when it had one instead; ``scheduled`` when none ran,
        ``running`` while the task's replacement (``Task.replace``) has not started."""
        last = self.attempts[-1].outcome if self.attempts else "scheduled"
        if self.fate is not None and last in ("scheduled", "running", "retry", "replaced", self.fate.kind):
            return self.fate.kind
        return "running" if last == "replaced" else last

    @property
    def end(self) -> float | None:
        """When the last attempt ended (or the message met its fate), if it did."""
        end = self.attempts[-1].end if self.attempts else None
        if end is None and self.fate is not None and self.outcome == self.fate.kind:
            return self.fate.ts
        return end

    def apply(self, record: Record) -> None:
        """Fold one event about this task."""
        ts, event, details, node = record
        self.first_ts = min(self.first_ts, ts)
        self.name = self.name or task_name(details)
        self.flow_id = self.flow_id or as_str(details, "dispatcher_id")
        self.flow_name = self.flow_name or as_str(details, "flow_name")
        self.parent = self.parent or as_str(details, "parent")
        self.queue = self.queue or as_str(details, "queue")
        if is_canvas_event(details):
            if self.canvas is None:
                self.canvas = CanvasFacts()
            self.canvas.apply(details)
        if event in (TASK_SCHEDULE, SUBFLOW_SCHEDULE):
            # A retry publishes the task again; the first publication is when the task was asked for.
            if self.scheduled is None:
                self.scheduled = ts
                self.countdown = as_float(details, "countdown")
            return
        replacement = as_int(details, "replacement") or 0
        if event == TASK_START:
            attempt = self._attempt(as_int(details, "retried_count"), replacement, started=True)
            attempt.start = ts
        elif event in TERMINAL:
            attempt = self._attempt(
                as_int(details, "retried_count"), replacement, started=False, after_discard=event == TASK_END
            )
            attempt.end = ts
            attempt.outcome = ATTEMPT_OUTCOME[event]
            # TASK_DISCARD_RESULT says the result was not kept; the TASK_END after it ends the attempt.
            attempt.discarded = attempt.discarded or event == TASK_DISCARD_RESULT
            attempt.ended_by = event
            attempt.runtime = as_float(details, "runtime")
            attempt.replaced_by = as_str(details, "replaced_by")
            if attempt.replaced_by is not None:
                attempt.outcome = "replaced"
            if event in (TASK_FAILURE, TASK_RETRY):
                what = details.get("what")
                attempt.what = what if isinstance(what, str) else None
                attempt.error = error_line(what, details.get("exc_type"))
                attempt.retry_countdown = as_float(details, "retry_countdown")
            elif event == TASK_DISCARD_RESULT:
                result = details.get("result")
                attempt.result = result if isinstance(result, str) or result is None else json.dumps(result)
        elif event in (NODE_SUCCESSFUL, NODE_FAILURE):
            self.node_seen = (event, ts)
            return
        elif event in FATE_OUTCOME and self.fate is None:
            self.fate = fate = fate_of(record)
            if fate is None or not fate.started:
                return
            # A terminated attempt: its end is the revoke (no TASK_END or TASK_FAILURE follows).
            attempt = self._attempt(fate.retried_count, replacement, started=False)
            attempt.end, attempt.outcome = ts, fate.kind
        else:
            self.notes.append(record)
            return
        if replacement:
            attempt.task_name = attempt.task_name or task_name(details)
            attempt.replaces = attempt.replaces or as_str(details, "replaces")
        if attempt.args is None:
            attempt.args = details.get("node_args")
        attempt.hostname = attempt.hostname or as_str(details, "hostname")
        attempt.pid = attempt.pid or as_str(details, "pid")
        attempt.node = attempt.node or node
        attempt.queue = attempt.queue or as_str(details, "queue")

    def _attempt(
        self, number: int | None, replacement: int, *, started: bool, after_discard: bool = False
    ) -> Attempt:
        """The attempt ``number`` (of ``replacement``) that still lacks its start (``started``) or its
        end; new if none.

        Attempts are told apart by their number (``retried_count``) and replacement, never by the
        order of the lines: a retried attempt's next attempt may start (in another process) before the
        first one's TASK_RETRY is written, and files merged from several hosts are only roughly in order.
        """
        for attempt in self.attempts:
            missing = attempt.start is None if started else attempt.end is None
            if after_discard and attempt.ended_by == TASK_DISCARD_RESULT:
                missing = True  # the TASK_END that follows a TASK_DISCARD_RESULT: the same attempt
            if (
                missing
                and attempt.number == number
                and number is not None
                and attempt.replacement == replacement
            ):
                return attempt
        if number is None and not started:
            # No number to go by (an old or foreign writer): the latest attempt that has not ended.
            for attempt in reversed(self.attempts):
                ended = attempt.end is not None and not (
                    after_discard and attempt.ended_by == TASK_DISCARD_RESULT
                )
                if not ended and attempt.replacement == replacement:
                    return attempt
        # A start, or an end without a start (the worker process was lost or killed by a hard time
        # limit): a new attempt, kept in the order of the replacements and attempt numbers.
        attempt = Attempt(number, replacement)
        key = attempt_order(attempt)
        position = len(self.attempts)
        while position and key < attempt_order(self.attempts[position - 1]):
            position -= 1
        self.attempts.insert(position, attempt)
        return attempt


@dataclass(slots=True)
class Wakeup:
    """One execution of a flow's dispatcher."""

    ts: float
    node: str
    retry: int | None
    queue: str | None
    rescheduled: float | None = None  # DISPATCHER_RETRY: when it asked to run again


@dataclass(slots=True)
class FlowRun:
    """One flow (one ``dispatcher_id``): its dispatcher's wake-ups, its tasks and subflows, its end."""

    flow_id: str
    name: str | None = None
    parent_flow: str | None = None
    scheduled: float | None = None
    start: float | None = None
    end: float | None = None
    outcome: str = "running"  # running | success | failure
    error: str | None = None
    what: str | None = None
    queue: str | None = None
    wakeups: list[Wakeup] = field(default_factory=list)
    tasks: dict[str, TaskRun] = field(default_factory=dict)
    subflows: dict[str, FlowRun] = field(default_factory=dict)
    notes: list[Record] = field(default_factory=list)
    first_ts: float = math.inf
    last_ts: float = -math.inf

    @property
    def seen(self) -> bool:
        """Whether any event of the flow itself (not only its scheduling) was read."""
        return bool(self.wakeups or self.tasks or self.subflows or self.notes or self.start or self.end)

    @property
    def duration(self) -> float | None:
        """From the flow's start (or first event) to its end, when it ended."""
        begin = self.start if self.start is not None else self.first_ts
        if self.end is None or not math.isfinite(begin):
            return None
        return self.end - begin

    def walk(self) -> Iterable[FlowRun]:
        """This flow and all its subflows, depth first."""
        yield self
        for sub in self.subflows.values():
            yield from sub.walk()

    def touch(self, ts: float) -> None:
        """Widen the flow's span of events (:attr:`first_ts` to :attr:`last_ts`) to ``ts``."""
        self.first_ts = min(self.first_ts, ts)
        self.last_ts = max(self.last_ts, ts)

    def apply(self, record: Record) -> None:
        """Fold one event of this flow's dispatcher (task events go to :meth:`task`)."""
        ts, event, details, node = record
        self.touch(ts)
        # The dispatcher's own events name the flow with authority; a scheduling event may not.
        self.name = as_str(details, "flow_name") or self.name
        if event == DISPATCHER_WAKEUP:
            self.queue = self.queue or as_str(details, "queue")
            self.wakeups.append(Wakeup(ts, node, as_int(details, "retry"), as_str(details, "queue")))
        elif event == FLOW_START:
            self.start = ts if self.start is None else self.start
            self.queue = self.queue or as_str(details, "queue")
        elif event == DISPATCHER_RETRY:
            if self.wakeups and self.wakeups[-1].rescheduled is None:
                self.wakeups[-1].rescheduled = ts
        elif event in (FLOW_END, FLOW_FAILURE):
            self.end = ts
            self.outcome = "success" if event == FLOW_END else "failure"
            if event == FLOW_FAILURE:
                what = details.get("what")
                self.what = what if isinstance(what, str) else None
                self.error = error_line(what)
        elif event in (NODE_SUCCESSFUL, NODE_FAILURE):
            node_id = as_str(details, "node_id")
            target = self.tasks.get(node_id) if node_id else None
            sub = self.subflows.get(node_id) if node_id else None
            if target is not None:
                target.node_seen = (event, ts)
            elif sub is None:
                self.notes.append(record)
        else:
            if event == DISPATCHER_FAILURE:
                self.outcome = "failure" if self.end is None else self.outcome
                what = details.get("what")
                self.what = what if isinstance(what, str) else self.what
                self.error = error_line(what) or self.error
            self.notes.append(record)

    def task(self, task_id: str, ts: float) -> TaskRun:
        """The task ``task_id`` of this flow, created on first sight."""
        self.touch(ts)
        run = self.tasks.get(task_id)
        if run is None:
            run = self.tasks[task_id] = TaskRun(task_id)
        return run
