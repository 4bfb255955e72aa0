"""A flow as a dispatcher drives it: its nodes, their states, and what carries over between wake-ups.

The dispatcher task (:mod:`.dispatcher`) makes one :class:`Flow` per execution from its request; the
dispatcher's body uses it (``self.flow``) to schedule nodes and see which finished.
"""

from __future__ import annotations

from typing import Any, Final

from celery import Task
from celery.backends.base import DisabledBackend
from celery.states import FAILURE, READY_STATES, REVOKED, SUCCESS

from ..core.record import exception_scope
from ..core.registry import report_internal_error
from ..trace import Trace
from . import context
from .details import flow_name_of
from .runtime import runtime

__all__ = ["STATE_HEADER", "Flow", "FlowFailed", "Node"]

STATE_HEADER: Final = "selinon_flow_state"
_STATE_VERSION: Final = 1
_SUMMARY_LIMIT: Final = 50  # nodes listed per group in events' state summaries

PENDING_NODE: Final = "pending"
SUCCEEDED_NODE: Final = "succeeded"
FAILED_NODE: Final = "failed"
RECOVERED_NODE: Final = "recovered"


class FlowFailed(Exception):
    """Raised (by :meth:`Flow.fail`, or when a node failed unrecovered) to fail the flow."""


class Node:
    """One scheduled node of a flow: a task (or subflow) with a name, its task id and its status."""

    __slots__ = ("_flow", "id", "name", "status")

    def __init__(self, flow: Flow, name: str, task_id: str, status: str = PENDING_NODE) -> None:
        self._flow = flow
        self.name = name
        self.id = task_id
        self.status = status

    @property
    def succeeded(self) -> bool:
        """True when the node's task finished successfully."""
        return self.status == SUCCEEDED_NODE

    @property
    def failed(self) -> bool:
        """True when the node's task failed (even if the failure was recovered)."""
        return self.status in (FAILED_NODE, RECOVERED_NODE)

    @property
    def result(self) -> Any:
        """The node's return value (or its exception), read from the result backend."""
        return self._flow.task.app.AsyncResult(self.id).result

    def __repr__(self) -> str:
        return f"Node({self.name!r}, {self.id!r}, {self.status})"


class Flow:
    """The flow a dispatcher execution drives; available as ``self.flow`` in the dispatcher's body."""

    def __init__(self, task: Task, request: Any, args: Any, kwargs: Any) -> None:
        self.task = task
        self.id: str = request.id
        self.name: str = flow_name_of(task)
        self._request = request
        self._waited = False
        raw = (getattr(request, "headers", None) or {}).get(STATE_HEADER)
        if not isinstance(raw, dict):
            raw = getattr(request, STATE_HEADER, None)
        state = raw if isinstance(raw, dict) and raw.get("v") == _STATE_VERSION else None
        #: True at the flow's first execution (FLOW_START), False at later wake-ups.
        self.is_new = state is None
        self.nodes: list[Node] = [
            Node(self, str(name), str(task_id), str(status))
            for name, task_id, status in (state or {}).get("nodes", [])
        ]
        #: The nodes that finished since the previous wake-up (each appears in exactly one wake-up).
        self.finished: list[Node] = []
        self.node_args = runtime.node_args(args, kwargs)
        ctx = context.read(request)
        self.parent_dispatcher_id = ctx.get("parent_dispatcher_id")

    # -- what the body uses ---------------------------------------------------------------------

    @property
    def pending(self) -> list[Node]:
        """The scheduled nodes that have not finished yet."""
        return [node for node in self.nodes if node.status == PENDING_NODE]

    @property
    def failures(self) -> list[Node]:
        """The failed nodes whose failure was not recovered (they fail the flow when it ends)."""
        return [node for node in self.nodes if node.status == FAILED_NODE]

    def schedule(self, name: str, signature: Any, **options: Any) -> Node:
        """Publish ``signature`` as the flow's node ``name`` and return the node.

        The message carries the flow's context, so the task's events (and those of anything it
        publishes) have this flow's ``flow_name`` and ``dispatcher_id``. A signature of another
        dispatcher starts a subflow (SUBFLOW_SCHEDULE).

        >>> flow.schedule("thumbnail", thumbnail.s(doc_id), countdown=5)  # doctest: +SKIP
        """
        if isinstance(self.task.backend, DisabledBackend):
            raise RuntimeError(
                f"dispatcher {self.task.name!r} needs a result backend to see its nodes finish "
                "(set result_backend in the Celery configuration)"
            )
        headers = dict(signature.options.get("headers") or {})
        headers.update(options.pop("headers", None) or {})
        flow_ctx = {"flow_name": self.name, "dispatcher_id": self.id, "node_name": name}
        if getattr(signature.type, "selinon_dispatcher", False):
            flow_ctx["parent_dispatcher_id"] = self.id
        headers[context.HEADER] = flow_ctx
        result = signature.apply_async(headers=headers, **options)
        node = Node(self, name, result.id)
        self.nodes.append(node)
        return node

    def recover(self, node: Node) -> None:
        """Mark a failed node as handled (for example by a fallback): it no longer fails the flow."""
        if node.status == FAILED_NODE:
            node.status = RECOVERED_NODE

    def wait(self, countdown: float | None = None) -> None:
        """Check again after ``countdown`` seconds (default: the task's ``check_interval``).

        Raises Celery's ``Retry`` (DISPATCHER_RETRY): call it as the body's last statement.
        """
        self._waited = True
        raise self.task.retry(countdown=self.task.check_interval if countdown is None else countdown)

    def fail(self, reason: str) -> None:
        """Fail the flow now (FLOW_FAILURE); the dispatcher task fails with :class:`FlowFailed`."""
        raise FlowFailed(reason)

    # -- what the base task uses ------------------------------------------------------------------

    def check(self) -> None:
        """Find the nodes that finished since the last wake-up and report each once."""
        app = self.task.app
        for node in self.pending:
            try:
                outcome = app.AsyncResult(node.id)
                state = outcome.state
            except Exception as exc:
                report_internal_error("Dispatcher: reading a node's state", exc)
                continue
            if state not in READY_STATES:
                continue
            details = {
                "dispatcher_id": self.id,
                "flow_name": self.name,
                "node_name": node.name,
                "node_id": node.id,
            }
            if state == SUCCESS:
                node.status = SUCCEEDED_NODE
                Trace.log(Trace.NODE_SUCCESSFUL, details)
            else:
                node.status = FAILED_NODE
                result = outcome.result
                shown = (
                    runtime.exception(result) if isinstance(result, BaseException) else type(result).__name__
                )
                what = outcome.traceback or (f"{state}: {shown}" if state in (FAILURE, REVOKED) else state)
                error = outcome.result if isinstance(outcome.result, BaseException) else None
                with exception_scope(error):
                    Trace.log(Trace.NODE_FAILURE, details, what=runtime.traceback(what))
            self.finished.append(node)

    def dump(self) -> dict[str, Any]:
        """The state carried to the next wake-up (complete: every node, its id and status)."""
        return {"v": _STATE_VERSION, "nodes": [[n.name, n.id, n.status] for n in self.nodes]}

    def summary(self) -> dict[str, Any]:
        """A bounded, JSON-safe summary of the flow's state for events."""
        groups: dict[str, list[dict[str, str]]] = {
            "active_nodes": [],
            "finished_nodes": [],
            "failed_nodes": [],
        }
        for node in self.nodes:
            group = {PENDING_NODE: "active_nodes", SUCCEEDED_NODE: "finished_nodes"}.get(
                node.status, "failed_nodes"
            )
            groups[group].append({"name": node.name, "id": node.id})
        summary: dict[str, Any] = {}
        for group, entries in groups.items():
            summary[group] = entries[:_SUMMARY_LIMIT]
            if len(entries) > _SUMMARY_LIMIT:
                summary[group].append({"name": "...", "id": f"[{len(entries) - _SUMMARY_LIMIT} more]"})
        return summary

    def base_details(self) -> dict[str, Any]:
        delivery = getattr(self._request, "delivery_info", None) or {}
        queue = None
        if not getattr(self._request, "is_eager", False) and isinstance(delivery, dict):
            queue = runtime.queue_of(
                self.task.app, delivery.get("exchange"), delivery.get("routing_key"), True
            )
        details: dict[str, Any] = {
            "dispatcher_id": self.id,
            "flow_name": self.name,
            "node_args": self.node_args,
            "queue": queue,
            "selective": False,
        }
        if self.parent_dispatcher_id:
            details["parent_dispatcher_id"] = self.parent_dispatcher_id
        return details
