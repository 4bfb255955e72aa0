"""Events handed to a thread of their own: for a process that must never wait on a sink.

A worker's main process runs Celery's event loop: every consumer, heartbeat and result of the worker
goes through it. Events it reports (a lost pool process, a hard time limit, a ``Reject``, a revoke, the
worker's own start and stop) are handed over here instead of being delivered in place: the record,
time included, is built at the call, then a daemon thread delivers it to the sinks, in a copy of the
caller's context. What the caller put beside the details so travels with them: the task message
(:func:`~.record.message_scope`, whose headers an OpenTelemetry sink reads its trace context from), the
live exception (:func:`~.record.exception_scope`) and any other context variable a sink reads. The queue
is bounded; an event that finds it full is dropped and counted (``Trace.errors()``), never waited for.

The thread is started on first use in each process (a fork does not copy it: the child starts its own),
and :func:`flush` waits for the queue to drain, for a bounded time, at exit and at worker shutdown.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import deque
from contextvars import Context, copy_context
from typing import Any, Final

from . import registry
from .record import Record, adapter_record

__all__ = ["DEFAULT_LIMIT", "emit_in_background", "flush", "pending"]

DEFAULT_LIMIT: Final = 10_000
"""Events the queue holds at most; more are dropped and counted rather than waited for."""

_EXIT_TIMEOUT: Final = 2.0  # seconds atexit waits for the queue to drain


_Item = tuple[int, Any, Record, Context]
"""(event, details, record, a copy of the caller's context: its task message and exception among it)."""


class _Handoff:
    """Global state department: this process's queue, its thread and the condition they share."""

    __slots__ = ("busy", "condition", "items", "limit", "pid", "thread")

    def __init__(self) -> None:
        self.condition = threading.Condition(threading.Lock())
        self.items: deque[_Item] = deque()
        self.limit = DEFAULT_LIMIT
        self.thread: threading.Thread | None = None
        self.busy = False  # the thread holds an item taken off the queue
        self.pid = os.getpid()

    def reset_after_fork(self) -> None:
        # The parent's thread does not exist in the child, and its lock may have been held at the fork.
        self.condition = threading.Condition(threading.Lock())
        self.items = deque()
        self.thread = None
        self.busy = False
        self.pid = os.getpid()


_state: Final = _Handoff()
os.register_at_fork(after_in_child=_state.reset_after_fork)


def emit_in_background(event: int, details: Any) -> None:
    """Like ``registry.emit``, but the sinks run on this process's hand-off thread; returns at once.

    The record's time is the call's. Never raises, never blocks on a sink: a full queue drops the event
    and counts it under ``"hand-off queue full"``.
    """
    if not registry.wants(event):
        return
    try:
        record = adapter_record(event, details)
        state = _state
        with state.condition:
            if len(state.items) >= state.limit:
                full = OverflowError(f"{state.limit} events waiting for a slow sink; this one was dropped")
            else:
                full = None
                state.items.append((event, details, record, copy_context()))
                if state.thread is None or not state.thread.is_alive():
                    state.thread = threading.Thread(target=_drain, name="selinon-trace-handoff", daemon=True)
                    state.thread.start()
                state.condition.notify()
        if full is not None:
            registry.report_internal_error("hand-off queue full", full)
    except Exception as exc:
        registry.report_internal_error("hand-off", exc)


def _drain() -> None:
    state = _state
    condition = state.condition
    while True:
        with condition:
            while not state.items:
                state.busy = False
                condition.notify_all()  # flush() waits for an empty queue and an idle thread
                condition.wait()
            event, details, record, context = state.items.popleft()
            state.busy = True
        try:
            context.run(registry.deliver, event, details, record)
        except BaseException as exc:  # a sink must never end this thread
            registry.report_internal_error("hand-off delivery", exc)


def pending() -> int:
    """Events waiting to be delivered (the one being delivered included)."""
    state = _state
    with state.condition:
        return len(state.items) + (1 if state.busy else 0)


def flush(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for every handed-off event to be delivered; True when they were."""
    state = _state
    with state.condition:
        if state.thread is None or not state.thread.is_alive():
            return not state.items
        return state.condition.wait_for(lambda: not state.items and not state.busy, timeout)


def _flush_at_exit() -> None:
    flush(_EXIT_TIMEOUT)


atexit.register(_flush_at_exit)
