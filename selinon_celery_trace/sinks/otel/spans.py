"""What the OpenTelemetry sink writes on spans: names, attributes, span events, errors.

Messaging semantic conventions where they exist (``messaging.system``, ``messaging.destination.name``,
``messaging.message.id``, ``messaging.operation.type``), ``selinon.*`` for the rest. Details are the
adapters' JSON-safe values; attributes take only scalars, so anything else is written as bounded JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from ...core import catalogue
from ...core.record import aware, dumps

__all__ = [
    "CONSUMER",
    "INTERNAL",
    "PRODUCER",
    "attempt_key",
    "end_attributes",
    "error",
    "event_attributes",
    "exception_event",
    "nanos",
    "number",
    "remote",
    "scalar",
    "span_attributes",
]

CONSUMER: Final = trace.SpanKind.CONSUMER
PRODUCER: Final = trace.SpanKind.PRODUCER
INTERNAL: Final = trace.SpanKind.INTERNAL

_VALUE_LIMIT: Final = 1024  # characters of a non-scalar detail written as JSON in a span event
_SKIPPED: Final = frozenset({"node_args", "what", "result", "state_dict"})  # big, or said elsewhere
# Details that become span attributes (the rest of an event's details go on its span event).
_SPAN_KEYS: Final = (
    "task_name",
    "flow_name",
    "dispatcher_id",
    "parent_dispatcher_id",
    "node_name",
    "retried_count",
    "parent",
    "hostname",
    "queue_wait",
    "runtime",
    "state",
    "exc_type",
    "root_id",
    "group_id",
    "replaces",
    "replacement",
    "expires",
)


def number(name: str) -> int:
    """An event's number, by its catalogue name."""
    return catalogue.BY_NAME[name].number


def nanos(time: datetime) -> int:
    """A record's time as OpenTelemetry's nanoseconds since the epoch."""
    return int(aware(time).timestamp() * 1_000_000_000)


def scalar(value: Any) -> Any:
    """``value`` as an attribute takes it: a scalar as it is, anything else as bounded JSON text."""
    if isinstance(value, (str, bool, int, float)):
        return value
    text = dumps(value).decode("utf-8", "backslashreplace")
    return text if len(text) <= _VALUE_LIMIT else text[:_VALUE_LIMIT] + "...[truncated]"


def span_attributes(event: str, details: dict[str, Any], operation: str | None) -> dict[str, Any]:
    """The attributes of a task, publish, flow or dispatcher span from an event's details."""
    found: dict[str, Any] = {"selinon.event": event}
    if operation is not None:
        found["messaging.system"] = "celery"
        found["messaging.operation.type"] = operation
        task_id = details.get("task_id")
        if isinstance(task_id, str):
            found["messaging.message.id"] = task_id
        queue = details.get("queue")
        if isinstance(queue, str):
            found["messaging.destination.name"] = queue
    for key in _SPAN_KEYS:
        value = details.get(key)
        if value is not None:
            found[f"selinon.{key}"] = scalar(value)
    periodic = details.get("periodic")  # celery beat sent it: which entry, on which schedule
    if isinstance(periodic, dict):
        for key in ("entry", "schedule"):
            if periodic.get(key) is not None:
                found[f"selinon.periodic.{key}"] = scalar(periodic[key])
    return found


_END_KEYS: Final = ("runtime", "state", "exc_type", "replaced_by")


def end_attributes(event: str, details: dict[str, Any]) -> dict[str, Any]:
    """What the end of an attempt adds to the attributes its start set."""
    found: dict[str, Any] = {"selinon.event": event}
    for key in _END_KEYS:
        value = details.get(key)
        if value is not None:
            found[f"selinon.{key}"] = scalar(value)
    return found


def event_attributes(details: dict[str, Any]) -> dict[str, Any]:
    """The attributes of a span event: every detail but the big ones, scalars or bounded JSON."""
    return {
        f"selinon.{key}": scalar(value)
        for key, value in details.items()
        if value is not None and key not in _SKIPPED
    }


def exception_event(span: Any, details: dict[str, Any], exc: BaseException | None, when: int) -> str:
    """Add the span event ``exception`` (OpenTelemetry's attributes) from the details; the failure's text.

    Written from the adapters' details, which are masked (``what`` is the traceback with secrets
    masked), never from the live exception's ``str()`` or a fresh traceback of it, as
    ``Span.record_exception`` would: those hold the secrets the details mask. The live exception, when
    there is one, gives only its type.
    """
    what = details.get("what")
    last = ""
    if isinstance(what, str):
        lines = [line.strip() for line in what.strip().splitlines() if line.strip()]
        last = lines[-1] if lines else ""
    if exc is not None:
        module, qualname = type(exc).__module__, type(exc).__qualname__
        exc_type = f"{module}.{qualname}" if module and module != "builtins" else qualname
    else:
        exc_type = str(details.get("exc_type") or "error")
    message = last
    for prefix in (f"{exc_type}:", f"{exc_type.rsplit('.', 1)[-1]}:"):  # "ValueError: boom" -> "boom"
        if message.startswith(prefix):
            message = message[len(prefix) :].strip()
            break
    attributes = {"exception.type": exc_type, "exception.message": message}
    if isinstance(what, str):
        attributes["exception.stacktrace"] = what
    span.add_event("exception", attributes, timestamp=when)
    return last or exc_type


def error(span: Any, details: dict[str, Any], exc: BaseException | None, when: int) -> None:
    """Mark ``span`` failed: error status and the exception event (see :func:`exception_event`)."""
    description = exception_event(span, details, exc, when) or "failed"
    span.set_status(Status(StatusCode.ERROR, description[:_VALUE_LIMIT]))


def remote(trace_id: int, span_id: int, trace_state: Any = None) -> Any:
    """A context whose current span is the (remote) span ``span_id`` of trace ``trace_id``."""
    context = trace.SpanContext(
        trace_id,
        span_id,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        trace_state=trace_state,
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(context))


def attempt_key(details: dict[str, Any]) -> Any:
    """The key of a task attempt's open span: its task id, and a replacement's nesting (``Task.replace``
    reuses the task id: the replacement's attempt may run while the replaced one's span is open)."""
    task_id, replacement = details.get("task_id"), details.get("replacement")
    if replacement and isinstance(task_id, str):
        return f"{task_id}/replacement-{replacement}"
    return task_id
