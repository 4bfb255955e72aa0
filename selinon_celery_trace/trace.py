"""The ``Trace`` facade: the reference ``selinon.trace.Trace`` API, and the registry of sinks.

Code written against ``selinon.trace.Trace`` runs unchanged::

    from selinon_celery_trace import Trace

    Trace.trace_by_logging()
    Trace.log(Trace.TASK_START, {"task_name": "fetch"}, task_id="42")

Data flows one way: ``Trace.log`` -> every registered sink, in registration order. A sink that raises
is reported once through standard logging (never through ``Trace``, so never recursively) and the other
sinks still run; nothing a sink does reaches the caller of ``log``. This module never imports Celery.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any, ClassVar, Final

from . import catalogue
from .placeholders import expand_env
from .record import caller_details, end_caller_details
from .sinks.jsonl import JsonStreamSink
from .sinks.stdlib import LoggingSink

__all__ = ["Sink", "Trace", "emit", "expand_env", "report_internal_error"]

Sink = Callable[[int, Any], None]
"""A sink is called as ``sink(event, details)``; built-in ones also have a ``key`` (see below)."""

_errors_logger = logging.getLogger("selinon_celery_trace.errors")


class _State:
    """Global state department: everything ``Trace`` keeps per process, in one resettable place.

    ``sinks`` is an immutable tuple swapped whole under ``lock``, so ``log()`` reads it without locking.
    """

    __slots__ = ("errors", "lock", "muted", "passthrough", "reported", "sinks", "watchers")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.sinks: tuple[Sink, ...] = ()
        self.muted: frozenset[int] = frozenset()
        self.errors: dict[str, int] = {}
        self.reported: set[tuple[str, str]] = set()
        self.watchers: tuple[Callable[[], None], ...] = ()
        # Exceptions that are the caller's control flow, not sink failures (Celery's soft time limit
        # fires asynchronously, possibly while a sink runs): re-raised, never swallowed.
        self.passthrough: tuple[type[BaseException], ...] = ()

    def changed(self) -> None:
        # Adapters (the Celery receivers) connect only what the current sinks need; tell them.
        for watcher in self.watchers:
            try:
                watcher()
            except Exception as exc:
                report_internal_error(f"watcher {watcher!r}", exc)


_state: Final = _State()


def _key(sink: Sink) -> Hashable:
    key = getattr(sink, "key", None)
    return key if key is not None else sink


def report_internal_error(where: str, exc: BaseException) -> None:
    """Count an error the tracer swallowed, logging it once per place and exception type.

    Used for sinks that raise and by the Celery adapters at their boundary: the user's task never sees
    the error, and a broken sink on a busy worker produces one log record, not one per event.
    """
    with _state.lock:
        _state.errors[where] = _state.errors.get(where, 0) + 1
        first = (where, type(exc).__name__) not in _state.reported
        if first:
            _state.reported.add((where, type(exc).__name__))
    if first:
        try:
            _errors_logger.error(
                "selinon_celery_trace: %s failed (%s: %s); the event was not delivered there. "
                "Further %s errors from it are counted, not logged.",
                where,
                type(exc).__name__,
                exc,
                type(exc).__name__,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        except Exception:  # pragma: no cover - logging itself is broken; nothing more we can do
            pass


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

    WARN_EVENTS: ClassVar[tuple[int, ...]] = catalogue.WARN_EVENTS

    # -- the reference API -------------------------------------------------------------------------

    @classmethod
    def event2str(cls, event: int) -> str:
        """Translate ``event`` to its string representation.

        >>> Trace.event2str(Trace.TASK_START)
        'TASK_START'
        """
        if isinstance(event, int) and 0 <= event < len(catalogue.NAMES):
            return catalogue.NAMES[event]
        raise ValueError(f"unknown trace event {event!r}; events are numbered 0..{len(catalogue.NAMES) - 1}")

    @classmethod
    def log(cls, event: int, *msg_dict: dict[str, Any], **msg_dict_kwargs: Any) -> None:
        """Log ``event`` with details merged from ``msg_dict`` (left to right), then the keyword arguments.

        Returns at once when no sink is registered (or the event is muted). Never raises.

        >>> Trace.log(Trace.FLOW_END, {"flow_name": "flow1"}, state={"a": "SUCCESS"})
        """
        state = _state
        sinks = state.sinks
        if not sinks or event in state.muted:
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
        token = caller_details(True)  # the caller's own values: the encoders check them for cycles
        try:
            emit(event, details)
        finally:
            end_caller_details(token)

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
                (s.logger for s in _state.sinks if isinstance(s, LoggingSink)),
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
        if not callable(sink):
            raise TypeError(f"a trace sink must be callable as sink(event, details), got {sink!r}")
        key = _key(sink)
        with _state.lock:
            for existing in _state.sinks:
                if _key(existing) == key:
                    return existing
            _state.sinks = (*_state.sinks, sink)
        _state.changed()
        return sink

    @classmethod
    def remove_sink(cls, sink: Sink) -> bool:
        """Unregister ``sink`` (or the sink with its key), closing it if it has ``close()``.

        Returns False when it was not registered.
        """
        key = _key(sink)
        with _state.lock:
            kept = tuple(s for s in _state.sinks if _key(s) != key)
            removed = [s for s in _state.sinks if _key(s) == key]
            _state.sinks = kept
        for old in removed:
            _close(old)
        if removed:
            _state.changed()
        return bool(removed)

    @classmethod
    def sinks(cls) -> tuple[Sink, ...]:
        """Return the registered sinks, in the order they receive events."""
        return _state.sinks

    @classmethod
    def mute(cls, events: Iterable[int]) -> None:
        """Drop these events before any sink sees them (replaces any earlier muted set)."""
        _state.muted = frozenset(events)
        _state.changed()

    @classmethod
    def wants(cls, event: int) -> bool:
        """True when logging ``event`` would reach a sink: callers skip building details otherwise."""
        return bool(_state.sinks) and event not in _state.muted

    @classmethod
    def errors(cls) -> dict[str, int]:
        """Return how many errors the tracer swallowed, by where they happened."""
        with _state.lock:
            return dict(_state.errors)

    @classmethod
    def reset(cls) -> None:
        """Remove (and close) every sink, unmute all events and forget the error counts."""
        with _state.lock:
            old, _state.sinks = _state.sinks, ()
            _state.muted = frozenset()
            _state.errors.clear()
            _state.reported.clear()
        for sink in old:
            _close(sink)
        _state.changed()

    @classmethod
    def let_through(cls, *exc_types: type[BaseException]) -> None:
        """Re-raise these exceptions from ``log()`` instead of reporting them as sink errors.

        For control-flow exceptions that can fire while a sink runs (Celery's
        ``SoftTimeLimitExceeded``, which ``install`` registers): the task must see its soft limit.
        """
        with _state.lock:
            _state.passthrough = tuple(dict.fromkeys((*_state.passthrough, *exc_types)))

    @classmethod
    def watch(cls, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the sinks or muted events change (used by the adapters)."""
        with _state.lock:
            if callback not in _state.watchers:
                _state.watchers = (*_state.watchers, callback)

    @classmethod
    def unwatch(cls, callback: Callable[[], None]) -> None:
        """Stop calling ``callback`` on changes."""
        with _state.lock:
            _state.watchers = tuple(w for w in _state.watchers if w != callback)


def emit(event: int, details: Any) -> None:
    """Hand one event's details to every sink, guarded: :meth:`Trace.log` without merging its arguments.

    The Celery receivers call it with the details they build (sanitized trees: no argument packing, and
    no cycle check in the encoders, which :meth:`Trace.log` asks for on the caller's own values).
    """
    state = _state
    sinks = state.sinks
    if not sinks or event in state.muted:
        return
    for sink in sinks:
        try:
            sink(event, details)
        except Exception as exc:
            if state.passthrough and isinstance(exc, state.passthrough):
                raise
            report_internal_error(f"sink {sink!r}", exc)


def _close(sink: Sink) -> None:
    close = getattr(sink, "close", None)
    if callable(close):
        try:
            close()
        except Exception as exc:
            report_internal_error(f"closing {sink!r}", exc)


_json_printer: Final = JsonStreamSink()
