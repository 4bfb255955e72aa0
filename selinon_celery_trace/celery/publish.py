"""The publish hook (``before_task_publish``, in any process): TASK_SCHEDULE and the outgoing flow context.

Every message a process publishes gets the flow context of the task publishing it (in our header), so
the next task, on any host, knows its flow and its true parent; and the publish is traced as
TASK_SCHEDULE, or SUBFLOW_SCHEDULE when a dispatcher starts another flow.
"""

from __future__ import annotations

from datetime import datetime, timezone
from time import time
from typing import Any

from celery._state import get_current_task

from ..core.record import message_scope
from ..core.registry import emit, report_internal_error, wants
from ..trace import Trace
from . import canvas, context, replacement
from .details import flow_name_of, flow_of, is_dispatcher
from .runtime import runtime

__all__ = ["on_before_task_publish"]

_UTC = timezone.utc


def on_before_task_publish(
    sender: Any = None,
    body: Any = None,
    exchange: Any = None,
    routing_key: Any = None,
    headers: Any = None,
    **_: Any,
) -> None:
    """TASK_SCHEDULE / SUBFLOW_SCHEDULE, and the flow context written into the message headers."""
    try:
        _publish(sender, body, exchange, routing_key, headers)
    except Exception as exc:
        report_internal_error("before_task_publish receiver", exc)


def _publish(sender: Any, body: Any, exchange: Any, routing_key: Any, headers: Any) -> None:
    if not isinstance(headers, dict):
        return
    if isinstance(body, dict):  # message protocol 1
        task_id, name, args, kwargs = body.get("id"), body.get("task"), body.get("args"), body.get("kwargs")
    else:
        task_id, name = headers.get("id"), headers.get("task") or sender
        args, kwargs = (
            (body[0], body[1]) if isinstance(body, (tuple, list)) and len(body) >= 2 else (None, None)
        )
    current = get_current_task()
    request = current.request if current is not None else None
    current_id = getattr(request, "id", None)
    own = current_id is not None and task_id == current_id  # the task's retry, or its replacement
    marker = replacement.marker(current, request, headers, task_id) if current_id is not None else None

    outgoing = context.read(headers)
    if context.HEADER not in headers and current_id is not None:
        # Never overwrite a context someone set (the Dispatcher's helpers do, per node).
        outgoing = flow_of(current, request)
        if own:
            # Celery names a retried (or replaced) top-level task as its own parent; carry the real one.
            outgoing["parent"] = context.true_parent(vars(request), context.read(request))
            if not is_dispatcher(current):
                kept = ("node_name", "canvas", *canvas.CARRIED, *replacement.CARRIED)  # as the first
                outgoing.update({k: v for k, v in context.read(request).items() if k in kept})
        else:
            # A link callback, an errback or a chord body: only the task publishing it knows.
            outgoing.update(canvas.link_of(request, task_id, name, args, headers.get("parent_id")))
        if marker is not None:
            outgoing.update(marker)
        if outgoing:
            headers[context.HEADER] = outgoing
    planned = canvas.schedule_facts(headers, body, outgoing)
    if planned is not None:
        # A task in a canvas: our header says so, for the worker to add the canvas facts (a task
        # outside one has no header to read, and pays nothing for canvas tracing).
        carried = headers.get(context.HEADER)
        outgoing["canvas"] = True
        headers[context.HEADER] = {**(carried if isinstance(carried, dict) else {}), "canvas": True}
    # The publish time, for the queue wait of the attempt this message starts, in every message: which
    # sinks the workers have is not known here (a client without a metrics sink still feeds theirs).
    headers[context.SENT] = time()
    if marker is not None and marker["replaces_id"] == current_id:
        replacement.note_replaced(current_id, task_id, name, planned)
    if own and marker is None:
        return  # the retry is reported by TASK_RETRY / DISPATCHER_RETRY, not as a new schedule

    app = runtime.app if runtime.app is not None else getattr(current, "app", None)
    target = _registered(app, name)
    subflow = is_dispatcher(target) and current is not None and is_dispatcher(current)
    event = Trace.SUBFLOW_SCHEDULE if subflow else Trace.TASK_SCHEDULE
    if not wants(event):
        return

    eta = headers.get("eta")
    details = {
        "task_name": name,
        "task_id": task_id,
        "queue": runtime.queue_of(app, exchange, routing_key, False) if app is not None else None,
        "countdown": _countdown(eta),
        "eta": eta if isinstance(eta, str) else None,
        "parent": outgoing.get("parent") if own else headers.get("parent_id"),
        "dispatcher_id": outgoing.get("dispatcher_id"),
        "flow_name": outgoing.get("flow_name"),
        "node_args": runtime.event_args(args, kwargs),
        "condition_str": None,
        "foreach_str": None,
        "selective": False,
        "selective_edge": False,
    }
    if outgoing.get("node_name"):
        details["node_name"] = outgoing["node_name"]
    if marker is not None and marker["replaces_id"] == task_id:
        details.update(replacement.details_of(marker))
    expires = headers.get("expires")  # message protocol 2 (Celery's default): a header, None when unset
    if expires is not None:
        details["expires"] = expires if isinstance(expires, str) else runtime.text(expires)
    if runtime.beat:  # celery beat is sending an entry in this thread (see beat.py)
        periodic = runtime.periodic.entry
        if periodic is not None:
            details["periodic"] = periodic
    if planned is not None:
        details.update(planned)
    if is_dispatcher(target):
        # A flow being submitted: the event belongs to the new flow (its dispatcher id is the task id).
        details["flow_name"] = flow_name_of(target)
        details["dispatcher_id"] = task_id
        if subflow:
            details["parent_dispatcher_id"] = current_id
    if runtime.message_sinks:
        with message_scope(headers):  # a sink may add its own context to the outgoing message
            emit(event, details)
    else:
        emit(event, details)


def _registered(app: Any, name: Any) -> Any:
    if app is None or not isinstance(name, str):
        return None
    try:
        return app.tasks.get(name)
    except Exception:
        return None


def _countdown(eta: Any) -> float | None:
    if not isinstance(eta, str):
        return None
    try:
        when = datetime.fromisoformat(eta)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_UTC)
    return round((when - datetime.now(_UTC)).total_seconds(), 3)
