"""The worker says whether it traces: one line when it is ready (``worker_ready``, its main process).

A worker that traces logs one INFO line naming each sink and where it writes (a file path, a logger, the
metrics port, the OTLP endpoint, the Sentry DSN without its keys); one whose configuration traces nothing
(``imports`` lists ``selinon_celery_trace.auto`` while ``selinon_trace`` is empty, or every event is
muted) logs a WARNING instead, so a missing setting shows in the worker's log rather than as an empty
trace. Sent at ``worker_ready``, when Celery's logging is set up (``worker_init`` comes before it). Any
credentials in a URL are masked.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

from ..core import catalogue, registry
from ..core.registry import Sink, report_internal_error
from ..sinks.jsonl import JsonFileSink, JsonStreamSink
from ..sinks.logging import LoggingSink

__all__ = ["LOGGER", "announce", "describe", "on_worker_ready"]

LOGGER: Final = "selinon_celery_trace.worker"
_logger = logging.getLogger(LOGGER)
_USERINFO = re.compile(r"(?<=://)[^/@\s'\"]+@")  # scheme://user:secret@host -> scheme://***@host


def describe(sink: Sink) -> str:
    """What ``sink`` is and where it writes, in a few words; credentials in a URL are masked."""
    if isinstance(sink, LoggingSink):
        return f"logging to logger {sink.logger.name!r}"
    if isinstance(sink, JsonStreamSink):
        return "JSON lines to stdout (WARN_EVENTS to stderr)"
    if isinstance(sink, JsonFileSink):
        return f"JSON lines to {sink.path}"
    # The optional sinks, read without importing their modules (and their extras).
    kind = type(sink).__name__
    if kind == "MetricsSink":
        serving: Any = getattr(sink, "serving", None)
        port = getattr(serving, "port", None)
        url = getattr(serving, "url", None) or (
            f"port {port}" if port is not None else "no port (not served)"
        )
        return f"Prometheus metrics at {url}"
    if kind == "OtelSink":
        endpoint = getattr(getattr(sink, "tracing", None), "endpoint", None)
        target = endpoint or "the application's tracer provider, else OTLP's default endpoint"
        return _masked(f"OpenTelemetry spans to {target}")
    if kind == "SentrySink":
        return f"Sentry at {_sentry_dsn()}"
    if kind == "CeleryEventSink":
        return f"Celery events of type {getattr(sink, 'event_type', '?')!r} on the broker"
    if getattr(sink, "receive", None) is None:  # a function sink: name the function, not its address
        module, name = getattr(sink, "__module__", None), getattr(sink, "__qualname__", None)
        if isinstance(module, str) and isinstance(name, str):
            return f"function {module}.{name}"
    return _masked(repr(sink))


def _sentry_dsn() -> str:
    # The client the sink sends with: its own, or the application's (which it uses when one is active).
    from sentry_sdk import get_client

    from ..sinks.sentry.client import safe_dsn

    dsn = get_client().dsn
    return safe_dsn(dsn) if isinstance(dsn, str) and dsn else "(no active client)"


def _masked(text: str) -> str:
    return _USERINFO.sub("***@", text)


def announce() -> None:
    """Log which sinks this process traces to (INFO), or that it traces nothing (WARNING)."""
    sinks = registry.sinks()
    wanted = [spec.number for spec in catalogue.EVENTS if registry.wants(spec.number)]
    if not sinks:
        _logger.warning(
            "selinon_celery_trace: installed, but nothing is traced: no sink is configured "
            "(set selinon_trace, e.g. [{'json': {'path': '/var/log/celery/trace.jsonl'}}])"
        )
    elif not wanted:
        _logger.warning(
            "selinon_celery_trace: installed, but nothing is traced: selinon_trace_events mutes every event"
        )
    else:
        muted = len(catalogue.EVENTS) - len(wanted)
        _logger.info(
            "selinon_celery_trace: tracing to %s%s",
            "; ".join(describe(sink) for sink in sinks),
            f" ({muted} events muted)" if muted else "",
        )


def on_worker_ready(**_: Any) -> None:
    """``worker_ready``: say what this worker traces to."""
    try:
        announce()
    except Exception as exc:
        report_internal_error("worker_ready receiver", exc)
