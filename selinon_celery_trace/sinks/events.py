"""The ``events`` sink: trace events as custom Celery events, so one watcher sees every worker host.

Celery already carries monitoring events between hosts (``celery events`` and Flower read them from the
``celeryev`` exchange). This sink publishes each trace event there, as an event of its own type
(``selinon-trace`` by default), and ``selinon-trace watch`` receives them from every host::

    app.conf.selinon_trace = [{"events": True}]
    # or {"events": {"type": "selinon-trace", "events": ["TASK_FAILURE", "FLOW_FAILURE"]}}

The event's fields are the trace record's (``event``, ``time``, ``details``, ``node``), beside Celery's
own ``hostname`` (the worker's node name), ``pid``, ``timestamp`` and ``clock``. A process that had to
drop events says so in ``dropped``: the number of events it dropped since it started, carried by each
of its later events and by a report of its own (an event of the same type with no ``event`` field),
sent as soon as the broker answers again and repeated for a few seconds, since a Redis that restarted
routes nothing to a watcher until the watcher has reconnected too. A watcher reports each increase.

Never blocking a task is the design's first rule. Publishing on a broken connection can block (kombu
retries, TCP timeouts), so ``receive`` only encodes the line and puts it into a bounded in-process
queue; a background thread per process (started at the first event, so after the prefork fork, and
reset in a forked child) owns the connection and publishes. When the queue is full, or the broker does
not answer, events are dropped and counted rather than slowing tasks or growing memory. ``flush()``
(called by the adapter when a pool process exits) waits a little for the queue to drain.

This sink needs Celery (imported when it first connects); the core never imports it.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Final

from ..core import catalogue
from ..core.record import Record, caller_record, line
from .broker import LOGGER as _logger
from .broker import BrokerLink

__all__ = ["DEFAULT_EVENT_TYPE", "CeleryEventSink"]

DEFAULT_EVENT_TYPE: Final = "selinon-trace"
"""The Celery event type trace events are published as (its routing key is ``selinon.trace``)."""

REPORT_REPEAT: Final = 10.0
"""Seconds during which a process re-sends its dropped-events report (every ``retry_interval`` * 2)."""

DEFAULT_QUEUE_SIZE: Final = 10_000
"""Events waiting to be published, per process; beyond it new events are dropped (and counted)."""

_STOP: Final = b""  # sentinel in the queue: never a real line (those end with a newline)
_instances: weakref.WeakSet[CeleryEventSink] = weakref.WeakSet()


class CeleryEventSink(BrokerLink):
    """Publish each trace event as a custom Celery event through the app's event dispatcher.

    ``app`` is the Celery app whose broker carries the events; None means the one ``app_source()``
    returns (the Celery adapter passes the app tracing was installed for), else Celery's current app,
    looked up when the first event is published. ``hostname_source()`` gives the worker's node name
    the events are sent under (None: Celery's default). ``events``
    limits the events sent (names; None: all). ``queue_size`` bounds the events waiting to be sent in
    each process. ``connect_timeout`` bounds one connection attempt; ``retry_interval`` is the pause
    between attempts while the broker is unreachable (events arriving meanwhile are dropped).

    >>> sink = CeleryEventSink(events=["TASK_FAILURE"])
    >>> sink.dropped
    0
    """

    # Details are only encoded, at once, and not kept: values may be orjson Fragments, and the adapters
    # may extend a dict after this sink encoded it.
    encodes_details = True

    def __init__(
        self,
        app: Any = None,
        *,
        app_source: Callable[[], Any] | None = None,
        hostname_source: Callable[[], str | None] | None = None,
        event_type: str = DEFAULT_EVENT_TYPE,
        events: Iterable[str] | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        connect_timeout: float = 2.0,
        retry_interval: float = 1.0,
    ) -> None:
        if not event_type or not isinstance(event_type, str):
            raise ValueError("the event type must be a non-empty string")
        self.app = app
        self._app_source = app_source
        self._hostname_source = hostname_source
        self.event_type = event_type
        self.wanted = None if events is None else catalogue.numbers(events)
        self.queue_size = queue_size
        self.connect_timeout = connect_timeout
        self.retry_interval = retry_interval
        self.key: Hashable = ("celery-events", event_type)
        self.dropped = 0
        """Events this process dropped since it started (never reset; reports send the increments)."""
        self.published = 0
        """Events this process published."""
        self._reset()
        _instances.add(self)

    def _reset(self) -> None:
        # Everything that belongs to one process: a forked child starts over with fresh ones (a lock
        # or a connection copied from the parent mid-use would be broken in the child).
        self._lock = threading.Lock()
        self._queue: queue.Queue[bytes] = queue.Queue(self.queue_size)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._unreported = 0  # dropped, not yet reported over the broker
        self._report_until = 0.0  # re-send the report until then (monotonic)
        self._next_report = 0.0
        self._reset_link()

    def _after_fork(self) -> None:
        self.dropped = self.published = 0
        self._reset()

    # -- the task's side: never blocks ----------------------------------------------------------------

    def receive(self, event: int, record: Record) -> None:
        if self.wanted is not None and event not in self.wanted:
            return
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(line(record))
        except queue.Full:
            self._drop()

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def _drop(self, count: int = 1) -> None:
        with self._lock:
            self.dropped += count
            self._unreported += count

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(target=self._run, name="selinon-trace-events", daemon=True)
            self._thread = thread
        thread.start()

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait up to ``timeout`` seconds for the queued events to be published (or dropped).

        Returns True when the queue is empty. Called when a pool process exits, which runs no
        ``atexit`` handlers.
        """
        if self._thread is None:
            return True
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline or not self._thread.is_alive():
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Publish what is queued (briefly), stop the thread and release the connection."""
        self.flush()
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=1.0)
            except queue.Full:
                pass
            thread.join(timeout=2.0)

    # -- the publishing thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                line = self._queue.get(timeout=self.retry_interval)
            except queue.Empty:
                now = time.monotonic()
                if (self._unreported or (now < self._report_until and now >= self._next_report)) and (
                    self._connected()
                ):
                    self._report_dropped()
                continue
            try:
                if line is _STOP:
                    self._disconnect()
                    return
                self._publish(line)
            except Exception as exc:  # never let the thread die: the process would stop publishing
                _logger.debug("selinon_celery_trace: publishing a trace event failed: %r", exc)
            finally:
                self._queue.task_done()

    def _publish(self, line: bytes) -> None:
        if not self._connected():
            self._drop()
            return
        if self._unreported:
            self._report_dropped()
        record = json.loads(line)
        try:
            self._dispatcher.send(
                self.event_type,
                retry=False,
                event=record["event"],
                time=record["time"],
                details=record["details"],
                node=record["node"],
                dropped=self.dropped,
            )
        except Exception as exc:
            self._lost(exc)
            self._drop()
        else:
            self.published += 1

    def _report_dropped(self) -> None:
        with self._lock:
            count, self._unreported = self._unreported, 0
            total = self.dropped
        now = time.monotonic()
        if count:
            _logger.warning(
                "selinon_celery_trace: %d trace events were dropped (the broker was unreachable or the "
                "events queue was full; %d since this process started)",
                count,
                total,
            )
            self._report_until = now + REPORT_REPEAT
        self._next_report = now + 2 * self.retry_interval
        try:
            self._dispatcher.send(self.event_type, retry=False, dropped=total)
        except Exception as exc:
            self._lost(exc)

    def __repr__(self) -> str:
        return f"CeleryEventSink(event_type={self.event_type!r})"


def _reset_after_fork() -> None:
    for sink in list(_instances):
        sink._after_fork()


def _flush_at_exit() -> None:
    for sink in list(_instances):
        try:
            sink.flush(timeout=1.0)
        except Exception:
            pass


os.register_at_fork(after_in_child=_reset_after_fork)
atexit.register(_flush_at_exit)
