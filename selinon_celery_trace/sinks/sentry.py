"""The Sentry sink: failures become Sentry events carrying their history, everything else breadcrumbs.

Needs the ``sentry`` extra. Configuration: ``{"sentry": {"dsn": "{SENTRY_DSN}"}}`` or
``Trace.trace_by_sentry(dsn)``.

**Client.** The application's Sentry client is used whenever one is active in the process, so its
options (environment, release, ``before_send``, sampling) apply to our events too; it is never replaced.
Only when none is active and a DSN is given does the sink initialise one itself (``sentry_sdk.init``
with the SDK's defaults, a short ``shutdown_timeout`` and HTTP timeout so an unreachable Sentry never
holds a worker's shutdown for long). That happens when the sink is built, that is at ``install`` in the
worker's main process, so Sentry's own integrations are set up before the pool forks. A forked child
never uses the transport it inherited: its queue, sending thread and locks belong to the parent (an event
queued there would be sent twice, a lock held there at fork never released), so our client gets a fresh
transport in the child at fork time (a re-``init`` would cost about 25 ms in every new pool process).
The application's own client is left as sentry-sdk made it.

**What reaches Sentry.** The configured failure events (default: TASK_FAILURE, FLOW_FAILURE,
DISPATCHER_FAILURE, NODE_FAILURE) become Sentry events: the live exception when the adapter provided one
(:func:`~selinon_celery_trace.core.record.exception_scope`), else a message; tagged with the event name and
task_name, task_id, queue, flow_name, dispatcher_id, hostname; the event's details (already redacted by
the adapters) as the ``selinon_trace`` context. Every other event is kept as a breadcrumb.

**History.** Sentry's scopes cannot hold a flow's history: its Celery integration clears breadcrumbs for
every task, and a flow's events happen in many processes. So the sink keeps a small per-process
:class:`History` of recent breadcrumbs keyed by ``task_id`` and ``dispatcher_id`` (bounded in keys, per
key and in bytes; a key is dropped when its task or flow ends), and attaches to any Sentry event
captured in this process the breadcrumbs of the task or dispatcher running in the context, and of its
flow. For FLOW_FAILURE that is the flow as the dispatcher's process saw it: its wake-ups, the nodes it
scheduled, NODE_SUCCESSFUL/NODE_FAILURE, and the events of those nodes that ran in the same process.
Events that belong to no task or flow become ordinary breadcrumbs of Sentry's current scope.

**One event per failure.** Sentry's Celery integration captures a failing task's exception before Celery
sends ``task_failure``; its logging integration turns Celery's "Task ... raised unexpected" record, and
the ERROR records of our own logging sink, into events. A global event processor makes these one event:
the first capture of an exception object in the process is the one sent, enriched with our tags, context
and breadcrumbs; a later capture of the same object (ours or Sentry's) is dropped, and so are log records
of our logging sink for events this sink reports itself. Events that are not such duplicates are only
enriched (breadcrumbs, task tags), never dropped.

**Shutdown.** Nothing is written synchronously: sentry-sdk queues events for its sending thread, so a
capture never waits for the network. :meth:`SentrySink.flush` waits (bounded) for that queue; the Celery
adapter calls it when a pool process exits (``worker_process_shutdown``), so nothing is lost with
``worker_max_tasks_per_child=1``.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque
from collections.abc import Hashable, Iterable
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Final

from ..core.catalogue import BY_NAME, WARN_EVENTS
from ..core.placeholders import expand_env
from ..core.record import Record, aware, caller_record, current_exception, dumps, event_name

__all__ = ["DEFAULT_EVENTS", "FAILURE_EVENTS", "History", "SentrySink"]

FAILURE_EVENTS: Final = frozenset({8, 10, 11, 12})
"""TASK_FAILURE, FLOW_FAILURE, DISPATCHER_FAILURE, NODE_FAILURE."""
DEFAULT_EVENTS: Final = FAILURE_EVENTS

TAG_KEYS: Final = ("task_name", "task_id", "queue", "flow_name", "dispatcher_id", "hostname")
CONTEXT_NAME: Final = "selinon_trace"
CATEGORY: Final = "selinon_trace"

_TASK_START, _TASK_END, _TASK_FAILURE, _TASK_RETRY = 3, 5, 8, 9
_WAKEUP, _FLOW_END, _FLOW_FAILURE, _DISPATCHER_FAILURE, _DISPATCHER_RETRY = 0, 15, 10, 11, 14
_TASK_SCHEDULE, _SUBFLOW_SCHEDULE = 2, 4
_TASK_TERMINAL: Final = frozenset({_TASK_END, _TASK_FAILURE, _TASK_RETRY})
_FLOW_TERMINAL: Final = frozenset({_FLOW_END, _FLOW_FAILURE, _DISPATCHER_RETRY})
_WARN: Final = frozenset(WARN_EVENTS)
_UTC = timezone.utc
_HINT_KEYS = "selinon_trace_keys"  # in the hint of our own events: whose history to attach
_TAG_LIMIT = 200  # Sentry's limit for a tag value
_VALUE_LIMIT = 256  # per string value in a breadcrumb's data
_REPORTED_LIMIT = 16  # exceptions remembered as sent (strong references: their frames stay alive)

DEFAULT_SHUTDOWN_TIMEOUT: Final = 1.0
"""Seconds :meth:`SentrySink.flush` (and our own client at exit) waits for unsent events."""
HTTP_TIMEOUT: Final = 5
"""Seconds our own client's sending thread waits for Sentry to answer one request (sentry-sdk: 30)."""


def _import_sentry() -> Any:
    try:
        import sentry_sdk
    except ImportError:
        raise ImportError(
            "the Sentry trace sink needs sentry-sdk: pip install 'selinon-celery-trace[sentry]'"
        ) from None
    return sentry_sdk


def _safe_dsn(dsn: str) -> str:
    """The DSN without its keys (``scheme://***@host/project``): what may appear in output."""
    scheme, sep, rest = dsn.partition("://")
    if not sep:
        return "<unparsable DSN>"
    _keys, at, location = rest.rpartition("@")
    return f"{scheme}://***@{location}" if at else f"{scheme}://{location}"


# -- the per-process history ---------------------------------------------------------------------


class History:
    """Recent breadcrumbs per task and flow id, bounded in ids, per id and in (estimated) bytes.

    An event is filed under every id it names (``task_id`` and ``dispatcher_id``), so a node's events
    are part of its own history and of its flow's. Ids are evicted least-recently-used, and dropped
    when their task or flow ends (:meth:`forget`): no per-task state outlives its task.
    """

    def __init__(self, max_ids: int = 256, per_id: int = 50, max_bytes: int = 1 << 20) -> None:
        self.max_ids = max_ids
        self.per_id = per_id
        self.max_bytes = max_bytes
        self.bytes = 0
        self._lock = threading.Lock()
        self._by_id: OrderedDict[str, deque[tuple[dict[str, Any], int]]] = OrderedDict()

    def add(self, keys: Iterable[str], crumb: dict[str, Any], size: int) -> None:
        """File ``crumb`` (about ``size`` bytes) under each of ``keys``."""
        with self._lock:
            for key in keys:
                crumbs = self._by_id.get(key)
                if crumbs is None:
                    crumbs = self._by_id[key] = deque()
                else:
                    self._by_id.move_to_end(key)
                if len(crumbs) >= self.per_id:
                    self.bytes -= crumbs.popleft()[1]
                crumbs.append((crumb, size))
                self.bytes += size
            while self._by_id and (len(self._by_id) > self.max_ids or self.bytes > self.max_bytes):
                _key, evicted = self._by_id.popitem(last=False)
                self.bytes -= sum(size for _crumb, size in evicted)

    def crumbs(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """The breadcrumbs filed under any of ``keys``, each once, oldest first."""
        found: dict[int, dict[str, Any]] = {}
        with self._lock:
            for key in keys:
                for crumb, _size in self._by_id.get(key, ()):
                    found[id(crumb)] = crumb
        return sorted(found.values(), key=lambda crumb: crumb["timestamp"])

    def forget(self, key: str) -> None:
        """Drop the breadcrumbs of ``key`` (its task or flow ended)."""
        with self._lock:
            crumbs = self._by_id.pop(key, None)
            if crumbs is not None:
                self.bytes -= sum(size for _crumb, size in crumbs)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._by_id.clear()
            self.bytes = 0


class _Running:
    """The task attempt or dispatcher execution running in this context, as the sink saw it start."""

    __slots__ = ("details", "dispatcher", "key")

    def __init__(self, key: str, details: dict[str, Any], dispatcher: bool) -> None:
        self.key = key
        self.details = details
        self.dispatcher = dispatcher

    def history_keys(self) -> tuple[str, ...]:
        flow = self.details.get("dispatcher_id")
        return (self.key, flow) if isinstance(flow, str) and flow != self.key else (self.key,)


_running: ContextVar[_Running | None] = ContextVar("selinon_trace_sentry_running", default=None)


class _ProcessState:
    """Global state department of the Sentry sink, per process (reset in a forked child)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sink: SentrySink | None = None  # the active sink: the event processor is a no-op without it
        self.history = History()
        self.reported: OrderedDict[int, BaseException] = OrderedDict()
        self.processor_installed = False

    def remember(self, exc: BaseException) -> bool:
        """Remember ``exc`` as sent; False when it already was (the capture is then a duplicate)."""
        with self.lock:
            if id(exc) in self.reported and self.reported[id(exc)] is exc:
                return False
            self.reported[id(exc)] = exc
            while len(self.reported) > _REPORTED_LIMIT:
                self.reported.popitem(last=False)
            return True

    def was_reported(self, exc: BaseException) -> bool:
        with self.lock:
            return self.reported.get(id(exc)) is exc


_process = _ProcessState()


def _after_fork_in_child() -> None:
    # The parent's history, running task and reported exceptions are not the child's; its Sentry
    # client (transport queue, sending thread, locks) is not usable here either (see the module doc).
    _process.lock = threading.Lock()
    _process.history = History()
    _process.reported = OrderedDict()
    _running.set(None)
    sink = _process.sink
    if sink is not None:
        sink._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


# -- the sink ------------------------------------------------------------------------------------


class SentrySink:
    """Send failure events to Sentry with their history; keep the other events as breadcrumbs.

    ``events``: the event names (or numbers) that become Sentry events, default
    :data:`DEFAULT_EVENTS`; every other event is a breadcrumb (``breadcrumbs=False`` drops them).
    ``shutdown_timeout``: seconds :meth:`flush` waits for unsent events.

    >>> sink = SentrySink("{SENTRY_DSN}")  # doctest: +SKIP
    """

    __slots__ = (
        "_init_options",
        "_make_transport",
        "_monitor",
        "_own_client",
        "_safe",
        "_sdk",
        "breadcrumbs",
        "events",
        "key",
        "shutdown_timeout",
    )

    def __init__(
        self,
        dsn: str | None = None,
        *,
        events: Iterable[str | int] | None = None,
        breadcrumbs: bool = True,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> None:
        sdk = _import_sentry()
        self._sdk = sdk
        self.events: frozenset[int] = DEFAULT_EVENTS if events is None else _event_numbers(events)
        self.breadcrumbs = bool(breadcrumbs)
        self.shutdown_timeout = float(shutdown_timeout)
        self.key: Hashable = ("sentry",)
        self._own_client: Any = None
        self._init_options: dict[str, Any] | None = None
        expanded = expand_env(dsn) if dsn else None
        self._safe = _safe_dsn(expanded) if expanded else None
        if expanded:
            _check_dsn(sdk, expanded, self._safe or "")
        _install_processor(sdk)
        # Imported now, not in the child after fork, where the import lock may be held.
        from sentry_sdk.monitor import Monitor
        from sentry_sdk.transport import make_transport

        self._make_transport, self._monitor = make_transport, Monitor
        if not sdk.get_client().is_active() and expanded:
            self._init_options = {
                "dsn": expanded,
                "shutdown_timeout": self.shutdown_timeout,
                "transport": _transport_class(sdk),
            }
            self._init_own_client()
        _process.sink = self

    # -- the client ---------------------------------------------------------------------------

    def _init_own_client(self) -> None:
        assert self._init_options is not None
        self._sdk.init(**self._init_options)
        self._own_client = self._sdk.get_client()

    def _after_fork(self) -> None:
        """In a forked child: give our own client a transport of its own (see the module docstring)."""
        own = self._own_client
        if own is None or self._sdk.get_client() is not own:
            return
        try:
            own.transport = self._make_transport(own.options)
            if getattr(own, "monitor", None) is not None:
                own.monitor = self._monitor(own.transport)
        except Exception:  # keep the inherited one: sentry-sdk restarts its thread per process
            pass

    # -- events ---------------------------------------------------------------------------------

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def receive(self, event: int, record: Record) -> None:
        details = record["details"]
        state = _process
        if state.sink is not self:
            state.sink = self
        client = self._sdk.get_client()
        if not isinstance(details, dict):
            details = {"details": details}
        running = _running.get()
        if event in (_TASK_START, _WAKEUP):
            key = details.get("task_id") if event == _TASK_START else details.get("dispatcher_id")
            if isinstance(key, str):
                running = _Running(key, details, event == _WAKEUP)
                _running.set(running)
        if event in self.events:
            if client.is_active():
                self._capture(event, details, client, running, record["time"])
        elif self.breadcrumbs:
            self._breadcrumb(event, details, running, record["time"])
        self._ended(event, details, running)

    def _breadcrumb(
        self, event: int, details: dict[str, Any], running: _Running | None, time: datetime
    ) -> None:
        crumb, size = _crumb(event, details, time)
        keys = _history_keys(event, details, running)
        if keys:
            _process.history.add(keys, crumb, size)
        else:  # belongs to no task or flow: an ordinary breadcrumb of the current Sentry scope
            self._sdk.add_breadcrumb(crumb)

    def _capture(
        self, event: int, details: dict[str, Any], client: Any, running: _Running | None, time: datetime
    ) -> None:
        name = event_name(event)
        exc = current_exception()
        keys = _history_keys(event, details, running)
        reported = exc is not None and _process.was_reported(exc)
        if not reported:
            self._send(name, details, exc, keys, client)
        # Part of the history too (a flow's FLOW_FAILURE shows its NODE_FAILURE). When the exception
        # was already sent (Sentry's Celery integration captured it first and we enriched that event,
        # or an earlier event of ours carried it), this is history only, not a second event.
        if keys:
            crumb, size = _crumb(event, details, time)
            _process.history.add(keys, crumb, size)

    def _send(
        self,
        name: str,
        details: dict[str, Any],
        exc: BaseException | None,
        keys: tuple[str, ...],
        client: Any,
    ) -> None:
        sentry_event: Any
        hint: dict[str, Any]
        if exc is not None:
            from sentry_sdk.utils import event_from_exception

            sentry_event, hint = event_from_exception(
                exc, client_options=client.options, mechanism={"type": "selinon_trace", "handled": False}
            )
        else:
            sentry_event, hint = {"message": _message(name, details)}, {}
        sentry_event["level"] = "error"
        sentry_event.setdefault("tags", {}).update(_tags(name, details))
        sentry_event.setdefault("contexts", {})[CONTEXT_NAME] = {"event": name, **details}
        hint[_HINT_KEYS] = keys
        self._sdk.capture_event(sentry_event, hint=hint)

    def _ended(self, event: int, details: dict[str, Any], running: _Running | None) -> None:
        # The history of a finished task or flow is of no further use here: forget it (a retried
        # task keeps its own, for its next attempt may run in this process).
        if event in _TASK_TERMINAL:
            task_id = details.get("task_id")
            if running is not None and running.key == task_id:
                _running.set(None)
            if event != _TASK_RETRY and isinstance(task_id, str):
                _process.history.forget(task_id)
        elif event in _FLOW_TERMINAL:
            flow = details.get("dispatcher_id")
            if running is not None and running.key == flow:
                _running.set(None)
            if event != _DISPATCHER_RETRY and isinstance(flow, str):
                _process.history.forget(flow)

    # -- lifecycle ------------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Wait at most ``timeout`` seconds (default ``shutdown_timeout``) for unsent Sentry events.

        Call it where a process is about to exit without running ``atexit`` (a Celery pool process:
        ``worker_process_shutdown``). Never raises; returns early when nothing is pending.
        """
        try:
            client = self._sdk.get_client()
            if client.is_active():
                client.flush(timeout=self.shutdown_timeout if timeout is None else timeout)
        except Exception:  # flushing is best effort at exit; the tracer must not fail there
            pass

    def close(self) -> None:
        """Stop using Sentry: flush, close our own client (never the application's), deactivate."""
        if _process.sink is self:
            _process.sink = None
            _process.history.clear()
        self.flush()
        own = self._own_client
        if own is not None and self._sdk.get_client() is own:
            try:
                own.close(timeout=0)
            finally:
                self._sdk.get_global_scope().set_client(None)
        self._own_client = None

    def __repr__(self) -> str:
        where = f"dsn={self._safe!r}" if self._safe else "the application's client"
        return f"SentrySink({where})"


# -- helpers -------------------------------------------------------------------------------------


def _event_numbers(events: Iterable[str | int]) -> frozenset[int]:
    if isinstance(events, str):
        raise ValueError("'events' must be a list of event names, not one string")
    numbers = set()
    for item in events:
        if isinstance(item, str):
            spec = BY_NAME.get(item)
            if spec is None:
                raise ValueError(f"unknown event {item!r}")
            numbers.add(spec.number)
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(BY_NAME):
            numbers.add(item)
        else:
            raise ValueError(f"unknown event {item!r}")
    return frozenset(numbers)


def _check_dsn(sdk: Any, dsn: str, safe: str) -> None:
    from sentry_sdk.utils import BadDsn, Dsn

    try:
        Dsn(dsn)
    except BadDsn as exc:  # the SDK's message names the problem, not the DSN; ours shows no keys
        raise ValueError(f"invalid Sentry DSN {safe!r}: {exc}") from None


def _transport_class(sdk: Any) -> Any:
    from sentry_sdk.transport import HttpTransport

    class BoundedHttpTransport(HttpTransport):  # type: ignore[misc]
        """sentry-sdk's HTTP transport with a short request timeout (its default is 30 s)."""

        TIMEOUT = int(HTTP_TIMEOUT)

    return BoundedHttpTransport


def _tags(name: str, details: dict[str, Any]) -> dict[str, str]:
    tags = {"event": name}
    for key in TAG_KEYS:
        value = details.get(key)
        if value is not None:
            tags[key] = str(value)[:_TAG_LIMIT]
    return tags


def _message(name: str, details: dict[str, Any]) -> str:
    what = details.get("what")
    last = ""
    if isinstance(what, str):
        lines = [line for line in what.strip().splitlines() if line.strip()]
        last = lines[-1].strip() if lines else ""
    subject = details.get("flow_name") or details.get("task_name") or ""
    text = f"{name} {subject}".strip()
    return f"{text}: {last[:_VALUE_LIMIT]}" if last else text


def _history_keys(event: int, details: dict[str, Any], running: _Running | None) -> tuple[str, ...]:
    if event in (_TASK_SCHEDULE, _SUBFLOW_SCHEDULE):
        # The scheduled task runs elsewhere: this is history of the task (and flow) publishing it.
        owner = details.get("parent_dispatcher_id") if event == _SUBFLOW_SCHEDULE else None
        owner = owner or details.get("dispatcher_id")
        keys = [running.key] if running is not None else []
        if isinstance(owner, str) and owner not in keys:
            keys.append(owner)
        return tuple(keys)
    keys = []
    for name in ("task_id", "dispatcher_id"):
        value = details.get(name)
        if isinstance(value, str) and value not in keys:
            keys.append(value)
    return tuple(keys)


def _compact(value: Any) -> tuple[Any, int]:
    if value is None or isinstance(value, (bool, int, float)):
        return value, 8
    if isinstance(value, str):
        if len(value) > _VALUE_LIMIT:
            value = f"{value[:_VALUE_LIMIT]}...[{len(value) - _VALUE_LIMIT} more chars]"
        return value, len(value)
    text = dumps(value).decode("utf-8", "backslashreplace")
    if len(text) > _VALUE_LIMIT:
        text = f"{text[:_VALUE_LIMIT]}...[{len(text) - _VALUE_LIMIT} more chars]"
        return text, len(text)
    return value, len(text)


def _crumb(event: int, details: dict[str, Any], time: datetime) -> tuple[dict[str, Any], int]:
    """A Sentry breadcrumb for one event, its data bounded, and its estimated size."""
    data: dict[str, Any] = {}
    size = 64
    for key, value in details.items():
        if key == "what":
            continue  # a traceback: the failure's own event has it
        data[str(key)], value_size = _compact(value)
        size += len(str(key)) + value_size
    crumb = {
        "type": "default",
        "category": CATEGORY,
        "message": event_name(event),
        "level": "error" if event in FAILURE_EVENTS else "warning" if event in _WARN else "info",
        "timestamp": aware(time),
        "data": data,
    }
    return crumb, size


# -- the event processor -------------------------------------------------------------------------


def _install_processor(sdk: Any) -> None:
    with _process.lock:
        if _process.processor_installed:
            return
        from sentry_sdk.scope import add_global_event_processor

        add_global_event_processor(_process_event)  # type: ignore[arg-type]
        _process.processor_installed = True


def _exception_of(hint: Any) -> BaseException | None:
    exc_info = hint.get("exc_info") if isinstance(hint, dict) else None
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    return None


def _mechanism_types(event: dict[str, Any]) -> set[str]:
    found = set()
    values = (event.get("exception") or {}).get("values") or []
    for value in values:
        mechanism = value.get("mechanism") if isinstance(value, dict) else None
        if isinstance(mechanism, dict) and isinstance(mechanism.get("type"), str):
            found.add(mechanism["type"])
    return found


def _process_event(event: dict[str, Any], hint: Any) -> dict[str, Any] | None:
    """Make one Sentry event per failure and enrich it (see the module docstring). Never raises."""
    sink = _process.sink
    if sink is None or event.get("type") in ("transaction", "check_in"):
        return event
    try:
        return _enrich(sink, event, hint if isinstance(hint, dict) else {})
    except Exception:  # never lose an event because of us
        return event


def _enrich(sink: SentrySink, event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    record = hint.get("log_record")
    if record is not None and getattr(record, "selinon_event_number", None) in sink.events:
        return None  # our logging sink's record of an event this sink reports itself
    exc = _exception_of(hint)
    ours = _HINT_KEYS in hint
    if exc is not None and not _process.remember(exc):
        return None  # this exception object was already sent from this process
    running = _running.get()
    if ours:
        keys: tuple[str, ...] = tuple(hint[_HINT_KEYS])
    elif running is not None:
        keys = running.history_keys()
        tags = event.setdefault("tags", {})
        for key, value in _tags("", running.details).items():
            if key != "event":
                tags.setdefault(key, value)
        if "celery" in _mechanism_types(event):
            # Sentry's Celery integration captured the running task's exception: this is the task's
            # failure event, and ours (sent later from task_failure) will see it was sent.
            name = event_name(_DISPATCHER_FAILURE if running.dispatcher else _TASK_FAILURE)
            tags["event"] = name
            context = {"event": name, **running.details}
            if exc is not None:
                context["exc_type"] = type(exc).__name__
            event.setdefault("contexts", {})[CONTEXT_NAME] = context
    else:
        return event
    _attach(event, _process.history.crumbs(keys))
    return event


def _attach(event: dict[str, Any], crumbs: list[dict[str, Any]]) -> None:
    holder = event.setdefault("breadcrumbs", {})
    if not isinstance(holder, dict):
        return
    kept = [
        crumb
        for crumb in holder.get("values") or []
        # our logging sink's records, as the logging integration kept them: ours are the structured form
        if not (isinstance(crumb, dict) and "selinon_event" in (crumb.get("data") or {}))
    ]
    if not crumbs and len(kept) == len(holder.get("values") or []):
        return
    merged = kept + [dict(crumb) for crumb in crumbs]
    try:
        merged.sort(key=lambda crumb: _timestamp(crumb.get("timestamp")))
    except Exception:
        pass
    limit = 100
    try:
        from sentry_sdk import get_client

        limit = int(get_client().options.get("max_breadcrumbs", 100))
    except Exception:
        pass
    holder["values"] = merged[-limit:] if limit > 0 else []


def _timestamp(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=_UTC)).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return _timestamp(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return 0.0
    return 0.0
