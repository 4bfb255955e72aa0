"""Finding one flow or task in a stream of events: which one a person means, and its events.

:class:`Collector` keeps only the events of one flow (with its subflows) or one task and folds them into
the :mod:`.runs` tree for ``show`` and ``timeline``; :func:`latest_flow` picks the flow to draw when no
id is given.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ..reading.event_names import (
    DISPATCHER_FAILURE,
    DISPATCHER_RETRY,
    DISPATCHER_WAKEUP,
    FLOW_END,
    FLOW_FAILURE,
    FLOW_START,
    NODE_FAILURE,
    NODE_SUCCESSFUL,
    SUBFLOW_SCHEDULE,
    TASK_SCHEDULE,
    WORKER_PROCESS_LOST,
)
from ..reading.fields import as_str
from ..reading.lines import Record
from ..reading.prefilter import Needles
from .runs import FlowRun, TaskRun

__all__ = ["Collector", "LatestFlow", "latest_flow"]


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
"""The events of a flow's dispatcher itself; any other event naming the flow is one of its tasks'."""


class Collector:
    """Keep the events of one id: a flow (with its subflows, found as they are scheduled) or a task.

    ``wanted`` may be the start of an id (the short ids other views print): the first
    ``dispatcher_id`` or ``task_id`` that starts with it is the one kept, and any other id that also
    starts with it is listed in :attr:`ambiguous`. Whether the id names a flow or a task is only known
    from the events, so both are tried and :meth:`result` picks: a flow when its dispatcher or any of
    its tasks was seen, else the task.

    Every event it keeps names ``wanted`` (by an id starting with it) or one of the subflows found:
    :attr:`needles` holds those ids as they are learned, for a reader that skips the other lines.
    """

    def __init__(self, wanted: str, needles: Needles | None = None) -> None:
        self.wanted = wanted
        self.needles = Needles([wanted]) if needles is None else needles
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
        if task_id == self.ident and (event.startswith("TASK_") or event == WORKER_PROCESS_LOST):
            self._task_seen = True
            self.task.apply(record)
        if event in (TASK_SCHEDULE, SUBFLOW_SCHEDULE) and task_id is not None:
            parent = as_str(details, "parent_dispatcher_id")
            if parent is None and flow_id != task_id:
                parent = flow_id
            if event == SUBFLOW_SCHEDULE and parent in flows and task_id not in flows:
                child = flows[task_id] = FlowRun(task_id, parent_flow=parent)
                self.needles.add(task_id)  # the subflow's own events name it, not its parent
                flows[parent].subflows[task_id] = child
                flows[parent].touch(record.ts)
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
