"""The ``Trace`` facade: the reference ``selinon.trace.Trace`` API over the core's registry of sinks.

Code written against ``selinon.trace.Trace`` runs unchanged::

    from selinon_celery_trace import Trace

    Trace.trace_by_logging()
    Trace.log(Trace.TASK_START, {"task_name": "fetch"}, task_id="42")

Data flows one way: ``Trace.log`` -> every registered sink, in registration order (see
:mod:`selinon_celery_trace.core.registry`); nothing a sink does reaches the caller of ``log``. This
module never imports Celery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, ClassVar, Final

from .core import catalogue, registry
from .core.registry import Sink, report_internal_error
from .sinks.jsonl import JsonStreamSink
from .sinks.logging import LoggingSink

__all__ = ["Sink", "Trace"]


class Trace:
    """Trace system flow actions (the reference API, plus sink management).

    All methods are class methods; the registered sinks are per process.
    """

    DISPATCHER_WAKEUP: ClassVar[int] = 0
    FLOW_START: ClassVar[int] = 1
    TASK_SCHEDULE: ClassVar[int] = 2
    TASK_START: ClassVar[int] = 3
    SUBFLOW_SCHEDULE: ClassVar[int] = 4
    TASK_END: ClassVar[int] = 5
    NODE_SUCCESSFUL: ClassVar[int] = 6
    TASK_DISCARD_RESULT: ClassVar[int] = 7
    TASK_FAILURE: ClassVar[int] = 8
    TASK_RETRY: ClassVar[int] = 9
    FLOW_FAILURE: ClassVar[int] = 10
    DISPATCHER_FAILURE: ClassVar[int] = 11
    NODE_FAILURE: ClassVar[int] = 12
    FALLBACK_START: ClassVar[int] = 13
    DISPATCHER_RETRY: ClassVar[int] = 14
    FLOW_END: ClassVar[int] = 15
    STORAGE_CONNECT: ClassVar[int] = 16
    STORAGE_DISCONNECT: ClassVar[int] = 17
    STORAGE_RETRIEVE: ClassVar[int] = 18
    STORAGE_RETRIEVED: ClassVar[int] = 19
    STORAGE_STORE: ClassVar[int] = 20
    STORAGE_STORED: ClassVar[int] = 21
    EDGE_COND_FALSE: ClassVar[int] = 22
    FOREACH_RESULT: ClassVar[int] = 23
    NODE_STATE_CACHE_GET: ClassVar[int] = 24
    NODE_STATE_CACHE_ADD: ClassVar[int] = 25
    NODE_STATE_CACHE_MISS: ClassVar[int] = 26
    NODE_STATE_CACHE_HIT: ClassVar[int] = 27
    TASK_RESULT_CACHE_GET: ClassVar[int] = 28
    TASK_RESULT_CACHE_ADD: ClassVar[int] = 29
    TASK_RESULT_CACHE_MISS: ClassVar[int] = 30
    TASK_RESULT_CACHE_HIT: ClassVar[int] = 31
    SELECTIVE_OMIT_EDGE: ClassVar[int] = 32
    SELECTIVE_OMIT_NODE: ClassVar[int] = 33
    SELECTIVE_RUN_FUNC: ClassVar[int] = 34
    SELECTIVE_TASK_REUSE: ClassVar[int] = 35
    STORAGE_STORE_ERROR: ClassVar[int] = 36
    STORAGE_OMIT_STORE_ERROR: ClassVar[int] = 37
    FALLBACK_COND_FALSE: ClassVar[int] = 38
    FALLBACK_COND_TRUE: ClassVar[int] = 39
    NODE_STATE_CACHE_ISSUE: ClassVar[int] = 40
    TASK_RESULT_CACHE_ISSUE: ClassVar[int] = 41
    STORAGE_ISSUE: ClassVar[int] = 42
    RESULT_BACKEND_ISSUE: ClassVar[int] = 43
    FLOW_RETRY: ClassVar[int] = 44
    MIGRATION: ClassVar[int] = 45
    MIGRATION_SKEW: ClassVar[int] = 46
    MIGRATION_TAINTED_FLOW: ClassVar[int] = 47
    MIGRATION_ERROR: ClassVar[int] = 48
    EAGER_FAILURE: ClassVar[int] = 49
    # Names later Selinon releases added (Selinon 1.1+ numbers them differently: names are the key).
    FLOW_SCHEDULE: ClassVar[int] = 50
    STORAGE_DELETE: ClassVar[int] = 51
    STORAGE_DELETED: ClassVar[int] = 52
    # This package's Celery events (not Selinon's): see ``catalogue.celery_events``.
    TASK_REVOKED: ClassVar[int] = 100
    TASK_EXPIRED: ClassVar[int] = 101
    TASK_REJECTED: ClassVar[int] = 102
    BEAT_START: ClassVar[int] = 103
    BEAT_LATE: ClassVar[int] = 104
    WORKER_ONLINE: ClassVar[int] = 105
    WORKER_OFFLINE: ClassVar[int] = 106
    WORKER_PROCESS_LOST: ClassVar[int] = 107

    WARN_EVENTS: ClassVar[tuple[int, ...]] = catalogue.WARN_EVENTS

    # -- the reference API -------------------------------------------------------------------------

    @classmethod
    def event2str(cls, event: int) -> str:
        """Translate ``event`` to its string representation.

        >>> Trace.event2str(Trace.TASK_START)
        'TASK_START'
        """
        name = catalogue.NAMES.get(event) if isinstance(event, int) else None
        if name is not None:
            return name
        raise ValueError(
            f"unknown trace event {event!r}; "
            f"events are numbered 0..52 (Selinon's) and 100..{max(catalogue.NAMES)} (this package's)"
        )

    @classmethod
    def log(cls, event: int, *msg_dict: dict[str, Any], **msg_dict_kwargs: Any) -> None:
        """Log ``event`` with details merged from ``msg_dict`` (left to right), then the keyword arguments.

        Returns at once when no sink is registered (or the event is muted). Never raises.

        >>> Trace.log(Trace.FLOW_END, {"flow_name": "flow1"}, state={"a": "SUCCESS"})
        """
        if not registry.wants(event):
            return
        if len(msg_dict) == 1 and not msg_dict_kwargs:
            details = msg_dict[0]
        else:
            details = {}
            try:
                for part in msg_dict:
                    details.update(part)
            except Exception as exc:  # not a mapping: keep it, never drop the event
                details["msg_dict"] = list(msg_dict)
                report_internal_error("Trace.log(msg_dict)", exc)
            details.update(msg_dict_kwargs)
        registry.log(event, details)

    @classmethod
    def trace_by_func(cls, func: Sink) -> Sink:
        """Trace by a custom function called as ``func(event, msg_dict)``; returns ``func``.

        >>> seen = []
        >>> _ = Trace.trace_by_func(lambda event, details: seen.append(Trace.event2str(event)))
        """
        return cls.add_sink(func)

    @classmethod
    def trace_by_json(cls) -> Sink:
        """Trace by printing JSON lines: WARN_EVENTS to stderr, the rest to stdout."""
        return cls.add_sink(JsonStreamSink())

    @classmethod
    def trace_by_logging(cls, logger: logging.Logger | str | None = None) -> Sink:
        """Trace to Python's logging, to ``logger`` (default: the ``selinon_celery_trace`` logger)."""
        return cls.add_sink(LoggingSink(logger))

    @classmethod
    def trace_by_sentry(cls, dsn: str | None = None) -> Sink:
        """Trace to Sentry; ``{ENV_VAR}`` placeholders in ``dsn`` are expanded from the environment.

        Uses the application's Sentry client when one is initialised, else initialises one from ``dsn``.
        Needs the ``sentry`` extra (``pip install 'selinon-celery-trace[sentry]'``).
        """
        from .sinks.sentry import SentrySink

        return cls.add_sink(SentrySink(dsn))

    @classmethod
    def json_trace_func(cls, event: int, msg_dict: Any) -> None:
        """Print one event as a JSON line directly (stderr for WARN_EVENTS, else stdout)."""
        _json_printer(event, msg_dict)

    @classmethod
    def logging_trace_func(cls, event: int, msg_dict: Any, logger: logging.Logger | None = None) -> None:
        """Log one event directly to ``logger``, else to the logger given to ``trace_by_logging``."""
        if logger is None:
            logger = next(
                (s.logger for s in registry.sinks() if isinstance(s, LoggingSink)),
                logging.getLogger("selinon_celery_trace"),
            )
        LoggingSink(logger)(event, msg_dict)

    # -- sink management (not in the reference) ----------------------------------------------------

    @classmethod
    def add_sink(cls, sink: Sink) -> Sink:
        """Register ``sink`` and return the registered one.

        A sink with the same ``key`` (built-in sinks: the same output) or the same function already
        registered is not added twice; the one already registered is returned.
        """
        return registry.add_sink(sink)

    @classmethod
    def remove_sink(cls, sink: Sink) -> bool:
        """Unregister ``sink`` (or the sink with its key), closing it if it has ``close()``.

        Returns False when it was not registered.
        """
        return registry.remove_sink(sink)

    @classmethod
    def sinks(cls) -> tuple[Sink, ...]:
        """Return the registered sinks, in the order they receive events."""
        return registry.sinks()

    @classmethod
    def mute(cls, events: Iterable[int]) -> None:
        """Drop these events before any sink sees them (replaces any earlier muted set)."""
        registry.mute(events)

    @classmethod
    def wants(cls, event: int) -> bool:
        """True when logging ``event`` would reach a sink: callers skip building details otherwise."""
        return registry.wants(event)

    @classmethod
    def errors(cls) -> dict[str, int]:
        """Return how many errors the tracer swallowed, by where they happened."""
        return registry.errors()

    @classmethod
    def reset(cls) -> None:
        """Remove (and close) every sink, unmute all events and forget the error counts."""
        registry.reset()


_json_printer: Final = JsonStreamSink()
