"""What the events mean: task attempts, flows, and the statistics over all of them.

Two consumers of a record stream live here:

* :class:`Summary` folds any number of events into counters in bounded memory: per-name tallies,
  duration sketches, the slowest flows, failures grouped by error. What it keeps grows with the number
  of distinct task names, flow names, queues, hosts and errors (the last capped), and with the tasks and
  flows still running at the end of the input, never with the number of events.
* :class:`Collector` keeps only the events of one flow (with its subflows) or one task, and rebuilds
  them as a tree of :class:`FlowRun`, :class:`TaskRun` and :class:`Attempt` for ``show`` and
  ``timeline``.

An *attempt* is one execution of a task (same ``task_id``, told apart by ``retried_count``): one
``TASK_START`` and exactly one terminal event (``TASK_END``, ``TASK_DISCARD_RESULT``, ``TASK_FAILURE``
or ``TASK_RETRY``). A ``TASK_FAILURE`` without a start (worker lost, hard time limit) is an attempt
whose start is unknown.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .fields import as_float, as_int, as_str, error_line
from .reader import Record

__all__ = [
    "Attempt",
    "Collector",
    "DurationSketch",
    "FailureGroup",
    "FlowRun",
    "FlowTally",
    "LatestFlow",
    "Summary",
    "TaskRun",
    "TaskTally",
    "latest_flow",
]

TASK_START: Final = "TASK_START"
TASK_END: Final = "TASK_END"
TASK_DISCARD_RESULT: Final = "TASK_DISCARD_RESULT"
TASK_FAILURE: Final = "TASK_FAILURE"
TASK_RETRY: Final = "TASK_RETRY"
TASK_SCHEDULE: Final = "TASK_SCHEDULE"
SUBFLOW_SCHEDULE: Final = "SUBFLOW_SCHEDULE"
DISPATCHER_WAKEUP: Final = "DISPATCHER_WAKEUP"
DISPATCHER_RETRY: Final = "DISPATCHER_RETRY"
DISPATCHER_FAILURE: Final = "DISPATCHER_FAILURE"
FLOW_START: Final = "FLOW_START"
FLOW_END: Final = "FLOW_END"
FLOW_FAILURE: Final = "FLOW_FAILURE"
NODE_SUCCESSFUL: Final = "NODE_SUCCESSFUL"
NODE_FAILURE: Final = "NODE_FAILURE"

TERMINAL: Final = frozenset({TASK_END, TASK_DISCARD_RESULT, TASK_FAILURE, TASK_RETRY})
_OUTCOME: Final = {
    TASK_END: "success",
    TASK_DISCARD_RESULT: "success",
    TASK_FAILURE: "failure",
    TASK_RETRY: "retry",
}
_UNNAMED = "(unnamed)"


class DurationSketch:
    """Quantiles of a stream of durations in bounded memory, within 1% of the true value.

    Durations are counted in logarithmic buckets (the DDSketch idea): bucket ``i`` holds values in
    ``(g**(i-1), g**i]`` with g = 1.02, so any quantile read back is within 1% relative error, and a
    range from a microsecond to a day needs about 1,300 buckets however many values are added.
    ``max`` is exact.
    """

    __slots__ = ("_buckets", "_zero", "count", "max", "total")

    GAMMA: Final = 1.02
    _LOG_GAMMA: Final = math.log(GAMMA)
    _ZERO: Final = 1e-6  # a microsecond: below what a trace timestamp can tell apart

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self._zero = 0
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        """Count one duration (negative ones, from clock skew between hosts, count as zero)."""
        self.count += 1
        if seconds <= self._ZERO:
            self._zero += 1
            return
        self.total += seconds
        self.max = max(self.max, seconds)
        index = math.ceil(math.log(seconds) / self._LOG_GAMMA)
        self._buckets[index] = self._buckets.get(index, 0) + 1

    def quantile(self, q: float) -> float | None:
        """Return the ``q`` quantile (0 < q <= 1, nearest rank), or ``None`` when nothing was added."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = self._zero
        if seen >= rank:
            return 0.0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                # The bucket's midpoint in relative terms, never above the exact maximum.
                return min(2 * self.GAMMA**index / (self.GAMMA + 1), self.max)
        return self.max  # pragma: no cover - the counts always reach rank


@dataclass(slots=True)
class TaskTally:
    """Counts for one task name: attempts by outcome and their durations."""

    runs: int = 0
    successes: int = 0
    failures: int = 0
    retries: int = 0
    unfinished: int = 0
    durations: DurationSketch = field(default_factory=DurationSketch)


@dataclass(slots=True)
class FlowTally:
    """Counts for one flow name: flows started and how they ended, dispatcher work, durations."""

    runs: int = 0
    successes: int = 0
    failures: int = 0
    wakeups: int = 0
    dispatcher_errors: int = 0
    unfinished: int = 0
    durations: DurationSketch = field(default_factory=DurationSketch)


@dataclass(slots=True)
class FailureGroup:
    """Failures with the same kind, name and error line: how many, when, and the latest id to show."""

    count: int
    first_ts: float
    last_ts: float
    last_id: str | None


@dataclass(slots=True)
class PlaceTally:
    """Events seen on one queue or host, and how many task attempts started, retried and failed there."""

    events: int = 0
    starts: int = 0
    retries: int = 0
    failures: int = 0


class Summary:
    """Everything ``summary`` prints, folded from a stream of records one at a time."""

    MAX_FAILURE_GROUPS: Final = 1000
    """Distinct (kind, name, error) groups kept; errors that embed ids would otherwise grow forever."""

    def __init__(self, top: int = 10) -> None:
        self.top = top
        self.events = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.by_event: Counter[str] = Counter()
        self.by_queue: dict[str, PlaceTally] = {}
        self.by_host: dict[str, PlaceTally] = {}
        self.tasks: dict[str, TaskTally] = {}
        self.flows: dict[str, FlowTally] = {}
        self.failures: dict[tuple[str, str, str], FailureGroup] = {}
        # (duration, flow id, flow name, outcome, start): a min-heap of the `top` slowest flows.
        self._slowest: list[tuple[float, str, str, str, float]] = []
        # Attempts and flows that started and have not ended yet: bounded by what runs concurrently.
        self._open_attempts: dict[tuple[str, int | None], tuple[float, str]] = {}
        self._open_flows: dict[str, tuple[float, str]] = {}

    def add_all(self, records: Iterable[Record]) -> Summary:
        """Fold every record of ``records``; return ``self`` for chaining."""
        add = self.add
        for record in records:
            add(record)
        return self

    def _place(self, table: dict[str, PlaceTally], key: str) -> PlaceTally:
        tally = table.get(key)
        if tally is None:
            tally = table[key] = PlaceTally()
        return tally

    def add(self, record: Record) -> None:
        """Fold one record."""
        ts, event, details, node = record
        self.events += 1
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        self.by_event[event] += 1
        queue = as_str(details, "queue")
        places = [self._place(self.by_host, node)]
        if queue is not None:
            places.append(self._place(self.by_queue, queue))
        for place in places:
            place.events += 1
        if event == TASK_START:
            for place in places:
                place.starts += 1
            self._task_start(ts, details)
        elif event in TERMINAL:
            if event == TASK_RETRY:
                for place in places:
                    place.retries += 1
            elif event == TASK_FAILURE:
                for place in places:
                    place.failures += 1
            self._task_end(ts, event, details)
        elif event in (FLOW_START, FLOW_END, FLOW_FAILURE, DISPATCHER_WAKEUP, DISPATCHER_FAILURE):
            self._flow_event(ts, event, details)

    def _task_tally(self, name: str) -> TaskTally:
        tally = self.tasks.get(name)
        if tally is None:
            tally = self.tasks[name] = TaskTally()
        return tally

    def _flow_tally(self, name: str) -> FlowTally:
        tally = self.flows.get(name)
        if tally is None:
            tally = self.flows[name] = FlowTally()
        return tally

    def _task_start(self, ts: float, details: Mapping[str, Any]) -> None:
        task_id = as_str(details, "task_id")
        if task_id is not None:
            name = as_str(details, "task_name") or _UNNAMED
            self._open_attempts[(task_id, as_int(details, "retried_count"))] = (ts, name)

    def _task_end(self, ts: float, event: str, details: Mapping[str, Any]) -> None:
        task_id = as_str(details, "task_id")
        opened = None
        if task_id is not None:
            opened = self._open_attempts.pop((task_id, as_int(details, "retried_count")), None)
        name = as_str(details, "task_name") or (opened[1] if opened else _UNNAMED)
        tally = self._task_tally(name)
        tally.runs += 1
        outcome = _OUTCOME[event]
        if outcome == "success":
            tally.successes += 1
        elif outcome == "retry":
            tally.retries += 1
        else:
            tally.failures += 1
            error = error_line(details.get("what"), details.get("exc_type")) or "(no error text)"
            self._failure("task", name, error, ts, task_id)
        duration = as_float(details, "runtime")
        if duration is None and opened is not None:
            duration = ts - opened[0]
        if duration is not None:
            tally.durations.add(duration)

    def _flow_event(self, ts: float, event: str, details: Mapping[str, Any]) -> None:
        flow_id = as_str(details, "dispatcher_id")
        name = as_str(details, "flow_name") or _UNNAMED
        tally = self._flow_tally(name)
        if event == DISPATCHER_WAKEUP:
            tally.wakeups += 1
        elif event == FLOW_START:
            tally.runs += 1
            if flow_id is not None:
                self._open_flows[flow_id] = (ts, name)
        elif event == DISPATCHER_FAILURE:
            tally.dispatcher_errors += 1
            error = error_line(details.get("what")) or "(no error text)"
            self._failure("dispatcher", name, error, ts, flow_id)
        else:
            opened = self._open_flows.pop(flow_id, None) if flow_id is not None else None
            outcome = "success" if event == FLOW_END else "failure"
            if outcome == "success":
                tally.successes += 1
            else:
                tally.failures += 1
                error = error_line(details.get("what")) or "(no error text)"
                self._failure("flow", name, error, ts, flow_id)
            if opened is not None:
                duration = ts - opened[0]
                tally.durations.add(duration)
                entry = (duration, flow_id or "?", name, outcome, opened[0])
                if len(self._slowest) < self.top:
                    heapq.heappush(self._slowest, entry)
                elif self.top:
                    heapq.heappushpop(self._slowest, entry)

    def _failure(self, kind: str, name: str, error: str, ts: float, ident: str | None) -> None:
        key = (kind, name, error)
        group = self.failures.get(key)
        if group is None:
            if len(self.failures) >= self.MAX_FAILURE_GROUPS:
                key = (kind, name, "(other errors: too many distinct ones to list)")
                group = self.failures.get(key)
            if group is None:
                group = self.failures[key] = FailureGroup(0, ts, ts, ident)
        group.count += 1
        group.first_ts = min(group.first_ts, ts)
        if ts >= group.last_ts:
            group.last_ts, group.last_id = ts, ident

    def finish(self) -> Summary:
        """Count what started and never ended (still running, or its end is in another file)."""
        for _, name in self._open_attempts.values():
            self._task_tally(name).unfinished += 1
        for _, name in self._open_flows.values():
            self._flow_tally(name).unfinished += 1
        self._open_attempts.clear()
        self._open_flows.clear()
        return self

    @property
    def slowest(self) -> list[tuple[float, str, str, str, float]]:
        """The slowest finished flows, slowest first: (duration, id, name, outcome, start)."""
        return sorted(self._slowest, reverse=True)


# --- one flow or one task, as a tree -------------------------------------------------------------


@dataclass(slots=True)
class Attempt:
    """One execution of a task."""

    number: int | None
    start: float | None = None
    end: float | None = None
    outcome: str = "running"  # running | success | retry | failure
    hostname: str | None = None
    pid: str | None = None
    node: str | None = None
    queue: str | None = None
    runtime: float | None = None
    error: str | None = None
    what: str | None = None
    retry_countdown: float | None = None
    discarded: bool = False

    @property
    def duration(self) -> float | None:
        """The reported runtime, else the time between start and end when both are known."""
        if self.runtime is not None:
            return self.runtime
        if self.start is not None and self.end is not None:
            return self.end - self.start
        return None

    @property
    def worker(self) -> str:
        """Where it ran: the Celery worker name (or host) and process id, as far as known."""
        where = self.hostname or self.node or "?"
        return f"{where} pid {self.pid}" if self.pid else where


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

    @property
    def outcome(self) -> str:
        """The outcome of the last attempt; ``scheduled`` when none ran."""
        return self.attempts[-1].outcome if self.attempts else "scheduled"

    @property
    def end(self) -> float | None:
        """When the last attempt ended, if it did."""
        return self.attempts[-1].end if self.attempts else None

    def apply(self, record: Record) -> None:
        """Fold one event about this task."""
        ts, event, details, node = record
        self.first_ts = min(self.first_ts, ts)
        self.name = self.name or as_str(details, "task_name")
        self.flow_id = self.flow_id or as_str(details, "dispatcher_id")
        self.flow_name = self.flow_name or as_str(details, "flow_name")
        self.parent = self.parent or as_str(details, "parent")
        self.queue = self.queue or as_str(details, "queue")
        if event in (TASK_SCHEDULE, SUBFLOW_SCHEDULE):
            # A retry publishes the task again; the first publication is when the task was asked for.
            if self.scheduled is None:
                self.scheduled = ts
                self.countdown = as_float(details, "countdown")
            return
        if event == TASK_START:
            attempt = self._attempt(as_int(details, "retried_count"), started=True)
            attempt.start = ts
        elif event in TERMINAL:
            attempt = self._attempt(as_int(details, "retried_count"), started=False)
            attempt.end = ts
            attempt.outcome = _OUTCOME[event]
            attempt.discarded = event == TASK_DISCARD_RESULT
            attempt.runtime = as_float(details, "runtime")
            if event in (TASK_FAILURE, TASK_RETRY):
                what = details.get("what")
                attempt.what = what if isinstance(what, str) else None
                attempt.error = error_line(what, details.get("exc_type"))
                attempt.retry_countdown = as_float(details, "retry_countdown")
        elif event in (NODE_SUCCESSFUL, NODE_FAILURE):
            self.node_seen = (event, ts)
            return
        else:
            self.notes.append(record)
            return
        attempt.hostname = attempt.hostname or as_str(details, "hostname")
        attempt.pid = attempt.pid or as_str(details, "pid")
        attempt.node = attempt.node or node
        attempt.queue = attempt.queue or as_str(details, "queue")

    def _attempt(self, number: int | None, *, started: bool) -> Attempt:
        """The attempt ``number`` that still lacks its start (``started``) or its end; new if none.

        Attempts are told apart by their number (``retried_count``), never by the order of the lines:
        a retried attempt's next attempt may start (in another process) before the first one's
        TASK_RETRY is written, and files merged from several hosts are only roughly in order.
        """
        for attempt in self.attempts:
            missing = attempt.start is None if started else attempt.end is None
            if missing and attempt.number == number and number is not None:
                return attempt
        if number is None and not started:
            # No number to go by (an old or foreign writer): the latest attempt that has not ended.
            for attempt in reversed(self.attempts):
                if attempt.end is None:
                    return attempt
        # A start, or an end without a start (the worker process was lost or killed by a hard time
        # limit): a new attempt, kept in the order of the attempt numbers.
        attempt = Attempt(number)
        key = math.inf if number is None else number
        position = len(self.attempts)
        while position and key < _number(self.attempts[position - 1]):
            position -= 1
        self.attempts.insert(position, attempt)
        return attempt


def _number(attempt: Attempt) -> float:
    return math.inf if attempt.number is None else attempt.number


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

    def _touch(self, ts: float) -> None:
        self.first_ts = min(self.first_ts, ts)
        self.last_ts = max(self.last_ts, ts)

    def apply(self, record: Record) -> None:
        """Fold one event of this flow's dispatcher (task events go to :meth:`task`)."""
        ts, event, details, node = record
        self._touch(ts)
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
        self._touch(ts)
        run = self.tasks.get(task_id)
        if run is None:
            run = self.tasks[task_id] = TaskRun(task_id)
        return run


_DISPATCHER_EVENTS: Final = frozenset(
    {
        DISPATCHER_WAKEUP,
        FLOW_START,
        DISPATCHER_RETRY,
        FLOW_END,
        FLOW_FAILURE,
        DISPATCHER_FAILURE,
        NODE_SUCCESSFUL,
        NODE_FAILURE,
    }
)


class Collector:
    """Keep the events of one id: a flow (with its subflows, found as they are scheduled) or a task.

    ``wanted`` may be the start of an id (the short ids other views print): the first
    ``dispatcher_id`` or ``task_id`` that starts with it is the one kept, and any other id that also
    starts with it is listed in :attr:`ambiguous`. Whether the id names a flow or a task is only known
    from the events, so both are tried and :meth:`result` picks: a flow when its dispatcher or any of
    its tasks was seen, else the task.
    """

    def __init__(self, wanted: str) -> None:
        self.wanted = wanted
        self.ident: str | None = None
        self.ambiguous: set[str] = set()
        self.flows: dict[str, FlowRun] = {}
        self.task = TaskRun(wanted)
        self._task_seen = False

    def add_all(self, records: Iterable[Record]) -> Collector:
        """Fold every record; return ``self`` for chaining."""
        for record in records:
            self.add(record)
        return self

    def _resolve(self, flow_id: str | None, task_id: str | None) -> bool:
        wanted, ident = self.wanted, self.ident
        if ident is None:
            if flow_id is not None and flow_id.startswith(wanted):
                ident = flow_id
            elif task_id is not None and task_id.startswith(wanted):
                ident = task_id
            else:
                return False
            self.ident = ident
            self.flows[ident] = FlowRun(ident)
            self.task = TaskRun(ident)
            return True
        if ident != wanted:
            for other in (flow_id, task_id):
                if other is not None and other != ident and other.startswith(wanted):
                    self.ambiguous.update((ident, other))
        return True

    def add(self, record: Record) -> None:
        """Fold one record if it belongs to the wanted flow or task; ignore it otherwise."""
        details = record.details
        flow_id = as_str(details, "dispatcher_id")
        task_id = as_str(details, "task_id")
        if not self._resolve(flow_id, task_id):
            return
        flows = self.flows
        in_flow = flow_id is not None and flow_id in flows
        if not in_flow and task_id is None:
            return
        event = record.event
        if task_id == self.ident and event.startswith("TASK_"):
            self._task_seen = True
            self.task.apply(record)
        if event in (TASK_SCHEDULE, SUBFLOW_SCHEDULE) and task_id is not None:
            parent = as_str(details, "parent_dispatcher_id")
            if parent is None and flow_id != task_id:
                parent = flow_id
            if event == SUBFLOW_SCHEDULE and parent in flows and task_id not in flows:
                child = flows[task_id] = FlowRun(task_id, parent_flow=parent)
                flows[parent].subflows[task_id] = child
                flows[parent]._touch(record.ts)
            scheduled = flows.get(task_id)
            if scheduled is not None:
                if scheduled.scheduled is None:
                    scheduled.scheduled = record.ts
                    scheduled.name = scheduled.name or as_str(details, "flow_name")
                    scheduled.parent_flow = scheduled.parent_flow or parent
                    scheduled.queue = scheduled.queue or as_str(details, "queue")
                return
        if not in_flow or flow_id is None:
            return
        flow = flows[flow_id]
        if event in _DISPATCHER_EVENTS:
            flow.apply(record)
        elif task_id is not None and task_id != flow_id:
            flow.task(task_id, record.ts).apply(record)
        else:
            flow.apply(record)

    def result(self) -> FlowRun | TaskRun | None:
        """The wanted flow or task, or ``None`` when no event named it."""
        if self.ident is None:
            return None
        flow = self.flows[self.ident]
        if flow.seen:
            return flow
        if self._task_seen:
            return self.task
        return flow if flow.scheduled is not None else None


@dataclass(frozen=True, slots=True)
class LatestFlow:
    """The flow :func:`latest_flow` picked, and why (for the message that names it)."""

    flow_id: str
    finished: bool
    """True: the top-level flow that finished last; False: none finished, the most recently active."""


_RECENT_ENDS: Final = 64
"""Latest flow ends remembered: enough to find the latest top-level one among subflows ending."""


def latest_flow(records: Iterable[Record]) -> LatestFlow | None:
    """Return the top-level flow a person most likely means: the one that finished last.

    When no flow finished, the flow with the most recent event (of its dispatcher or of one of its
    tasks) is chosen. A subflow is walked up to its top-level flow. Remembers the parent of each
    subflow seen and the latest few flow ends, so memory does not grow with the number of events.
    """
    ends: list[tuple[float, str]] = []  # min-heap of the latest FLOW_END / FLOW_FAILURE
    active: tuple[float, str] | None = None
    parents: dict[str, str] = {}
    for ts, event, details, _ in records:
        flow_id = as_str(details, "dispatcher_id")
        if flow_id is None:
            continue
        if active is None or ts >= active[0]:
            active = (ts, flow_id)
        parent = as_str(details, "parent_dispatcher_id")
        if event == SUBFLOW_SCHEDULE:
            child = as_str(details, "task_id") or flow_id
            parent = parent or (flow_id if flow_id != child else None)
            flow_id = child
        if parent is not None and parent != flow_id:
            parents[flow_id] = parent
        if event in (FLOW_END, FLOW_FAILURE):
            if len(ends) < _RECENT_ENDS:
                heapq.heappush(ends, (ts, flow_id))
            else:
                heapq.heappushpop(ends, (ts, flow_id))
    top_level = [entry for entry in ends if entry[1] not in parents]
    if top_level:
        return LatestFlow(max(top_level)[1], finished=True)
    chosen = max(ends)[1] if ends else (active[1] if active else None)
    if chosen is None:
        return None
    seen: set[str] = set()
    while chosen in parents and chosen not in seen:
        seen.add(chosen)
        chosen = parents[chosen]
    return LatestFlow(chosen, finished=bool(ends) and chosen in {flow for _, flow in ends})
