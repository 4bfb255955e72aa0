"""Selinon's trace events as data: one row per event (number, name, description, emitter, detail keys).

The reference ``selinon.trace``'s 50 events (0-49) with exactly its numbers and names, then the three
names later Selinon releases added (50-52: ``FLOW_SCHEDULE``, ``STORAGE_DELETE``, ``STORAGE_DELETED``;
Selinon 1.1+ renumbered its events, we do not). The rows are in number order. This package's own Celery
events (100 up) are in :mod:`.celery_events`.

:mod:`.catalogue` builds its indexes from them. A table, not code: this module holds nothing else.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CANVAS_KEYS", "REPLACEMENT_KEYS", "ROWS", "TASK_KEYS", "WARN_EVENTS"]

_DISPATCHER = "Dispatcher"
_TASK = "Task"
_BOTH = "Dispatcher/Task"
_USER = "User code"

# Keys shared by several events (as SPEC section 4 and the reference list them).
# The canvas facts (chain, group, chord, link, link_error) of a task: only on the events of a canvas's
# tasks, never on those of a task outside a canvas. TASK_SCHEDULE adds what Celery plans to run after it.
CANVAS_KEYS = ("root_id", "group_id", "group_index", "chord_id", "callback_of", "errback_of")
_CANVAS_PLAN_KEYS = ("chain", "link", "link_error", "chord_body")
# A Task.replace replacement (it inherits the replaced task's id): the replaced task's name and the
# nesting (1, or 2 for a replacement's replacement); only on the events of a replacement.
REPLACEMENT_KEYS = ("replaces", "replacement")
_WAKEUP_KEYS = ("dispatcher_id", "flow_name", "node_args", "state", "retry", "queue", "selective")
_SCHEDULE_KEYS = (
    "task_name",
    "task_id",
    "queue",
    "countdown",
    "eta",
    "parent",
    "dispatcher_id",
    "flow_name",
    "node_args",
    "condition_str",
    "foreach_str",
    "selective",
    "selective_edge",
    "expires",
    "periodic",
    *CANVAS_KEYS,
    *_CANVAS_PLAN_KEYS,
    *REPLACEMENT_KEYS,
)
MESSAGE_KEYS = (
    "task_name",
    "task_id",
    "queue",
    "parent",
    "dispatcher_id",
    "flow_name",
    "node_args",
    "retried_count",
    "hostname",
    "pid",
)
"""A task message's identity as the worker knows it before (or without) running it."""
TASK_KEYS = (*MESSAGE_KEYS, "queue_wait", *CANVAS_KEYS, *REPLACEMENT_KEYS)
_NODE_KEYS = ("dispatcher_id", "flow_name", "node_name", "node_id")
_STORAGE_KEYS = ("storage_name", "task_name", "task_id", "flow_name", "dispatcher_id")
_CACHE_KEYS = ("node_name", "node_id", "flow_name", "dispatcher_id")


# WARN_EVENTS exactly as the reference lists them (order included).
WARN_EVENTS: Final[tuple[int, ...]] = (12, 7, 9, 8, 10, 37, 40, 41, 42, 43, 44, 46, 48, 49)

ROWS: Final[tuple[tuple[int, str, str, str, tuple[str, ...]], ...]] = (
    (0, "DISPATCHER_WAKEUP", "Dispatcher was started and will check flow status.", _DISPATCHER, _WAKEUP_KEYS),
    (
        1,
        "FLOW_START",
        "A new flow is starting, this event is emitted after DISPATCHER_WAKEUP.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "node_args", "queue", "selective"),
    ),
    (2, "TASK_SCHEDULE", "A new task is scheduled (published to the broker).", _BOTH, _SCHEDULE_KEYS),
    (3, "TASK_START", "A task is going to be executed on the worker side.", _TASK, TASK_KEYS),
    (
        4,
        "SUBFLOW_SCHEDULE",
        "A flow (another dispatcher) is scheduled by a dispatcher.",
        _DISPATCHER,
        (*_SCHEDULE_KEYS, "parent_dispatcher_id"),
    ),
    (
        5,
        "TASK_END",
        "End of task execution, the task finished successfully.",
        _TASK,
        (*TASK_KEYS, "runtime", "state", "replaced_by"),
    ),
    (
        6,
        "NODE_SUCCESSFUL",
        "A node in the flow graph (task or flow) successfully finished.",
        _DISPATCHER,
        _NODE_KEYS,
    ),
    (
        7,
        "TASK_DISCARD_RESULT",
        "A task returned a value other than None, but no storage (result backend) keeps it.",
        _TASK,
        (*TASK_KEYS, "runtime", "result"),
    ),
    (
        8,
        "TASK_FAILURE",
        "End of task, the task raised an exception and is marked as failed.",
        _TASK,
        (*TASK_KEYS, "what", "exc_type", "max_retry"),
    ),
    (
        9,
        "TASK_RETRY",
        "A task failed by raising an exception and will be retried.",
        _TASK,
        (*TASK_KEYS, "what", "reason", "retry_countdown", "max_retry"),
    ),
    (
        10,
        "FLOW_FAILURE",
        "The flow failed: one or more nodes in the flow graph failed without a successful fallback.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "state", "what"),
    ),
    (
        11,
        "DISPATCHER_FAILURE",
        "An error in the dispatcher's own code; this should not normally be seen.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "what"),
    ),
    (
        12,
        "NODE_FAILURE",
        "A captured failure of a node in the flow graph: a task or flow failure.",
        _DISPATCHER,
        (*_NODE_KEYS, "what"),
    ),
    (
        13,
        "FALLBACK_START",
        "A fallback for node failures in the flow is started to handle node failures.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "nodes", "fallback"),
    ),
    (
        14,
        "DISPATCHER_RETRY",
        "The dispatcher finished scheduling new nodes and will retry to check flow status after a while.",
        _DISPATCHER,
        (*_WAKEUP_KEYS, "state_dict", "parent"),
    ),
    (
        15,
        "FLOW_END",
        "The flow has successfully ended.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "state"),
    ),
    (
        16,
        "STORAGE_CONNECT",
        "A node did not connect to its storage yet, so a new connection is requested.",
        _BOTH,
        _STORAGE_KEYS,
    ),
    (17, "STORAGE_DISCONNECT", "Disconnecting from a storage.", _BOTH, _STORAGE_KEYS),
    (
        18,
        "STORAGE_RETRIEVE",
        "Retrieve a task result from the storage that was assigned to the task.",
        _BOTH,
        _STORAGE_KEYS,
    ),
    (19, "STORAGE_RETRIEVED", "The requested result of a task was retrieved.", _BOTH, _STORAGE_KEYS),
    (20, "STORAGE_STORE", "Store the result of a task in the assigned storage.", _TASK, _STORAGE_KEYS),
    (
        21,
        "STORAGE_STORED",
        "The result of a task has been stored in the assigned storage.",
        _TASK,
        _STORAGE_KEYS,
    ),
    (
        22,
        "EDGE_COND_FALSE",
        "The condition on an edge was evaluated as false, so destination nodes will not be scheduled.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "nodes_from", "nodes_to", "condition_str"),
    ),
    (
        23,
        "FOREACH_RESULT",
        "Result of a foreach function, based on which N nodes will be scheduled.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "nodes_from", "nodes_to", "foreach_str", "result"),
    ),
    (
        24,
        "NODE_STATE_CACHE_GET",
        "The state of a node (successful or failed) is requested from the cache.",
        _DISPATCHER,
        _CACHE_KEYS,
    ),
    (
        25,
        "NODE_STATE_CACHE_ADD",
        "A requested state cache entry was not found and the node finished, so a new entry is added.",
        _DISPATCHER,
        _CACHE_KEYS,
    ),
    (
        26,
        "NODE_STATE_CACHE_MISS",
        "A requested entry was not found in the state cache.",
        _DISPATCHER,
        _CACHE_KEYS,
    ),
    (
        27,
        "NODE_STATE_CACHE_HIT",
        "A requested entry was found in the state cache and will be used.",
        _DISPATCHER,
        _CACHE_KEYS,
    ),
    (
        28,
        "TASK_RESULT_CACHE_GET",
        "Try to hit the result cache for an already requested task result.",
        _BOTH,
        _CACHE_KEYS,
    ),
    (29, "TASK_RESULT_CACHE_ADD", "Add a requested task result to the result cache.", _BOTH, _CACHE_KEYS),
    (
        30,
        "TASK_RESULT_CACHE_MISS",
        "A requested task result was not found in the result cache.",
        _BOTH,
        _CACHE_KEYS,
    ),
    (
        31,
        "TASK_RESULT_CACHE_HIT",
        "A requested task result was found in the result cache.",
        _BOTH,
        _CACHE_KEYS,
    ),
    (
        32,
        "SELECTIVE_OMIT_EDGE",
        "An edge will not be fired: it is not on the direct path to the requested tasks of a selective run.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "nodes_from", "nodes_to", "selective"),
    ),
    (
        33,
        "SELECTIVE_OMIT_NODE",
        "A node will not be scheduled as it is neither requested nor a dependency of a requested task "
        "in a selective run.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "node_name", "selective"),
    ),
    (
        34,
        "SELECTIVE_RUN_FUNC",
        "Result of the selective run function of a selective task run.",
        _DISPATCHER,
        ("dispatcher_id", "parent", "selective", "node_args", "flow_name", "result", "node_name"),
    ),
    (
        35,
        "SELECTIVE_TASK_REUSE",
        "Already computed results are reused in a selective task run.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "node_name", "task_id", "selective"),
    ),
    (
        36,
        "STORAGE_STORE_ERROR",
        "Error information is stored in the assigned storage on task failure.",
        _TASK,
        (*_STORAGE_KEYS, "what"),
    ),
    (
        37,
        "STORAGE_OMIT_STORE_ERROR",
        "Storing the error is skipped: no storage adapter or store_error() is not implemented.",
        _TASK,
        _STORAGE_KEYS,
    ),
    (
        38,
        "FALLBACK_COND_FALSE",
        "The condition of a fallback evaluated as false, so the fallback is not run.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "nodes", "fallback", "condition_str"),
    ),
    (
        39,
        "FALLBACK_COND_TRUE",
        "The condition of a fallback evaluated as true, so the fallback is run.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "nodes", "fallback", "condition_str"),
    ),
    (
        40,
        "NODE_STATE_CACHE_ISSUE",
        "The node state cache raised an error; the state is read from the result backend instead.",
        _DISPATCHER,
        (*_CACHE_KEYS, "what"),
    ),
    (
        41,
        "TASK_RESULT_CACHE_ISSUE",
        "The task result cache raised an error; the result is read from the storage instead.",
        _BOTH,
        (*_CACHE_KEYS, "what"),
    ),
    (
        42,
        "STORAGE_ISSUE",
        "A storage operation raised an error.",
        _BOTH,
        (*_STORAGE_KEYS, "what"),
    ),
    (
        43,
        "RESULT_BACKEND_ISSUE",
        "Celery's result backend raised an error while the flow state was checked.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "node_name", "node_id", "what"),
    ),
    (
        44,
        "FLOW_RETRY",
        "A failed flow is retried as a whole (the flow's retry policy allows another run).",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "state", "retried_count", "what"),
    ),
    (
        45,
        "MIGRATION",
        "A migration of the flow state to a newer flow definition was done.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "migration_version", "latest_migration_version"),
    ),
    (
        46,
        "MIGRATION_SKEW",
        "Flow migration error: the flow state is newer than the available migrations (skewed migration).",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "migration_version", "latest_migration_version", "what"),
    ),
    (
        47,
        "MIGRATION_TAINTED_FLOW",
        "A migration marked the flow as tainted: its graph changed under running nodes.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "migration_version", "tainted_edge", "tainting_nodes"),
    ),
    (
        48,
        "MIGRATION_ERROR",
        "Running a flow migration raised an error.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "migration_version", "what"),
    ),
    (
        49,
        "EAGER_FAILURE",
        "A task configured for eager failure failed, so the whole flow is stopped at once.",
        _DISPATCHER,
        ("dispatcher_id", "flow_name", "node_name", "node_id", "what"),
    ),
    # Names of later Selinon releases (1.1+), numbered after the reference's so its numbers stand.
    (
        50,
        "FLOW_SCHEDULE",
        "A flow has been scheduled (published to the broker).",
        "Msg producer",
        ("dispatcher_id", "flow_name", "node_args", "queue", "selective"),
    ),
    (51, "STORAGE_DELETE", "Delete the result of a task from the assigned storage.", _BOTH, _STORAGE_KEYS),
    (
        52,
        "STORAGE_DELETED",
        "The result of a task was deleted from the assigned storage.",
        _BOTH,
        _STORAGE_KEYS,
    ),
)
