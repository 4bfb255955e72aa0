"""The OpenTelemetry sink: spans from the trace events, in the application's trace or one of their own.

Needs the ``otel`` extra. Configuration: ``{"otel": {"endpoint": "http://collector:4318"}}`` (see
``docs/opentelemetry.md``).

- a CONSUMER span ``run/<task>`` per task attempt (TASK_START to its TASK_END, TASK_FAILURE or
  TASK_RETRY), current while the task runs; a PRODUCER span ``apply_async/<task>`` per TASK_SCHEDULE,
  whose context travels in the message (``traceparent``, ``tracestate``): the sink has
  ``uses_message``, so it gets the outgoing headers at TASK_SCHEDULE and the request's fields, headers
  among them, at TASK_START;
- a span per flow parenting its dispatcher executions and nodes (:mod:`.flows`);
- a canvas (``root_id`` on the events, when present) with no context of its own joins its root's trace,
  a group's members that of the group's span (:mod:`.canvas`);
- failures set an error status and an `exception` event written from the masked details (never the
  exception's own text, which would hold what they mask); other events are span events of the running
  attempt or execution (or of the application's current span);
- a ``Task.replace`` replacement (it inherits the task's id) gets its own publish and attempt spans,
  ``run/<replacement>`` with ``selinon.replaces``: never merged with the replaced attempt's span;
- a message revoked, expired or rejected ends the publish's trace with a zero-length CONSUMER span
  ``revoked/<task>`` (``expired/``, ``rejected/``), a pool process lost is a span under its attempt's
  failure, the worker's and beat's own events are no spans (:mod:`.fates`);
- with ``opentelemetry-instrumentation-celery`` active, its spans are the task spans (:mod:`.enrich`).

Spans are exported by a background batch processor; :meth:`OtelSink.flush` (called when a pool process
exits) waits for it, bounded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.propagate import extract, inject

from ...core.record import Record, caller_record, current_exception, current_message, event_name
from ..flow_starts import FlowStarts, worker_directory
from . import fates, flows
from .canvas import Groups, fallback_parent, root_span_id
from .enrich import PENDING, Pending, enrich_current, install_enricher, instrumented
from .ids import span_id_of, trace_id_of
from .provider import Tracing
from .running import CURRENT, OpenSpans, Running, finish_stale
from .spans import (
    CONSUMER,
    PRODUCER,
    attempt_key,
    end_attributes,
    error,
    event_attributes,
    exception_event,
    nanos,
    number,
    remote,
    span_attributes,
)

__all__ = ["DEFAULT_SHUTDOWN_TIMEOUT", "DEFAULT_TIMEOUT", "OtelSink"]

DEFAULT_TIMEOUT: Final = 5.0  # seconds one export may take (the exporter's HTTP timeout)
DEFAULT_SHUTDOWN_TIMEOUT: Final = 2.0  # seconds flush() waits at a pool process's exit

TASK_SCHEDULE, SUBFLOW_SCHEDULE = number("TASK_SCHEDULE"), number("SUBFLOW_SCHEDULE")
TASK_START, TASK_END = number("TASK_START"), number("TASK_END")
TASK_FAILURE, TASK_RETRY = number("TASK_FAILURE"), number("TASK_RETRY")

Handler = Callable[["OtelSink", int, dict[str, Any], int], None]


class OtelSink:
    """Trace events as OpenTelemetry spans (see the module docstring).

    ``endpoint`` (OTLP/HTTP, ``http://host:4318`` or the full ``.../v1/traces`` URL; default: the
    exporter's, from ``OTEL_EXPORTER_OTLP_*``), ``service_name`` and ``headers`` configure the
    provider the sink makes when the application set none; ``timeout`` bounds one export,
    ``shutdown_timeout`` the flush at exit.

    >>> sink = OtelSink(endpoint="http://127.0.0.1:4318", service_name="worker")  # doctest: +SKIP
    """

    __slots__ = ("flows", "groups", "key", "lost", "shutdown_timeout", "starts", "tasks", "tracing")
    uses_message = True  # the message's headers carry the trace context across the broker

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        service_name: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> None:
        self.tracing = Tracing(endpoint, service_name, headers, float(timeout))
        self.shutdown_timeout = float(shutdown_timeout)
        self.key: Hashable = ("otel",)
        self.tasks = OpenSpans()  # task id -> the running attempt's span
        self.flows = OpenSpans()  # dispatcher id -> the running execution's span
        self.starts = FlowStarts()
        self.groups = Groups()  # the group spans this process exported
        self.lost = fates.Lost()  # pool processes lost, matched with their attempts' failures
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self.tasks.reset()
        self.flows.reset()
        self.groups.reset()
        self.lost.reset()
        CURRENT.set(None)

    def on_worker_start(self) -> None:
        """In the worker's main process, before the pool forks: share flow starts among its processes."""
        self.starts.use_directory(worker_directory("selinon-otel-flows-"))

    # -- events ---------------------------------------------------------------------------------

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def receive(self, event: int, record: Record) -> None:
        details = record["details"]
        if not isinstance(details, dict):
            details = {"details": details}
        handler = _HANDLERS.get(event)
        when = nanos(record["time"])
        if handler is not None:
            handler(self, event, details, when)
        else:
            self._span_event(event, details, when)

    def _span_event(self, event: int, details: dict[str, Any], when: int) -> None:
        running = self.tasks.get(attempt_key(details)) or self.flows.get(details.get("dispatcher_id"))
        span = running.recording() if running is not None else None
        if span is None:
            current = trace.get_current_span()
            span = current if current.is_recording() else None
        if span is not None:
            span.add_event(event_name(event), event_attributes(details), timestamp=when)

    def _schedule(self, event: int, details: dict[str, Any], when: int) -> None:
        # Selinon's own SUBFLOW_SCHEDULE names the flow it starts child_flow_name (ours: task_name).
        name = details.get("task_name") or details.get("child_flow_name") or "task"
        attributes = span_attributes(event_name(event), details, "publish")
        if instrumented():
            pending = Pending(PRODUCER, str(name), attributes, None)
            if not enrich_current(pending) and self._enricher():
                PENDING.set(pending)
            return
        task_id, flow, root = details.get("task_id"), details.get("dispatcher_id"), details.get("root_id")
        outer = trace.get_current_span().get_span_context().is_valid
        context: Any = None  # the current context
        ids: dict[str, int] = {}
        links: tuple[trace.Link, ...] = ()
        if isinstance(task_id, str) and task_id == flow:  # a flow is submitted: its span is known
            links = (trace.Link(flows.remote_context(flow)),)
            if not outer:
                context, links = remote(trace_id_of(flow), span_id_of("flow", flow)), ()
        elif not outer and isinstance(root, str):  # a canvas member with no context: its root's trace
            group = details.get("group_id")
            if root == task_id and isinstance(group, str):  # a group's member: under the group's span
                context = self.groups.parent(self.tracing, group, when)
            if context is None and root == task_id:
                context = context_api.Context()
                ids = {"trace_id": trace_id_of(root), "span_id": root_span_id(root)}
            elif context is None:
                context = remote(trace_id_of(root), root_span_id(root))
        span = self.tracing.start(
            f"apply_async/{name}",
            context=context,
            kind=PRODUCER,
            attributes=attributes,
            links=links,
            start_time=when,
            **ids,
        ) or self.tracing.start(f"apply_async/{name}", context=context, kind=PRODUCER, start_time=when)
        headers = current_message()
        if isinstance(headers, dict):
            inject(headers, context=trace.set_span_in_context(span))
        span.end(end_time=when)

    def _start(self, event: int, details: dict[str, Any], when: int) -> None:
        task_id = details.get("task_id")
        if not isinstance(task_id, str):
            return
        key = attempt_key(details)
        name = str(details.get("task_name") or "task")
        if instrumented():
            attributes = span_attributes("TASK_END", details, "process")  # until a failure says otherwise
            found = lambda span: self.tasks.put(Running(key, span, None, False, self.tasks))  # noqa: E731
            if self._enricher():
                PENDING.set(Pending(CONSUMER, name, attributes, found))
            return
        fields = current_message()
        if not (isinstance(fields, dict) and fields.get("is_eager")):
            finish_stale()  # an eager task runs inside another: that one is not stale
        parent = extract(fields) if isinstance(fields, dict) else context_api.Context()
        if not trace.get_current_span(parent).get_span_context().is_valid:
            parent = fallback_parent(details, task_id)
        span = self.tracing.start(
            f"run/{name}",
            context=parent,
            kind=CONSUMER,
            attributes=span_attributes(event_name(event), details, "process"),
            start_time=when,
        )
        running = Running(key, span, context_api.attach(trace.set_span_in_context(span)), True, self.tasks)
        self.tasks.put(running)
        CURRENT.set(running)

    def _end(self, event: int, details: dict[str, Any], when: int) -> None:
        task_id = details.get("task_id")
        running = self.tasks.pop(attempt_key(details))
        PENDING.set(None)
        exc = current_exception()
        if running is None:
            if event != TASK_END and isinstance(task_id, str) and not instrumented():
                self._unseen_attempt(event, details, exc, when)  # the main process reports it
            return
        span = running.recording()
        if span is not None:
            if running.ours:
                span.set_attributes(end_attributes(event_name(event), details))
            else:  # the instrumentation's span: it had only what TASK_START knew
                span.set_attributes(span_attributes(event_name(event), details, None))
            if event == TASK_RETRY:
                span.add_event(event_name(event), event_attributes(details), timestamp=when)
                if exc is not None and running.ours:
                    exception_event(span, details, exc, when)
            elif event == TASK_FAILURE:
                if running.ours:
                    error(span, details, exc, when)
                else:  # the instrumentation recorded the exception and the status itself
                    span.add_event(event_name(event), event_attributes(details), timestamp=when)
        running.finish(when)

    def _unseen_attempt(self, event: int, details: dict[str, Any], exc: Any, when: int) -> None:
        # A failure reported by the worker's main process (hard time limit, lost worker, Reject): the
        # attempt's own span, if any, was in the pool process; this one records the failure.
        span = self.tracing.start(
            f"run/{details.get('task_name') or 'task'}",
            context=fallback_parent(details, str(details.get("task_id"))),
            kind=CONSUMER,
            attributes=span_attributes(event_name(event), details, "process"),
            start_time=when,
        )
        error(span, details, exc, when)
        span.end(end_time=when)
        if isinstance(details.get("exc_type"), str) and details["exc_type"] == "WorkerLostError":
            self.lost.failed(self, str(details.get("task_id")), span)

    def _enricher(self) -> bool:
        self.tracing.get()
        return install_enricher(self.tracing.provider)

    # -- lifecycle ------------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Export the spans still queued, waiting at most ``timeout`` (default ``shutdown_timeout``)."""
        self.tracing.flush(self.shutdown_timeout if timeout is None else timeout)

    def close(self) -> None:
        """Flush, and shut down the provider the sink made (never the application's)."""
        self.tracing.close(self.shutdown_timeout)

    def __repr__(self) -> str:
        return f"OtelSink(endpoint={self.tracing.endpoint!r})"


def _wakeup(sink: OtelSink, event: int, details: dict[str, Any], when: int) -> None:
    flows.wakeup(sink, event, details, when, instrumented())


_HANDLERS: dict[int, Handler] = {
    TASK_SCHEDULE: OtelSink._schedule,
    SUBFLOW_SCHEDULE: OtelSink._schedule,
    TASK_START: OtelSink._start,
    TASK_END: OtelSink._end,
    TASK_FAILURE: OtelSink._end,
    TASK_RETRY: OtelSink._end,
    number("DISPATCHER_WAKEUP"): _wakeup,
    number("FLOW_START"): flows.flow_start,
    number("DISPATCHER_RETRY"): flows.execution_end,
    number("DISPATCHER_FAILURE"): flows.dispatcher_failure,
    number("FLOW_END"): flows.flow_end,
    number("FLOW_FAILURE"): flows.flow_end,
    **dict.fromkeys(fates.FATES, fates.fate),
    number("WORKER_PROCESS_LOST"): fates.process_lost,
    **dict.fromkeys(fates.NO_SPAN, fates.no_span),
}
