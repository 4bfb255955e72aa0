"""Flow spans: one per flow, from its first DISPATCHER_WAKEUP to FLOW_END / FLOW_FAILURE.

A flow runs as many dispatcher executions, each possibly in another process or on another host, so its
span is exported once, by the process that runs the execution ending the flow, with explicit start and
end times, and a span id every process computes from the dispatcher id (:mod:`.ids`). Everything of the
flow is its descendant:

- **On its own** (no Celery instrumentation): each dispatcher execution is a ``run/<flow>`` CONSUMER span,
  child of the flow's span, current while it runs, so the nodes it publishes (PRODUCER spans, then the
  nodes' CONSUMER spans across the broker) hang below it. A flow is a trace of its own (its trace id
  comes from its dispatcher id too); a subflow's span links to its parent flow's span, and the parent's
  SUBFLOW_SCHEDULE span links to it. The start is the first wake-up's time, as the process ending the
  flow knows it (:class:`~selinon_celery_trace.sinks.flow_starts.FlowStarts`), else that execution's
  wake-up, and ``selinon.start_exact`` is false.
- **With the instrumentation**: its ``run`` span of each execution is the execution; during it the
  flow's span context is made current, so the spans it makes for the nodes' (and the dispatcher's own
  retry's) messages are children of the flow's span, in its trace. The ``tracestate`` of that context
  carries the flow's start and its span's parent (its first ``run`` span, or the parent flow's span for
  a subflow) to every later execution, on any host, so the start is exact and subflows nest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import context as context_api
from opentelemetry import trace

from ...core.record import current_exception, event_name
from .ids import ENTRY, entry, parse_entry, span_id_of, trace_id_of
from .running import CURRENT, Running
from .spans import CONSUMER, INTERNAL, error, event_attributes, number, remote, span_attributes

if TYPE_CHECKING:
    from . import OtelSink

__all__ = ["dispatcher_failure", "execution_end", "flow_end", "flow_start", "wakeup"]

FLOW_FAILURE = number("FLOW_FAILURE")


def _flow_id(details: dict[str, Any]) -> str | None:
    flow = details.get("dispatcher_id")
    return flow if isinstance(flow, str) else None


def wakeup(sink: OtelSink, event: int, details: dict[str, Any], when: int, instrumented: bool) -> None:
    """A dispatcher execution begins: its span (or the instrumentation's), with the flow's context."""
    flow = _flow_id(details)
    if flow is None:
        return
    flow_span = span_id_of("flow", flow)
    parent_flow = details.get("parent_dispatcher_id")
    parent_flow = parent_flow if isinstance(parent_flow, str) else None
    current = trace.get_current_span()
    outer = current.get_span_context()
    name = details.get("flow_name") or "flow"
    if instrumented and outer.is_valid:
        running = Running(flow, current, None, False, sink.flows)
        running.trace_id = outer.trace_id
        carried = parse_entry(outer.trace_state.get(ENTRY), flow_span)
        if carried is not None:
            running.start_ns, running.parent_span = carried
            running.exact = True
        else:  # the first execution (or a sampler that dropped the tracestate)
            running.start_ns = when
            running.parent_span = span_id_of("flow", parent_flow) if parent_flow else outer.span_id
        state = outer.trace_state.delete(ENTRY) if ENTRY in outer.trace_state else outer.trace_state
        state = state.add(ENTRY, entry(flow_span, running.start_ns, running.parent_span))
        flow_context = trace.SpanContext(
            outer.trace_id, flow_span, is_remote=False, trace_flags=outer.trace_flags, trace_state=state
        )
        running.token = context_api.attach(trace.set_span_in_context(trace.NonRecordingSpan(flow_context)))
        span = running.recording()
        if span is not None:
            span.set_attributes(span_attributes(event_name(event), details, None))
    else:
        attributes = span_attributes(event_name(event), details, "process")
        attributes["messaging.message.id"] = flow
        span = sink.tracing.start(
            f"run/{name}",
            context=remote(trace_id_of(flow), flow_span),
            kind=CONSUMER,
            attributes=attributes,
            start_time=when,
        )
        running = Running(flow, span, None, True, sink.flows)
        running.trace_id = trace_id_of(flow)
        running.start_ns = when
        running.token = context_api.attach(trace.set_span_in_context(span))
    running.wakeup_ns = when
    running.flow_parent = parent_flow
    sink.flows.put(running)
    CURRENT.set(running)
    _event(running, event, details, when)


def _event(
    running: Running | None, event: int, details: dict[str, Any], when: int, end: bool = False
) -> None:
    span = running.recording() if running is not None else None
    if span is not None:
        span.add_event(event_name(event), event_attributes(details), timestamp=when)
        if end:  # the event that ended the execution
            span.set_attribute("selinon.event", event_name(event))


def flow_start(sink: OtelSink, event: int, details: dict[str, Any], when: int) -> None:
    """The flow's first execution: its start is this execution's wake-up (shared with the worker)."""
    flow = _flow_id(details)
    running = sink.flows.get(flow)
    if flow is None or running is None:
        return
    running.exact = True
    sink.starts.remember(flow, running.start_ns)
    _event(running, event, details, when)


def dispatcher_failure(sink: OtelSink, event: int, details: dict[str, Any], when: int) -> None:
    """The dispatcher's own code failed: an error on its execution (FLOW_FAILURE follows)."""
    running = sink.flows.get(_flow_id(details))
    _event(running, event, details, when)
    span = running.recording() if running is not None else None
    if span is not None and running is not None and running.ours:
        error(span, details, current_exception(), when)


def execution_end(sink: OtelSink, event: int, details: dict[str, Any], when: int) -> None:
    """DISPATCHER_RETRY: this execution ends (the flow goes on in a later one)."""
    running = sink.flows.pop(_flow_id(details))
    if running is not None:
        _event(running, event, details, when, end=True)
        running.finish(when)


def flow_end(sink: OtelSink, event: int, details: dict[str, Any], when: int) -> None:
    """FLOW_END / FLOW_FAILURE: the last execution ends, and the flow's span is exported."""
    flow = _flow_id(details)
    if flow is None:
        return
    running = sink.flows.pop(flow)
    shared = sink.starts.pop(flow)  # always taken, so the worker's start file goes too
    failed = event == FLOW_FAILURE
    exc = current_exception()
    if running is not None:
        _event(running, event, details, when, end=True)
        span = running.recording()
        if failed and span is not None and running.ours:
            error(span, details, exc, when)
        running.finish(when)
    exact = running is not None and running.exact and not running.ours
    if exact and running is not None:
        start = running.start_ns
    elif shared is not None:
        start, exact = shared, True
    else:
        start = running.wakeup_ns if running is not None else when
    attributes = span_attributes(event_name(event), details, None)
    attributes["selinon.start_exact"] = exact
    name = f"flow/{details.get('flow_name') or 'flow'}"
    flow_span = span_id_of("flow", flow)
    links: tuple[trace.Link, ...] = ()
    if running is not None and not running.ours:  # in the instrumentation's trace
        context = remote(running.trace_id, running.parent_span)
    else:
        parent_flow = running.flow_parent if running is not None else None
        context = context_api.Context()  # a trace of its own: no parent
        links = (trace.Link(remote_context(parent_flow)),) if parent_flow else ()
    span = sink.tracing.start(
        name,
        trace_id=trace_id_of(flow),
        span_id=flow_span,
        context=context,
        kind=INTERNAL,
        attributes=attributes,
        links=links,
        start_time=min(start, when),
    )
    if span is None:
        return
    if failed:
        error(span, details, exc, when)
    span.end(end_time=when)


def remote_context(flow: str) -> trace.SpanContext:
    """The span context of ``flow``'s span when the flow is a trace of its own."""
    return trace.SpanContext(
        trace_id_of(flow),
        span_id_of("flow", flow),
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
