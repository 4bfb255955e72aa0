"""Every worker host's trace events, live, from the broker: what ``selinon-trace watch`` reads.

Workers configured with the ``events`` sink publish each trace event as a custom Celery event; the
:class:`Watcher` receives them from the broker (as ``celery events`` does) and reconnects when the
broker restarts; :func:`record_of` reads the trace record a received event carries, and
:func:`json_line_of` writes it back exactly in the trace-file format.

Unlike the rest of ``cli/``, this needs Celery; it is imported only when the command runs.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ...core.record import dumps
from .lines import Record

__all__ = ["AppNotFound", "Watcher", "json_line_of", "load_app", "record_of"]

RETRY_INTERVAL = 1.0
"""Seconds between reconnection attempts while the broker is unreachable."""


class AppNotFound(Exception):
    """``-A`` names no importable Celery app (the message says why)."""


def load_app(app: str | None, broker: str | None) -> Any:
    """Return the Celery app named by ``-A`` (as the ``celery`` command finds it), or one for ``broker``."""
    from celery import Celery
    from celery.app.utils import find_app

    if app:
        if os.getcwd() not in sys.path:  # as `celery -A` does: the app's module is in the current folder
            sys.path.insert(0, os.getcwd())
        try:
            loaded = find_app(app)
        except Exception as exc:  # an import error, a module without an app: the user's to fix
            raise AppNotFound(f"cannot load the Celery app {app!r}: {type(exc).__name__}: {exc}") from exc
        if broker:
            loaded.conf.broker_url = broker
        return loaded
    return Celery("selinon-trace-watch", broker=broker, set_as_current=False)


def record_of(event: Mapping[str, Any]) -> Record | None:
    """Return the trace record a received Celery event carries, or None when it carries none."""
    name, when = event.get("event"), event.get("time")
    if not isinstance(name, str) or not isinstance(when, str):
        return None
    try:
        ts = datetime.fromisoformat(when).timestamp()
    except ValueError:
        return None
    details = event.get("details")
    node = event.get("node")
    return Record(
        ts, name, details if isinstance(details, Mapping) else {}, node if isinstance(node, str) else ""
    )


def json_line_of(event: Mapping[str, Any]) -> bytes:
    """The trace-file line of a received event: its record, key for key, as the ``json`` sink writes it."""
    record = {
        "event": event.get("event"),
        "time": event.get("time"),
        "details": event.get("details"),
        "node": event.get("node"),
    }
    return dumps(record) + b"\n"


class Watcher:
    """Receive trace events from the broker until stopped, reconnecting when the connection is lost.

    ``on_event`` gets each received trace event (the Celery event's fields); ``on_dropped`` gets the
    Celery event that showed a process dropped more events than it last said, and how many more;
    ``on_status`` gets human messages (connected, connection lost).
    """

    def __init__(
        self,
        app: Any,
        on_event: Callable[[dict[str, Any]], None],
        on_dropped: Callable[[dict[str, Any], int], None],
        on_status: Callable[[str], None],
        event_type: str = "selinon-trace",
    ) -> None:
        self.app = app
        self.on_event = on_event
        self.on_dropped = on_dropped
        self.on_status = on_status
        self.event_type = event_type
        self.should_stop = False
        self.dropped: dict[tuple[Any, Any], int] = {}
        """The dropped-events total last seen from each (hostname, pid)."""

    def _handle(self, event: dict[str, Any]) -> None:
        total = event.get("dropped")
        if isinstance(total, int) and total > 0:
            source = (event.get("hostname"), event.get("pid"))
            seen = self.dropped.get(source, 0)
            if total > seen:
                self.dropped[source] = total
                self.on_dropped(event, total - seen)
        if "event" in event:
            self.on_event(event)

    def run(self) -> None:
        """Receive until :attr:`should_stop` is set (or Ctrl-C)."""
        from celery.events.receiver import EventReceiver

        watcher = self

        class _Receiver(EventReceiver):  # type: ignore[misc]
            # kombu's consume loop checks should_stop at every event and every idle second.
            @property
            def should_stop(self) -> bool:
                return watcher.should_stop

            @should_stop.setter
            def should_stop(self, value: bool) -> None:
                pass

            def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
                watcher.on_status(f"watching {connection.as_uri()} for {watcher.event_type} events")

        lost = False
        while not self.should_stop:
            try:
                with self.app.connection_for_read(heartbeat=0) as connection:
                    connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=5)
                    if lost:
                        self.on_status("reconnected to the broker")
                    receiver = _Receiver(
                        connection,
                        handlers={self.event_type: self._handle},
                        # Only this event type: the exact routing key Celery's dispatcher gives it.
                        routing_key=self.event_type.replace("-", "."),
                        app=self.app,
                    )
                    errors = connection.connection_errors + connection.channel_errors
                    try:
                        receiver.capture(limit=None, timeout=None, wakeup=False)
                    except errors as exc:
                        raise ConnectionError(str(exc) or type(exc).__name__) from exc
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                if self.should_stop:
                    return
                if not lost:
                    self.on_status(f"lost the broker connection ({exc}); reconnecting")
                lost = True
                time.sleep(RETRY_INTERVAL)
            else:
                lost = False
