"""The events sink's link to the broker: one connection and Celery event dispatcher per process.

Only the publishing thread of :class:`~selinon_celery_trace.sinks.events.CeleryEventSink` uses it.
Celery is imported when the link first connects; a failed attempt is retried after ``retry_interval``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final

__all__ = ["LOGGER", "BrokerLink"]

LOGGER: Final = logging.getLogger("selinon_celery_trace.events")
"""The events sink's logger."""


class BrokerLink:
    """The connection half of the events sink (a base class: the sink holds the settings read here)."""

    app: Any
    _app_source: Callable[[], Any] | None
    _hostname_source: Callable[[], str | None] | None
    connect_timeout: float
    retry_interval: float

    def _reset_link(self) -> None:
        # No connection yet (a forked child must not use its parent's).
        self._connection: Any = None
        self._dispatcher: Any = None
        self._next_attempt = 0.0

    def _resolve_app(self) -> Any:
        if self.app is not None:
            return self.app
        from celery import current_app

        found = self._app_source() if self._app_source is not None else None
        return found if found is not None else current_app

    def _connected(self) -> bool:
        if self._dispatcher is not None:
            return True
        now = time.monotonic()
        if now < self._next_attempt:
            return False
        self._next_attempt = now + self.retry_interval
        connection = None
        try:
            app = self._resolve_app()
            hostname = self._hostname_source() if self._hostname_source is not None else None
            # heartbeat=0: nothing in this thread would answer the broker's heartbeats.
            connection = app.connection_for_write(heartbeat=0, connect_timeout=self.connect_timeout)
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=self.connect_timeout
            )
            self._dispatcher = app.events.Dispatcher(
                connection, hostname=hostname, enabled=True, buffer_while_offline=False
            )
            self._connection = connection
        except Exception as exc:
            LOGGER.debug("selinon_celery_trace: cannot reach the broker for trace events: %r", exc)
            if connection is not None:
                _release(connection)
            return False
        return True

    def _lost(self, exc: BaseException) -> None:
        LOGGER.debug("selinon_celery_trace: lost the broker connection for trace events: %r", exc)
        self._disconnect()
        self._next_attempt = time.monotonic() + self.retry_interval

    def _disconnect(self) -> None:
        dispatcher, connection = self._dispatcher, self._connection
        self._dispatcher = self._connection = None
        if dispatcher is not None:
            try:
                dispatcher.close()
            except Exception:
                pass
        if connection is not None:
            _release(connection)


def _release(connection: Any) -> None:
    try:
        connection.release()
    except Exception:
        pass
