"""This package's own events (numbers 100 up): what happens to a Celery deployment outside an attempt.

Selinon has no words for these: a message that never ran (revoked, expired, rejected), a periodic
schedule (``celery beat``), a worker coming and going, a pool process lost. They are this package's,
not Selinon's, so they take numbers from 100 (the reference keeps 0-49, later Selinon names 50-52).
Names are the stable key. A table, not code: :mod:`.catalogue` builds its indexes from it, and the
docs' event table is generated from it with the others.

The warning ones are listed in :data:`EXTENSION_WARN_EVENTS`, a documented extension of the
reference's ``WARN_EVENTS`` (which stays exactly the reference's tuple).
"""

from __future__ import annotations

from typing import Final

from .events import CANVAS_KEYS, MESSAGE_KEYS, REPLACEMENT_KEYS

__all__ = ["EXTENSION_WARN_EVENTS", "ROWS"]

_WORKER = "Worker (main process)"
_BEAT = "Beat"

# A message's identity with the canvas it belongs to.
_MESSAGE_KEYS = (*MESSAGE_KEYS, *CANVAS_KEYS, *REPLACEMENT_KEYS)

EXTENSION_WARN_EVENTS: Final[tuple[int, ...]] = (100, 101, 102, 104, 107)
"""The events of this table logged at WARNING (stderr for the JSON stream sink), as WARN_EVENTS are."""

ROWS: Final[tuple[tuple[int, str, str, str, tuple[str, ...]], ...]] = (
    (
        100,
        "TASK_REVOKED",
        "A task was revoked: dropped before it started, or its running attempt terminated (then its end).",
        _WORKER,
        (*_MESSAGE_KEYS, "started", "terminated", "signum", "signal", "reason"),
    ),
    (
        101,
        "TASK_EXPIRED",
        "A task's `expires` deadline passed before a worker could start it; it never ran.",
        _WORKER,
        (*_MESSAGE_KEYS, "expires", "late"),
    ),
    (
        102,
        "TASK_REJECTED",
        "A worker dropped a message it could not take: an unregistered task name, an undecodable, invalid or"
        " not accepted body, or no task message at all (`kind`).",
        _WORKER,
        (*_MESSAGE_KEYS, "reason", "kind", "exc_type", "content_type", "content_encoding"),
    ),
    (
        103,
        "BEAT_START",
        "celery beat started: its scheduler and the entries it will send.",
        _BEAT,
        ("hostname", "pid", "scheduler", "max_interval", "entries"),
    ),
    (
        104,
        "BEAT_LATE",
        "celery beat sent a periodic entry later than its due time (how late, against its schedule).",
        _BEAT,
        ("entry", "task_name", "task_id", "schedule", "due", "late", "hostname", "pid"),
    ),
    (
        105,
        "WORKER_ONLINE",
        "A worker started consuming: its pool, concurrency, queues and software versions.",
        _WORKER,
        ("hostname", "pid", "pool", "concurrency", "queues", "software"),
    ),
    (
        106,
        "WORKER_OFFLINE",
        "A worker stopped consuming and is going away (warm or cold shutdown).",
        _WORKER,
        ("hostname", "pid", "reason", "signal", "exitcode", "uptime"),
    ),
    (
        107,
        "WORKER_PROCESS_LOST",
        "A worker's pool process died unasked (exit code or signal), with the task it was running if any.",
        _WORKER,
        ("hostname", "pid", "process_pid", "exitcode", "signal", "task_name", "task_id"),
    ),
)
