"""A message's fate in its trace: a zero-length CONSUMER span ``revoked/<task>``, ``expired/``, ``rejected/``.

The publish's PRODUCER span ended when the message was sent (and was exported long ago, perhaps by
another host), so nothing can be added to it. The worker that drops the message (its main process,
where TASK_REVOKED, TASK_EXPIRED and TASK_REJECTED are emitted) ends the trace instead with a span of
its own, a child of the publish (its context is read from the message's headers, as an attempt's
would be, else the canvas's or flow's): kind CONSUMER, ``messaging.operation.type`` ``settle`` (the
message was settled without being processed), ``selinon.fate`` and the event's facts as attributes, the
event as a span event, and an error status for ``expired`` and ``rejected`` (work that was asked for and
never done), none for ``revoked`` (someone chose it). A revoke that terminated an attempt running in
this process (a thread or solo pool) ends that attempt's span instead.

A pool process lost while it ran a task: the worker's main process reports the attempt's failure
(TASK_FAILURE, WorkerLostError, a span of :meth:`OtelSink._unseen_attempt`) and WORKER_PROCESS_LOST, in
either order; the lost process becomes a zero-length INTERNAL span ``worker_process_lost`` under that
failure. The worker's and beat's own lives (WORKER_ONLINE, WORKER_OFFLINE, an idle process lost,
BEAT_START, BEAT_LATE) belong to no request's trace: they are not spans (the metrics sink and the log
sinks carry them).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Final

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import Status, StatusCode

from ...core.record import current_message, event_name
from .canvas import fallback_parent
from .spans import CONSUMER, INTERNAL, attempt_key, event_attributes, number, scalar, span_attributes

__all__ = ["FATES", "NO_SPAN", "Lost", "fate", "no_span", "process_lost"]

FATES: Final = {
    number("TASK_REVOKED"): "revoked",
    number("TASK_EXPIRED"): "expired",
    number("TASK_REJECTED"): "rejected",
}
NO_SPAN: Final = frozenset(
    number(name) for name in ("WORKER_ONLINE", "WORKER_OFFLINE", "BEAT_START", "BEAT_LATE")
)
"""The worker's and beat's own events: in no request's trace."""
_FACTS: Final = ("terminated", "signal", "reason", "expires", "late", "kind", "exc_type")
_KEPT: Final = 64  # lost processes / failure spans remembered until their other half arrives


def _parent(details: dict[str, Any]) -> Any:
    fields = current_message()
    parent = extract(fields) if isinstance(fields, dict) else context_api.Context()
    task_id = details.get("task_id")
    if not trace.get_current_span(parent).get_span_context().is_valid and isinstance(task_id, str):
        parent = fallback_parent(details, task_id)
    return parent


def _why(kind: str, details: dict[str, Any]) -> str:
    reason = details.get("reason")
    if kind == "expired" and isinstance(details.get("late"), (int, float)):
        return f"expired {details['late']}s past its deadline {details.get('expires')}"
    return f"{kind}: {reason}" if isinstance(reason, str) and reason else kind


def fate(sink: Any, event: int, details: dict[str, Any], when: int) -> None:
    """End the message's trace with its fate (see the module docstring)."""
    kind = FATES[event]
    name = event_name(event)
    facts = {f"selinon.{key}": scalar(details[key]) for key in _FACTS if details.get(key) is not None}
    facts["selinon.fate"] = kind
    running = sink.tasks.pop(attempt_key(details))
    if running is not None:  # an attempt of this process, terminated: its own span ends with the fate
        span = running.recording()
        if span is not None:
            span.set_attributes({"selinon.event": name, **facts})
            span.add_event(name, event_attributes(details), timestamp=when)
        running.finish(when)
        return
    attributes = {**span_attributes(name, details, "settle"), **facts}
    span = sink.tracing.start(
        f"{kind}/{details.get('task_name') or 'message'}",
        context=_parent(details),
        kind=CONSUMER,
        attributes=attributes,
        start_time=when,
    )
    span.add_event(name, event_attributes(details), timestamp=when)
    if kind != "revoked":
        span.set_status(Status(StatusCode.ERROR, _why(kind, details)[:1024]))
    span.end(end_time=when)


class Lost:
    """The two halves of a lost pool process: its attempt's failure span and WORKER_PROCESS_LOST."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, Any] = OrderedDict()  # task id -> failure span context
        self._lost: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()  # task id -> event

    def reset(self) -> None:
        """Forget both (a forked child has its own)."""
        with self._lock:
            self._failures.clear()
            self._lost.clear()

    @staticmethod
    def _keep(table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        if len(table) > _KEPT:
            table.popitem(last=False)

    def failed(self, sink: Any, task_id: str, span: Any) -> None:
        """An attempt's failure span the main process made: the process lost, if already told, under it."""
        with self._lock:
            lost = self._lost.pop(task_id, None)
            if lost is None:
                self._keep(self._failures, task_id, span.get_span_context())
        if lost is not None:
            _lost_span(sink, span.get_span_context(), *lost)

    def lost(self, sink: Any, details: dict[str, Any], when: int) -> None:
        """WORKER_PROCESS_LOST: under its attempt's failure span, now or when that span is made."""
        task_id = details.get("task_id")
        if not isinstance(task_id, str):
            return  # an idle process: no request's trace to put it in
        with self._lock:
            context = self._failures.pop(task_id, None)
            if context is None:
                self._keep(self._lost, task_id, (details, when))
        if context is not None:
            _lost_span(sink, context, details, when)


def _lost_span(sink: Any, parent: Any, details: dict[str, Any], when: int) -> None:
    span = sink.tracing.start(
        "worker_process_lost",
        context=trace.set_span_in_context(trace.NonRecordingSpan(parent)),
        kind=INTERNAL,
        attributes={"selinon.event": "WORKER_PROCESS_LOST", **event_attributes(details)},
        start_time=when,
    )
    span.end(end_time=when)


def process_lost(sink: Any, event: int, details: dict[str, Any], when: int) -> None:
    """The handler of WORKER_PROCESS_LOST (see :class:`Lost`)."""
    sink.lost.lost(sink, details, when)


def no_span(sink: Any, event: int, details: dict[str, Any], when: int) -> None:
    """The worker's and beat's own events: not part of any request's trace."""
