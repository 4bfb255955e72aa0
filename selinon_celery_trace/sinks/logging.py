"""The Python ``logging`` sink, in Selinon's message form."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from ..core.catalogue import LEVELS
from ..core.record import Record, aware, caller_record, sorted_dumps

__all__ = ["DEFAULT_LOGGER", "LoggingSink"]

DEFAULT_LOGGER = "selinon_celery_trace"
_INFO = logging.INFO


class LoggingSink:
    """Log each event as Selinon does: ``SELINON <node> - <EVENT> : {"details":…,"event":…,"time":…}``.

    The node (host name) is right-aligned in 10 characters (``%10s``) and the JSON's keys are sorted at
    every depth, as Selinon writes them; the JSON is compact and ``time`` is ISO-8601 with its offset
    (the JSON sink's), where Selinon writes ``str(datetime.utcnow())``: ``datetime.fromisoformat``
    reads both.

    DISPATCHER_FAILURE is logged at ERROR, the reference's WARN_EVENTS (and this package's extension of
    them, ``catalogue.EXTENSION_WARN_EVENTS``) at WARNING, the rest at INFO.
    The event name, number, details and time (aware UTC, the same in every sink) also travel as
    ``extra`` (``selinon_event``, ``selinon_event_number``, ``selinon_details``, ``selinon_time``) for
    formatters and log processors.
    """

    __slots__ = ("key", "logger")

    def __init__(self, logger: logging.Logger | str | None = None) -> None:
        if logger is None or isinstance(logger, str):
            logger = logging.getLogger(logger or DEFAULT_LOGGER)
        self.logger = logger
        self.key: Hashable = ("logging", logger.name)

    def receive(self, event: int, record: Record) -> None:
        try:
            level = LEVELS[event]
        except (KeyError, TypeError):
            level = _INFO
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        name, details, time = record["event"], record["details"], aware(record["time"])
        text = sorted_dumps({"details": details, "event": name, "time": time})
        logger.log(
            level,
            "SELINON %10s - %s : %s",
            record["node"],
            name,
            text.decode("utf-8", "backslashreplace"),
            extra={
                "selinon_event": name,
                "selinon_event_number": event,
                "selinon_details": details,
                "selinon_time": time,
            },
        )

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def __repr__(self) -> str:
        return f"LoggingSink({self.logger.name!r})"
