"""Joining ``opentelemetry-instrumentation-celery``'s trace instead of making a second one.

When its ``CeleryInstrumentor`` is active in the process, it makes the task spans (``run/<task>``,
``apply_async/<task>``) and carries ``traceparent`` in the messages itself; the sink then makes no task
span and injects nothing, and puts our attributes and events on its spans:

- its ``run`` span starts inside Celery's task tracer, just after our TASK_START, and ends before our
  TASK_END: a span processor on its tracer provider (:class:`Enricher`) gives the next span of that kind
  and name started in the same context the attributes TASK_START left pending;
- its ``apply_async`` span is current during ``before_task_publish`` if its receiver ran before ours
  (we enrich it at once), or starts just after ours (the processor enriches it);
- TASK_RETRY, TASK_FAILURE and the events a task logs happen while its span runs: span events on it.

Detecting it reads the instrumentor's singleton only when its module is already imported (importing it
ourselves would import Celery into a sink), at each task and publish, so instrumenting after install
works too.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor

__all__ = ["Enricher", "Pending", "enrich_current", "install_enricher", "instrumented"]

_MODULE = "opentelemetry.instrumentation.celery"


def instrumented() -> bool:
    """True while OpenTelemetry's CeleryInstrumentor is instrumenting this process."""
    module = sys.modules.get(_MODULE)
    if module is None:
        return False
    instance = getattr(getattr(module, "CeleryInstrumentor", None), "_instance", None)
    return getattr(instance, "is_instrumented_by_opentelemetry", False) is True


class Pending:
    """Attributes waiting for the instrumentation's next span of ``kind`` named ``.../<name>``."""

    __slots__ = ("attributes", "found", "kind", "name")

    def __init__(
        self, kind: Any, name: str, attributes: dict[str, Any], found: Callable[[Any], None] | None
    ) -> None:
        self.kind = kind
        self.name = name
        self.attributes = attributes
        self.found = found

    def matches(self, span: Any) -> bool:
        name = getattr(span, "name", "")
        return getattr(span, "kind", None) == self.kind and isinstance(name, str) and name.endswith(self.name)


PENDING: ContextVar[Pending | None] = ContextVar("selinon_trace_otel_pending", default=None)


class Enricher(SpanProcessor):
    """Give the instrumentation's span its pending attributes as it starts (a no-op otherwise)."""

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pending = PENDING.get()
        if pending is None or not pending.matches(span):
            return
        PENDING.set(None)
        try:
            span.set_attributes(pending.attributes)
            if pending.found is not None:
                pending.found(span)
        except Exception:  # never break the application's span
            pass

    def on_end(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_enriched: weakref.WeakSet[Any] = weakref.WeakSet()  # providers our Enricher was added to


def install_enricher(provider: Any) -> bool:
    """Add an :class:`Enricher` to ``provider`` once; False when it takes no span processors."""
    if provider in _enriched:
        return True
    add = getattr(provider, "add_span_processor", None)
    if not callable(add):
        return False
    add(Enricher())
    _enriched.add(provider)
    return True


def enrich_current(pending: Pending) -> bool:
    """Enrich the current span now if it is the one ``pending`` waits for (its receiver ran first)."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording() and pending.matches(span):
        span.set_attributes(pending.attributes)
        if pending.found is not None:
            pending.found(span)
        return True
    return False
