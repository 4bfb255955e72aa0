"""The Python ``logging`` sink, in the reference's message form."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from ..core.catalogue import LEVELS
from ..core.record import Record, aware, caller_record, dumps

__all__ = ["DEFAULT_LOGGER", "LoggingSink"]

DEFAULT_LOGGER = "selinon_celery_trace"
_INFO = logging.INFO


class LoggingSink:
    """Log each event as ``SELINON <node> - <EVENT> : <json>``.

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
        name, details = record["event"], record["details"]
        text = dumps(details).decode("utf-8", "backslashreplace")
        logger.log(
            level,
            "SELINON %s - %s : %s",
            record["node"],
            name,
            text,
            extra={
                "selinon_event": name,
                "selinon_event_number": event,
                "selinon_details": details,
                "selinon_time": aware(record["time"]),
            },
        )

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def __repr__(self) -> str:
        return f"LoggingSink({self.logger.name!r})"
