"""The details of the TASK_* events: what one execution attempt of a task carries (SPEC section 4).

Facts of one task class (its name, app, the queues its routes resolve to) are found once, in a
:class:`TaskFacts` the tracer wrapper keeps for that class (as Celery's ``build_tracer`` keeps its
locals), so building one event's details reads them instead of looking them up again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from time import time
from typing import Any, Final

from ..core.arguments import sanitize_arguments
from . import canvas, context
from .runtime import EMPTY_ARGS, only_json, remember, runtime

__all__ = ["TaskFacts", "flow_name_of", "flow_of", "is_dispatcher", "message_details", "task_details"]

_NO_CONTEXT: Final[dict[str, Any]] = {}


def is_dispatcher(task: Any) -> bool:
    """True for tasks built on :class:`selinon_celery_trace.Dispatcher` (they trace themselves)."""
    return task is not None and getattr(task, "selinon_dispatcher", False) is True


def flow_name_of(dispatcher: Any) -> str:
    """A dispatcher's flow name: its ``flow_name`` option, else its task name."""
    return getattr(dispatcher, "flow_name", None) or dispatcher.name  # type: ignore[no-any-return]


def flow_of(task: Any, request: Any) -> dict[str, Any]:
    """The flow context of the running task: a dispatcher's own flow, else the one it was given."""
    if is_dispatcher(task):
        return {"flow_name": flow_name_of(task), "dispatcher_id": request.id}
    ctx = context.read(request)
    return {key: ctx[key] for key in ("flow_name", "dispatcher_id") if ctx.get(key)}


class TaskFacts:
    """What does not change between the attempts of one task class: found once, read per event."""

    __slots__ = ("app", "name", "only_json", "queues", "task")

    def __init__(self, task: Any) -> None:
        self.task = task
        self.name = task.name
        self.app = task.app  # a class property on Celery tasks: slow to read per event
        self.only_json = only_json(self.app)
        self.queues: dict[tuple[Any, Any], str] = {}  # (exchange, routing key) -> consumed queue

    def queue(self, exchange: Any, routing_key: Any) -> str | None:
        """The queue a message of this task was consumed from, memoised per route once found."""
        key: tuple[Any, Any] = (exchange, routing_key)
        try:
            return self.queues[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable exchange object
            return runtime.queue_of(self.app, exchange, routing_key, True)
        name = runtime.queue_of(self.app, exchange, routing_key, True)
        if name is not None:
            remember(self.queues, key, name)
        return name


def task_details(facts: TaskFacts, fields: Mapping[str, Any], args: Any, kwargs: Any) -> dict[str, Any]:
    """The details every TASK_* event of this attempt carries.

    ``fields`` is the request as a mapping: the dict Celery hands its task tracer, or the ``vars()`` of
    a request ``Context`` (which keeps every field in its ``__dict__``).
    """
    delivery = fields.get("delivery_info")
    eager = fields.get("is_eager")
    if eager or not isinstance(delivery, dict):
        queue, decoded_json = None, False
    else:
        key = (delivery.get("exchange"), delivery.get("routing_key"))
        try:
            queue = facts.queues[key]  # inline: the per-task path
        except (KeyError, TypeError):
            queue = facts.queue(*key)
        # A worker's tracer (is_eager explicitly False) runs arguments its consumer decoded from the
        # message, with the app's accept list checked.
        decoded_json = eager is False and facts.only_json
    if context.HEADER in fields:
        ctx = context.read(fields)
        dispatcher_id, flow_name = ctx.get("dispatcher_id"), ctx.get("flow_name")
    else:  # outside a flow (most tasks)
        ctx, dispatcher_id, flow_name = _NO_CONTEXT, None, None
    details = {
        "task_name": facts.name,
        "task_id": fields.get("id"),
        "queue": queue,
        "parent": context.true_parent(fields, ctx),
        "dispatcher_id": dispatcher_id,
        "flow_name": flow_name,
        "node_args": (
            sanitize_arguments(args, kwargs, runtime.policy, runtime.encoded_args, decoded_json)
            if args or kwargs
            else EMPTY_ARGS
        ),
        "retried_count": fields.get("retries") or 0,
        # Celery's own request hostname is the node name in prefork but the bare machine name in the
        # solo and threads pools; the worker's node name is what identifies it.
        "hostname": runtime.hostname or fields.get("hostname"),
        "pid": runtime.pid,
    }
    if runtime.queue_waits:
        sent = fields.get(context.SENT)
        if type(sent) is float or type(sent) is int:
            details["queue_wait"] = _queue_wait(sent, fields.get("eta"))
    if ctx:
        _add_context(details, fields, ctx)
    return details


def _add_context(details: dict[str, Any], fields: Any, ctx: Any) -> None:
    """What our header adds to a task's details: the flow node's name, the task a ``Task.replace``
    replacement replaces (it inherited the replaced task's id: see replacement.py), its canvas."""
    if ctx.get("node_name"):
        details["node_name"] = ctx["node_name"]
    if "replaces_id" in ctx and ctx["replaces_id"] == details["task_id"]:
        details["replaces"] = ctx.get("replaces")
        details["replacement"] = ctx.get("replacement")
    if "canvas" in ctx:
        # A canvas's message says so in our header (see publish.py): a task outside one, with no
        # header, pays nothing for canvas tracing.
        details.update(canvas.task_facts(fields, ctx))


def _queue_wait(sent: float, eta: Any) -> float:
    """Seconds the message waited for a worker once due: from its publish (or its ETA, if later) to now.

    Clocks of different hosts may disagree: a wait that comes out negative is reported as 0.
    """
    due = sent
    if isinstance(eta, str):
        try:
            when = datetime.fromisoformat(eta)
            due = max(due, (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp())
        except ValueError:
            pass
    return max(0.0, round(time() - due, 6))


def message_details(
    app: Any, name: Any, fields: Mapping[str, Any], args: Any = None, kwargs: Any = None, decoded: bool = True
) -> dict[str, Any]:
    """The task keys of an event about a message rather than an attempt (revoked, expired, rejected).

    ``fields`` is what the worker has of the message: its headers (a request's fields, with
    ``delivery_info``), or a protocol 1 body. Off the per-task path: a message's fate is rare, so
    nothing here is memoised. ``decoded`` False: the body was never decoded, ``node_args`` is null.
    """
    delivery = fields.get("delivery_info")
    queue = None
    if isinstance(delivery, Mapping) and app is not None:
        queue = runtime.queue_of(app, delivery.get("exchange"), delivery.get("routing_key"), True)
    ctx = context.read(fields)
    retries = fields.get("retries")
    details = {
        "task_name": name if isinstance(name, str) else None,
        "task_id": _id(fields.get("id")),
        "queue": queue,
        "parent": context.true_parent(fields, ctx),
        "dispatcher_id": ctx.get("dispatcher_id"),
        "flow_name": ctx.get("flow_name"),
        "node_args": runtime.event_args(args, kwargs) if decoded else None,
        "retried_count": retries if type(retries) is int else 0,
        "hostname": runtime.hostname or _id(fields.get("hostname")),
        "pid": runtime.pid,
    }
    _add_context(details, fields, ctx)  # a replacement's message: its fate is the replacement's
    return details


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) else None
