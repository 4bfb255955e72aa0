"""The names of the events the CLI reads, and what each terminal event says about a task attempt.

An *attempt* is one execution of a task (same ``task_id``, told apart by ``retried_count``, and a
``Task.replace`` replacement's by ``replacement``): one ``TASK_START`` and one terminal event
(``TASK_END``, ``TASK_FAILURE`` or ``TASK_RETRY``); ``TASK_DISCARD_RESULT`` comes just before the
``TASK_END`` of an attempt whose result no backend keeps (a writer that wrote it alone ended the attempt
with it). A ``TASK_FAILURE`` without a start (worker lost, hard time limit) is an attempt whose start is
unknown.

A message's *fate* (this package's events from 100: ``TASK_REVOKED``, ``TASK_EXPIRED``,
``TASK_REJECTED``) is what the worker did with a message it did not run to an end: dropped it before it
started (revoked, expired, rejected) or terminated the attempt running it (a revoke with
``terminate=True``). Beat and the workers' own lives are told by ``BEAT_*`` and ``WORKER_*``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ATTEMPT_OUTCOME",
    "BEAT_LATE",
    "BEAT_START",
    "DISPATCHER_FAILURE",
    "DISPATCHER_RETRY",
    "DISPATCHER_WAKEUP",
    "FATE_OUTCOME",
    "FLOW_END",
    "FLOW_FAILURE",
    "FLOW_START",
    "NODE_FAILURE",
    "NODE_SUCCESSFUL",
    "SUBFLOW_SCHEDULE",
    "TASK_DISCARD_RESULT",
    "TASK_END",
    "TASK_EXPIRED",
    "TASK_FAILURE",
    "TASK_REJECTED",
    "TASK_RETRY",
    "TASK_REVOKED",
    "TASK_SCHEDULE",
    "TASK_START",
    "TERMINAL",
    "WORKER_EVENTS",
    "WORKER_OFFLINE",
    "WORKER_ONLINE",
    "WORKER_PROCESS_LOST",
]

TASK_START: Final = "TASK_START"
TASK_END: Final = "TASK_END"
TASK_DISCARD_RESULT: Final = "TASK_DISCARD_RESULT"
TASK_FAILURE: Final = "TASK_FAILURE"
TASK_RETRY: Final = "TASK_RETRY"
TASK_SCHEDULE: Final = "TASK_SCHEDULE"
SUBFLOW_SCHEDULE: Final = "SUBFLOW_SCHEDULE"
DISPATCHER_WAKEUP: Final = "DISPATCHER_WAKEUP"
DISPATCHER_RETRY: Final = "DISPATCHER_RETRY"
DISPATCHER_FAILURE: Final = "DISPATCHER_FAILURE"
FLOW_START: Final = "FLOW_START"
FLOW_END: Final = "FLOW_END"
FLOW_FAILURE: Final = "FLOW_FAILURE"
NODE_SUCCESSFUL: Final = "NODE_SUCCESSFUL"
NODE_FAILURE: Final = "NODE_FAILURE"
TASK_REVOKED: Final = "TASK_REVOKED"
TASK_EXPIRED: Final = "TASK_EXPIRED"
TASK_REJECTED: Final = "TASK_REJECTED"
BEAT_START: Final = "BEAT_START"
BEAT_LATE: Final = "BEAT_LATE"
WORKER_ONLINE: Final = "WORKER_ONLINE"
WORKER_OFFLINE: Final = "WORKER_OFFLINE"
WORKER_PROCESS_LOST: Final = "WORKER_PROCESS_LOST"

TERMINAL: Final = frozenset({TASK_END, TASK_DISCARD_RESULT, TASK_FAILURE, TASK_RETRY})
"""The events that end an attempt: exactly one per attempt."""

ATTEMPT_OUTCOME: Final = {
    TASK_END: "success",
    TASK_DISCARD_RESULT: "success",
    TASK_FAILURE: "failure",
    TASK_RETRY: "retry",
}
"""How an attempt ended, by its terminal event."""

FATE_OUTCOME: Final = {TASK_REVOKED: "revoked", TASK_EXPIRED: "expired", TASK_REJECTED: "rejected"}
"""A message's fate, by its event: at most one per message (a redelivered one may repeat it)."""

WORKER_EVENTS: Final = frozenset({WORKER_ONLINE, WORKER_OFFLINE, WORKER_PROCESS_LOST})
"""A worker's own life: it came online, went offline, lost a pool process."""
