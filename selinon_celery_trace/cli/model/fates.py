"""A message's fate when it was not run to an end: revoked, expired or rejected, when, where and why.

``TASK_REVOKED``, ``TASK_EXPIRED`` and ``TASK_REJECTED`` (this package's events from 100) are what the
worker's main process says of a message it dropped before it started, or of an attempt it terminated
(a revoke with ``terminate=True``). :func:`fate_of` reads one of them into a :class:`Fate`; the views say
it in words, so that a revoked task is never shown as "scheduled, never started".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..reading.event_names import FATE_OUTCOME
from ..reading.fields import as_float, as_int, as_str, signal_name
from ..reading.lines import Record

__all__ = ["FATES", "Fate", "as_flag", "fate_of", "timestamp"]

FATES = frozenset(FATE_OUTCOME.values())
"""The outcomes of a task that a fate event sets: ``revoked``, ``expired``, ``rejected``."""


def as_flag(details: Mapping[str, Any], key: str) -> bool | None:
    """``details[key]`` when it is a boolean (``1``/``0`` too), else ``None``."""
    value = details.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def timestamp(details: Mapping[str, Any], key: str) -> float | None:
    """``details[key]`` as POSIX seconds: an ISO-8601 time (UTC when it names no zone) or a number."""
    value = details.get(key)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return as_float(details, key)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    return as_float(details, key)


@dataclass(frozen=True, slots=True)
class Fate:
    """What became of a message that did not run to an end, as its fate event tells it."""

    kind: str  # revoked | expired | rejected
    ts: float
    started: bool  # it was running (a terminated attempt), not dropped before it started
    hostname: str | None = None
    pid: str | None = None
    retried_count: int | None = None
    signal: str | None = None  # the signal a terminated attempt got (SIGTERM, SIGKILL)
    reason: str | None = None  # Celery's words, or the rejection's reason
    problem: str | None = None  # a rejection's kind: unregistered, undecodable, invalid
    exc_type: str | None = None
    expires: float | None = None  # an expired message's deadline (POSIX seconds)
    late: float | None = None  # how long after its deadline the worker saw it

    @property
    def where(self) -> str | None:
        """The worker (and its main process id) that said so."""
        if self.hostname is None and self.pid is None:
            return None
        return f"{self.hostname or '?'}" + (f" pid {self.pid}" if self.pid else "")


def _signal(details: Mapping[str, Any]) -> str | None:
    return signal_name(details.get("signal")) or signal_name(details.get("signum"))


def fate_of(record: Record) -> Fate | None:
    """The fate a ``TASK_REVOKED`` / ``TASK_EXPIRED`` / ``TASK_REJECTED`` record tells; else ``None``."""
    kind = FATE_OUTCOME.get(record.event)
    if kind is None:
        return None
    details = record.details
    terminated = as_flag(details, "terminated") is True
    started = terminated or as_flag(details, "started") is True
    return Fate(
        kind=kind,
        ts=record.ts,
        started=started,
        hostname=as_str(details, "hostname") or (record.node or None),
        pid=as_str(details, "pid"),
        retried_count=as_int(details, "retried_count"),
        signal=_signal(details) if kind == "revoked" else None,
        reason=as_str(details, "reason"),
        problem=as_str(details, "kind"),
        exc_type=as_str(details, "exc_type"),
        expires=timestamp(details, "expires"),
        late=as_float(details, "late"),
    )
