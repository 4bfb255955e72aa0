"""The Sentry sink: failures become Sentry events carrying their history, everything else breadcrumbs.

Needs the ``sentry`` extra. Configuration: ``{"sentry": {"dsn": "{SENTRY_DSN}"}}`` or
``Trace.trace_by_sentry(dsn)``.

**Client.** The application's Sentry client when one is active, else one the sink initialises from the
DSN, with a fresh transport in every forked child and no frame locals unless asked (:mod:`.client`).

**Masking.** Every event the sink's own client sends, and every event of the application's client that
carries our context, is masked by the details policy, by key name and by value (:mod:`.scrub`).

**What reaches Sentry.** The configured failure events (default: TASK_FAILURE, FLOW_FAILURE,
DISPATCHER_FAILURE, NODE_FAILURE) become Sentry events: the live exception when the adapter provided one
(:func:`~selinon_celery_trace.core.record.exception_scope`), else a message; tagged with the event name and
task_name, task_id, queue, flow_name, dispatcher_id, hostname; the event's details (already redacted by
the adapters) as the ``selinon_trace`` context. Every other event is kept as a breadcrumb.

**History.** A flow's events happen in many processes and Sentry's scopes cannot hold them, so each
process keeps a bounded :class:`History` per task and flow id, attached to the Sentry events captured
there (:mod:`.history`).

**One event per failure.** When Sentry's own integrations (Celery, logging) capture the same failure, a
global event processor keeps one event, enriched with our tags, context and breadcrumbs (:mod:`.processor`).

**Shutdown.** Nothing is written synchronously: sentry-sdk queues events for its sending thread, so a
capture never waits for the network. :meth:`SentrySink.flush` waits (bounded) for that queue; the Celery
adapter calls it when a pool process exits (``worker_process_shutdown``), so nothing is lost with
``worker_max_tasks_per_child=1``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from ...core import catalogue
from ...core.placeholders import expand_env
from ...core.record import Record, caller_record, current_exception, event_name
from ...core.redact import Policy
from .client import DEFAULT_SHUTDOWN_TIMEOUT as DEFAULT_SHUTDOWN_TIMEOUT
from .client import HTTP_TIMEOUT as HTTP_TIMEOUT
from .client import OwnClient, check_dsn, import_sentry, safe_dsn
from .history import CATEGORY as CATEGORY
from .history import RUNNING, VALUE_LIMIT, History, Running, breadcrumb, history_keys
from .kinds import (
    DISPATCHER_RETRY,
    FAILURE_EVENTS,
    FATE_EVENTS,
    FLOW_TERMINAL,
    TASK_RETRY,
    TASK_START,
    TASK_TERMINAL,
    WAKEUP,
    WARN,
    event_numbers,
)
from .processor import CONTEXT_NAME as CONTEXT_NAME
from .processor import HINT_KEYS, install_processor, process, scrubbing_before_send, tags
from .processor import TAG_KEYS as TAG_KEYS

__all__ = ["DEFAULT_EVENTS", "FAILURE_EVENTS", "History", "SentrySink"]

DEFAULT_EVENTS: Final = FAILURE_EVENTS


class SentrySink:
    """Send failure events to Sentry with their history; keep the other events as breadcrumbs.

    ``events``: the event names (or numbers) that become Sentry events, default
    :data:`DEFAULT_EVENTS`; every other event is a breadcrumb (``breadcrumbs=False`` drops them).
    ``shutdown_timeout``: seconds :meth:`flush` waits for unsent events. ``include_local_variables``:
    whether a client the sink initialises sends frames' local variables (masked; default False).
    ``policy``: how what sentry-sdk collects is masked (the installed configuration's policy).

    >>> sink = SentrySink("{SENTRY_DSN}")  # doctest: +SKIP
    """

    __slots__ = (
        "_own",
        "_safe",
        "_sdk",
        "breadcrumbs",
        "events",
        "key",
        "policy",
        "shutdown_timeout",
    )

    def __init__(
        self,
        dsn: str | None = None,
        *,
        events: Iterable[str | int] | None = None,
        breadcrumbs: bool = True,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        include_local_variables: bool = False,
        policy: Policy | None = None,
    ) -> None:
        sdk = import_sentry()
        # Sentry's serialised values are reprs of other values: strings are masked as free text too.
        self.policy = replace(policy if policy is not None else Policy(), free_text=True)
        self._sdk = sdk
        self.events: frozenset[int] = DEFAULT_EVENTS if events is None else event_numbers(events)
        self.breadcrumbs = bool(breadcrumbs)
        self.shutdown_timeout = float(shutdown_timeout)
        self.key: Hashable = ("sentry",)
        self._own: OwnClient | None = None
        expanded = expand_env(dsn) if dsn else None
        self._safe = safe_dsn(expanded) if expanded else None
        if expanded:
            check_dsn(expanded, self._safe or "")
        install_processor()
        client = sdk.get_client()
        if not client.is_active() and expanded:
            self._own = OwnClient(
                sdk, expanded, self.shutdown_timeout, include_local_variables, scrubbing_before_send(None)
            )
        elif client.is_active():  # the application's: its own before_send runs first, then ours
            options = client.options
            options["before_send"] = scrubbing_before_send(options.get("before_send"))
        process.sink = self

    @property
    def owns_client(self) -> bool:
        """True while the active Sentry client is the one this sink initialised."""
        own = self._own
        return own is not None and self._sdk.get_client() is own.client

    def _after_fork(self) -> None:
        """In a forked child: give our own client a transport of its own (see :mod:`.client`)."""
        if self._own is not None:
            self._own.after_fork()

    # -- events ---------------------------------------------------------------------------------

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def receive(self, event: int, record: Record) -> None:
        details = record["details"]
        state = process
        if state.sink is not self:
            state.sink = self
        client = self._sdk.get_client()
        if not isinstance(details, dict):
            details = {"details": details}
        running = RUNNING.get()
        if event in (TASK_START, WAKEUP):
            key = details.get("task_id") if event == TASK_START else details.get("dispatcher_id")
            if isinstance(key, str):
                running = Running(key, details, event == WAKEUP)
                RUNNING.set(running)
        if event in self.events:
            if client.is_active():
                self._capture(event, details, client, running, record["time"])
        elif self.breadcrumbs:
            self._breadcrumb(event, details, running, record["time"])
        self._ended(event, details, running)

    def _breadcrumb(
        self, event: int, details: dict[str, Any], running: Running | None, time: datetime
    ) -> None:
        crumb, size = breadcrumb(event, details, time)
        keys = history_keys(event, details, running)
        if keys:
            process.history.add(keys, crumb, size)
        else:  # belongs to no task or flow: an ordinary breadcrumb of the current Sentry scope
            self._sdk.add_breadcrumb(crumb)

    def _capture(
        self, event: int, details: dict[str, Any], client: Any, running: Running | None, time: datetime
    ) -> None:
        name = event_name(event)
        exc = current_exception()
        keys = history_keys(event, details, running)
        reported = exc is not None and process.was_reported(exc)
        if not reported:
            self._send(name, details, exc, keys, client)
        # Part of the history too (a flow's FLOW_FAILURE shows its NODE_FAILURE). When the exception
        # was already sent (Sentry's Celery integration captured it first and we enriched that event,
        # or an earlier event of ours carried it), this is history only, not a second event.
        if keys:
            crumb, size = breadcrumb(event, details, time)
            process.history.add(keys, crumb, size)

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
        # A failure is an error; an event of the catalogue's warnings listed in `events` (a revoked,
        # expired or rejected message, a lost process, a late beat entry) stays the warning it is.
        event = catalogue.BY_NAME[name].number if name in catalogue.BY_NAME else None
        sentry_event["level"] = "warning" if event in WARN and event not in FAILURE_EVENTS else "error"
        sentry_event.setdefault("tags", {}).update(tags(name, details))
        sentry_event.setdefault("contexts", {})[CONTEXT_NAME] = {"event": name, **details}
        hint[HINT_KEYS] = keys
        self._sdk.capture_event(sentry_event, hint=hint)

    def _ended(self, event: int, details: dict[str, Any], running: Running | None) -> None:
        # The history of a finished task or flow is of no further use here: forget it (a retried
        # task keeps its own, for its next attempt may run in this process).
        if event in TASK_TERMINAL or event in FATE_EVENTS:
            task_id = details.get("task_id")
            if running is not None and running.key == task_id:
                RUNNING.set(None)
            if event != TASK_RETRY and isinstance(task_id, str):  # its last event: forget its history
                process.history.forget(task_id)
        elif event in FLOW_TERMINAL:
            flow = details.get("dispatcher_id")
            if running is not None and running.key == flow:
                RUNNING.set(None)
            if event != DISPATCHER_RETRY and isinstance(flow, str):
                process.history.forget(flow)

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
        if process.sink is self:
            process.sink = None
            process.history.clear()
        self.flush()
        if self._own is not None:
            self._own.close()
        self._own = None

    def __repr__(self) -> str:
        where = f"dsn={self._safe!r}" if self._safe else "the application's client"
        return f"SentrySink({where})"


# -- helpers ---------------------------------------------------------------------------------------


def _message(name: str, details: dict[str, Any]) -> str:
    what = details.get("what")
    last = ""
    if isinstance(what, str):
        lines = [line for line in what.strip().splitlines() if line.strip()]
        last = lines[-1].strip() if lines else ""
    elif isinstance(details.get("reason"), str):  # a revoked or rejected message says why this way
        last = details["reason"].strip()
    elif isinstance(details.get("late"), (int, float)) and details.get("expires"):  # an expired one
        last = f"{details['late']}s past its deadline {details['expires']}"
    subject = details.get("flow_name") or details.get("task_name") or ""
    text = f"{name} {subject}".strip()
    return f"{text}: {last[:VALUE_LIMIT]}" if last else text
