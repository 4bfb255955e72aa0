"""One Sentry event per failure: the global event processor and the per-process state it reads.

Sentry's Celery integration captures a failing task's exception before Celery sends ``task_failure``; its
logging integration turns Celery's "Task ... raised unexpected" record, and the ERROR records of our own
logging sink, into events. A global event processor makes these one event: the first capture of an
exception object in the process is the one sent, enriched with our tags, context and breadcrumbs; a later
capture of the same object (ours or Sentry's) is dropped, and so are log records of our logging sink for
events this sink reports itself. Events that are not such duplicates are only enriched (breadcrumbs,
task tags), never dropped.

The state (:data:`process`: the active sink, the history, the exceptions sent) is per process: a forked
child starts with none of its parent's, and the active sink gives its own client a fresh transport.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Final, Protocol

from ...core.record import event_name
from ...core.redact import Policy
from .history import RUNNING, History
from .kinds import DISPATCHER_FAILURE, TASK_FAILURE
from .scrub import scrub_event

__all__ = [
    "CONTEXT_NAME",
    "HINT_KEYS",
    "TAG_KEYS",
    "ActiveSink",
    "install_processor",
    "process",
    "scrubbing_before_send",
    "tags",
]

TAG_KEYS: Final = ("task_name", "task_id", "queue", "flow_name", "dispatcher_id", "hostname")
CONTEXT_NAME: Final = "selinon_trace"
HINT_KEYS: Final = "selinon_trace_keys"  # in the hint of our own events: whose history to attach
_TAG_LIMIT = 200  # Sentry's limit for a tag value
_REPORTED_LIMIT = 16  # exceptions remembered as sent (strong references: their frames stay alive)
_UTC = timezone.utc


class ActiveSink(Protocol):
    """What the processor and the fork handler need of the active Sentry sink."""

    events: frozenset[int]
    policy: Policy  # how every event carrying our context is masked (see .scrub)

    @property
    def owns_client(self) -> bool: ...  # True when the sink initialised the client: mask all its events

    def _after_fork(self) -> None: ...


class _ProcessState:
    """Global state department of the Sentry sink, per process (reset in a forked child)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sink: ActiveSink | None = None  # the active sink: the event processor is a no-op without it
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


process = _ProcessState()


def _after_fork_in_child() -> None:
    # The parent's history, running task and reported exceptions are not the child's; its Sentry
    # client (transport queue, sending thread, locks) is not usable here either (see client.py).
    process.lock = threading.Lock()
    process.history = History()
    process.reported = OrderedDict()
    RUNNING.set(None)
    sink = process.sink
    if sink is not None:
        sink._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def tags(name: str, details: dict[str, Any]) -> dict[str, str]:
    """The Sentry tags of an event called ``name``: the event and its :data:`TAG_KEYS`, bounded."""
    found = {"event": name}
    for key in TAG_KEYS:
        value = details.get(key)
        if value is not None:
            found[key] = str(value)[:_TAG_LIMIT]
    return found


def install_processor() -> None:
    """Add the event processor to sentry-sdk's global ones, once per process."""
    with process.lock:
        if process.processor_installed:
            return
        from sentry_sdk.scope import add_global_event_processor

        add_global_event_processor(_process_event)  # type: ignore[arg-type]
        process.processor_installed = True


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
    """Make one Sentry event per failure, enrich it and mask it (see the module docstring). Never raises.

    Masked (:mod:`.scrub`): our own events, events captured while a task or flow runs here (they carry
    our tags and history), and every event of a client the sink initialised itself.
    """
    sink = process.sink
    if sink is None or event.get("type") in ("transaction", "check_in"):
        return event
    hint = hint if isinstance(hint, dict) else {}
    carries = HINT_KEYS in hint or RUNNING.get() is not None
    try:
        enriched = _enrich(sink, event, hint)
    except Exception:  # never lose an event because of us
        enriched = event
    if enriched is None or not (carries or sink.owns_client):
        return enriched
    return scrub_event(enriched, sink.policy)


_SCRUBS: Final = "_selinon_trace_scrubs"


def scrubbing_before_send(before_send: Any) -> Any:
    """A ``before_send`` that runs ``before_send`` (the application's, if any), then masks the event.

    The global event processor runs first of all processors; sentry-sdk's Celery integration adds the
    task's arguments (``extra["celery-job"]``, with ``send_default_pii``) in a scope processor that runs
    after it. ``before_send`` runs last, on the serialised event (local variables are reprs by then:
    their ``key: value`` pairs are masked as free text), so nothing added late escapes masking.
    """
    if getattr(before_send, _SCRUBS, False):
        return before_send

    def scrubbed(event: dict[str, Any], hint: Any) -> dict[str, Any] | None:
        if before_send is not None:
            event = before_send(event, hint)
            if event is None:
                return None
        sink = process.sink
        if sink is None or not isinstance(event, dict) or event.get("type") in ("transaction", "check_in"):
            return event
        carries = (isinstance(hint, dict) and HINT_KEYS in hint) or RUNNING.get() is not None
        return scrub_event(event, sink.policy) if carries or sink.owns_client else event

    setattr(scrubbed, _SCRUBS, True)
    return scrubbed


def _enrich(sink: ActiveSink, event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    record = hint.get("log_record")
    if record is not None and getattr(record, "selinon_event_number", None) in sink.events:
        return None  # our logging sink's record of an event this sink reports itself
    exc = _exception_of(hint)
    ours = HINT_KEYS in hint
    if exc is not None and not process.remember(exc):
        return None  # this exception object was already sent from this process
    running = RUNNING.get()
    if ours:
        keys: tuple[str, ...] = tuple(hint[HINT_KEYS])
    elif running is not None:
        keys = running.history_keys()
        event_tags = event.setdefault("tags", {})
        for key, value in tags("", running.details).items():
            if key != "event":
                event_tags.setdefault(key, value)
        if "celery" in _mechanism_types(event):
            # Sentry's Celery integration captured the running task's exception: this is the task's
            # failure event, and ours (sent later from task_failure) will see it was sent.
            name = event_name(DISPATCHER_FAILURE if running.dispatcher else TASK_FAILURE)
            event_tags["event"] = name
            context = {"event": name, **running.details}
            if exc is not None:
                context["exc_type"] = type(exc).__name__
            event.setdefault("contexts", {})[CONTEXT_NAME] = context
    else:
        return event
    _attach(event, process.history.crumbs(keys))
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
