"""The names of the events the CLI reads, and what each terminal event says about a task attempt.

An *attempt* is one execution of a task (same ``task_id``, told apart by ``retried_count``, and a
``Task.replace`` replacement's by ``replacement``): one ``TASK_START`` and one terminal event
(``TASK_END``, ``TASK_FAILURE`` or ``TASK_RETRY``); ``TASK_DISCARD_RESULT`` comes just before the
``TASK_END`` of an attempt whose result no backend keeps (a writer that wrote it alone ended the attempt
with it). A ``TASK_FAILURE`` without a start (worker lost, hard time limit) is an attempt whose start is
unknown.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ATTEMPT_OUTCOME",
    "DISPATCHER_FAILURE",
    "DISPATCHER_RETRY",
    "DISPATCHER_WAKEUP",
    "FLOW_END",
    "FLOW_FAILURE",
    "FLOW_START",
    "NODE_FAILURE",
    "NODE_SUCCESSFUL",
    "SUBFLOW_SCHEDULE",
    "TASK_DISCARD_RESULT",
    "TASK_END",
    "TASK_FAILURE",
    "TASK_RETRY",
    "TASK_SCHEDULE",
    "TASK_START",
    "TERMINAL",
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

TERMINAL: Final = frozenset({TASK_END, TASK_DISCARD_RESULT, TASK_FAILURE, TASK_RETRY})
"""The events that end an attempt: exactly one per attempt."""

ATTEMPT_OUTCOME: Final = {
    TASK_END: "success",
    TASK_DISCARD_RESULT: "success",
    TASK_FAILURE: "failure",
    TASK_RETRY: "retry",
}
"""How an attempt ended, by its terminal event."""
