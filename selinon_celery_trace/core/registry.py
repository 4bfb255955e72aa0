"""The registry of sinks: which sinks get events, and the guarded fan-out to them.

Data flows one way: :func:`emit` (or :func:`log`) builds the event's :class:`~.record.Record` once, then
hands that same value to every registered sink, in registration order, so every sink sees the same
time, node and details. A sink that raises is reported once through standard logging (never through a
sink, so never recursively) and the other sinks still run; nothing a sink does reaches the code that
emitted the event, ``BaseException`` included (a sink's ``sys.exit()`` is contained like any error; a
sink that exits :data:`EXIT_LIMIT` times is disabled in that process). Exceptions that are the caller's
own (registered control flow, a signal handler's) go on: see :mod:`.escapes`.

Two kinds of sinks: any callable ``sink(event, details)`` (the reference's ``trace_by_func``), which
gets its own copy of the details (:mod:`.copies`: a sink that changes it changes nothing else), and
sinks with a ``receive(event, record)`` method (the built-in ones), which get the whole record.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Final

from . import errors as _errors
from .catalogue import NAMES
from .copies import fresh
from .errors import report_internal_error
from .escapes import escapes
from .record import HOST, Record, caller_record, clock, event_name

__all__ = [
    "EXIT_LIMIT",
    "Receive",
    "Sink",
    "add_sink",
    "deliver",
    "emit",
    "errors",
    "let_through",
    "log",
    "must_escape",
    "mute",
    "remove_sink",
    "report_internal_error",
    "reset",
    "sinks",
    "unwatch",
    "wants",
    "watch",
]

Sink = Callable[[int, Any], None]
"""A sink is called as ``sink(event, details)``; built-in ones also have a ``key`` (see :func:`add_sink`)."""

Receive = Callable[[int, Record], None]
"""How the registry calls a sink: ``receive(event, record)``."""

EXIT_LIMIT: Final = 3
"""A sink that raises a non-``Exception`` (``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit``...)
this many times in one process is disabled there: such a sink is broken, not unlucky, and each exit
costs a traceback. Fewer exits keep it (one stray ``sys.exit()`` on a rare path loses one event)."""


class _State:
    """Global state department: everything the registry keeps per process, in one resettable place.

    ``sinks`` is an immutable tuple swapped whole under ``lock`` (with ``receivers``, how each is called,
    derived from it in :meth:`use`, the disabled ones left out), so :func:`emit` reads them without
    locking. Exits and disabled sinks are per process: a forked child starts with none.
    """

    __slots__ = (
        "disabled",
        "exits",
        "lock",
        "muted",
        "passthrough",
        "receivers",
        "sinks",
        "watchers",
    )

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.sinks: tuple[Sink, ...] = ()
        self.receivers: tuple[tuple[Sink, Receive | None], ...] = ()
        self.muted: frozenset[int] = frozenset()
        # By the registered sink's id() (a sink need not be hashable): exits (non-Exception raises, see
        # EXIT_LIMIT) and the sinks disabled in this process.
        self.exits: dict[int, int] = {}
        self.disabled: frozenset[int] = frozenset()
        self.watchers: tuple[Callable[[], None], ...] = ()
        # Exceptions that are the caller's control flow, not sink failures (Celery's soft time limit
        # fires asynchronously, possibly while a sink runs): re-raised, never swallowed.
        self.passthrough: tuple[type[BaseException], ...] = ()

    def use(self, sinks: tuple[Sink, ...]) -> None:
        """Make ``sinks`` the registered ones (under ``lock``)."""
        disabled = self.disabled
        self.receivers = tuple((sink, _receiver(sink)) for sink in sinks if id(sink) not in disabled)
        self.sinks = sinks

    def after_fork(self) -> None:
        # A lock held by another thread at the fork would never be released in the child.
        self.lock = threading.RLock()
        self.exits = {}
        self.disabled = frozenset()
        self.use(self.sinks)

    def changed(self) -> None:
        # Adapters (the Celery receivers) connect only what the current sinks need; tell them.
        for watcher in self.watchers:
            try:
                watcher()
            except Exception as exc:
                report_internal_error(f"watcher {watcher!r}", exc)


_state: Final = _State()
os.register_at_fork(after_in_child=_state.after_fork)


def _receiver(sink: Sink) -> Receive | None:
    receive = getattr(sink, "receive", None)
    return receive if callable(receive) else None  # None: called as sink(event, details)


def _key(sink: Sink) -> Hashable:
    key = getattr(sink, "key", None)
    return key if key is not None else sink


def emit(event: int, details: Any) -> None:
    """Hand one event of the Celery adapters to every sink; returns at once when no sink wants it.

    ``details`` is a tree of JSON-safe values (the adapters build them so); :func:`log` is for others.
    """
    state = _state
    receivers = state.receivers
    if not receivers or event in state.muted:
        return
    try:
        name = NAMES[event]
    except (KeyError, TypeError):
        name = event_name(event)
    # Built here, inline (the per-task path): what record.adapter_record() returns.
    record: Record = {"event": name, "time": clock(), "details": details, "node": HOST}
    _deliver(state, receivers, event, details, record)


def log(event: int, details: Any) -> None:
    """Hand one event logged with a caller's own details to every sink (see ``record.caller_record``)."""
    state = _state
    receivers = state.receivers
    if not receivers or event in state.muted:
        return
    _deliver(state, receivers, event, details, caller_record(event, details))


def deliver(event: int, details: Any, record: Record) -> None:
    """Hand an event whose record was built earlier to the sinks registered now (see ``core.handoff``)."""
    state = _state
    receivers = state.receivers
    if receivers and event not in state.muted:
        _deliver(state, receivers, event, details, record)


def _deliver(
    state: _State,
    receivers: tuple[tuple[Sink, Receive | None], ...],
    event: int,
    details: Any,
    record: Record,
) -> None:
    for sink, receive in receivers:
        try:
            if receive is None:
                sink(event, fresh(details))  # trace_by_func: its own copy (user code may change it)
            else:
                receive(event, record)
        except BaseException as exc:
            if escapes(exc, state.passthrough):
                raise
            _sink_failed(sink, exc)


def _sink_failed(sink: Any, exc: BaseException) -> None:
    """Report what ``sink`` raised (once per kind); disable it in this process after :data:`EXIT_LIMIT` exits.

    A disabled sink stays registered (:func:`sinks` lists it, a forked child gets it back) but receives
    nothing more here.
    """
    report_internal_error(f"sink {sink!r}", exc)
    if isinstance(exc, Exception):
        return
    key = id(sink)
    with _state.lock:
        exits = _state.exits[key] = _state.exits.get(key, 0) + 1
        disable = exits == EXIT_LIMIT
        if disable:
            _state.disabled = _state.disabled | {key}
            _state.use(_state.sinks)
    if disable:
        _errors.report_disabled(f"sink {sink!r}", exits, exc)


def must_escape(exc: BaseException) -> bool:
    """True when ``exc``, caught around a sink's code, is the caller's and must be re-raised."""
    return escapes(exc, _state.passthrough)


def wants(event: int) -> bool:
    """True when emitting ``event`` would reach a sink: callers skip building details otherwise."""
    return bool(_state.sinks) and event not in _state.muted


def add_sink(sink: Sink) -> Sink:
    """Register ``sink`` and return the registered one.

    A sink with the same ``key`` (built-in sinks: the same output) or the same function already
    registered is not added twice; the one already registered is returned.
    """
    if not callable(sink) and _receiver(sink) is None:
        raise TypeError(
            f"a trace sink must be callable as sink(event, details) or have receive(event, record), "
            f"got {sink!r}"
        )
    key = _key(sink)
    with _state.lock:
        for existing in _state.sinks:
            if _key(existing) == key:
                return existing
        _state.use((*_state.sinks, sink))
    _state.changed()
    return sink


def remove_sink(sink: Sink) -> bool:
    """Unregister ``sink`` (or the sink with its key), closing it if it has ``close()``; False if absent."""
    key = _key(sink)
    with _state.lock:
        kept = tuple(s for s in _state.sinks if _key(s) != key)
        removed = [s for s in _state.sinks if _key(s) == key]
        for old in removed:  # added again later, it starts afresh
            _state.disabled = _state.disabled - {id(old)}
            _state.exits.pop(id(old), None)
        _state.use(kept)
    for old in removed:
        _close(old)
    if removed:
        _state.changed()
    return bool(removed)


def sinks() -> tuple[Sink, ...]:
    """The registered sinks, in the order they receive events."""
    return _state.sinks


def mute(events: Iterable[int]) -> None:
    """Drop these events before any sink sees them (replaces any earlier muted set)."""
    _state.muted = frozenset(events)
    _state.changed()


def errors() -> dict[str, int]:
    """How many errors the tracer swallowed, by where they happened (see :mod:`.errors`)."""
    return _errors.counts()


def reset() -> None:
    """Remove (and close) every sink, unmute all events and forget the error counts."""
    with _state.lock:
        old = _state.sinks
        _state.use(())
        _state.muted = frozenset()
        _state.exits.clear()
        _state.disabled = frozenset()
        _errors.clear()
    for sink in old:
        _close(sink)
    _state.changed()


def let_through(*exc_types: type[BaseException]) -> None:
    """Re-raise these exceptions from :func:`emit` instead of reporting them as sink errors.

    For control-flow exceptions that can fire while a sink runs (Celery's ``SoftTimeLimitExceeded``,
    ``WorkerShutdown`` and ``WorkerTerminate``, which ``install`` registers): the task must see its
    soft limit, the worker its shutdown.
    """
    with _state.lock:
        _state.passthrough = tuple(dict.fromkeys((*_state.passthrough, *exc_types)))


def watch(callback: Callable[[], None]) -> None:
    """Call ``callback()`` whenever the sinks or muted events change (the adapters connect accordingly)."""
    with _state.lock:
        if callback not in _state.watchers:
            _state.watchers = (*_state.watchers, callback)


def unwatch(callback: Callable[[], None]) -> None:
    """Stop calling ``callback`` on changes."""
    with _state.lock:
        _state.watchers = tuple(w for w in _state.watchers if w != callback)


def _close(sink: Sink) -> None:
    close = getattr(sink, "close", None)
    if callable(close):
        try:
            close()
        except BaseException as exc:
            if must_escape(exc):
                raise
            report_internal_error(f"closing {sink!r}", exc)
