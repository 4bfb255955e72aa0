"""The spans the OpenTelemetry sink holds open: task attempts and dispatcher executions, bounded.

An open span lives from TASK_START (or DISPATCHER_WAKEUP) to the attempt's (or execution's) end event,
in a map by task (or dispatcher) id that never holds more than :data:`LIMIT` entries; it is taken out at
its end event. The one whose context we made current is also noted per context (:data:`CURRENT`): an
attempt that never got its end event here (a ``Reject`` the main process reports, tracing switched off
mid-task) is ended when the next one starts in that thread, so no stale context stays current.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any, Final

from opentelemetry import context as context_api

__all__ = ["CURRENT", "LIMIT", "OpenSpans", "Running"]

LIMIT: Final = 1024


class Running:
    """One open span: a task attempt or a dispatcher execution (ours, or the instrumentation's)."""

    __slots__ = (
        "done",
        "exact",
        "flow_parent",
        "key",
        "ours",
        "parent_span",
        "previous",
        "span",
        "start_ns",
        "table",
        "token",
        "trace_id",
        "wakeup_ns",
    )

    def __init__(self, key: str, span: Any, token: Any, ours: bool, table: OpenSpans) -> None:
        self.key = key
        self.span = span  # None: nothing to write on (a span that does not record)
        self.token = token  # what attach() returned, when we made the span's context current
        self.ours = ours  # True: we started the span and end it
        self.table = table
        self.done = False
        self.previous = CURRENT.get()  # an eager task runs inside another: restored at the end
        # Dispatcher executions only: the flow's trace, its span's parent, start and wake-up time.
        self.trace_id = 0
        self.parent_span = 0
        self.start_ns = 0
        self.wakeup_ns = 0
        self.exact = False  # start_ns is the flow's first wake-up (not a stand-in)
        self.flow_parent: str | None = None

    def recording(self) -> Any:
        """The span, when events and attributes can still be written on it."""
        span = self.span
        return span if span is not None and span.is_recording() else None

    def finish(self, end_ns: int | None, abandoned: bool = False) -> None:
        """End our span (at ``end_ns``) and restore the context it replaced; once."""
        if self.done:
            return
        self.done = True
        self.table.discard(self.key, self)
        span = self.recording()
        if span is not None and self.ours:
            if abandoned:
                span.set_attribute("selinon.unfinished", True)
            span.end(end_time=end_ns)
        if self.token is not None:
            token, self.token = self.token, None
            try:
                context_api.detach(token)
            except Exception:
                pass
        previous, self.previous = self.previous, None
        if CURRENT.get() is self:
            CURRENT.set(previous if previous is not None and not previous.done else None)


CURRENT: ContextVar[Running | None] = ContextVar("selinon_trace_otel_current", default=None)


def finish_stale() -> None:
    """End the span still current in this context from an attempt whose end never came here."""
    stale = CURRENT.get()
    if stale is not None:
        stale.finish(None, abandoned=True)
        CURRENT.set(None)


class OpenSpans:
    """Open spans by id, at most :data:`LIMIT` (the oldest ended first), safe across threads."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._by_id: OrderedDict[str, Running] = OrderedDict()

    def reset(self) -> None:
        """Forget everything (a forked child: the parent's spans are not its own)."""
        self._lock = threading.Lock()
        self._by_id = OrderedDict()

    def put(self, running: Running) -> None:
        evicted = []
        with self._lock:
            old = self._by_id.pop(running.key, None)
            if old is not None:
                evicted.append(old)
            self._by_id[running.key] = running
            while len(self._by_id) > self.limit:
                evicted.append(self._by_id.popitem(last=False)[1])
        for old in evicted:
            old.finish(None, abandoned=True)

    def get(self, key: Any) -> Running | None:
        if not isinstance(key, str):
            return None
        with self._lock:
            return self._by_id.get(key)

    def pop(self, key: Any) -> Running | None:
        if not isinstance(key, str):
            return None
        with self._lock:
            return self._by_id.pop(key, None)

    def discard(self, key: str, running: Running) -> None:
        with self._lock:
            if self._by_id.get(key) is running:
                del self._by_id[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)
