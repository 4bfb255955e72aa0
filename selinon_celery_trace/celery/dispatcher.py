"""The Dispatcher base task: a flow of Celery tasks, driven by plain Python and traced as Selinon does.

A dispatcher schedules the flow's nodes (child tasks, or other dispatchers as subflows) and re-runs
itself (a Celery retry with a countdown, carrying the flow's state in a message header) until every node
finished. Its body runs at every wake-up and decides what to do next from what finished::

    from selinon_celery_trace import Dispatcher

    @app.task(base=Dispatcher, bind=True)
    def document_flow(self, doc_id):
        flow = self.flow
        if flow.is_new:
            flow.schedule("fetch", fetch.s(doc_id))
        for node in flow.finished:            # the nodes that finished since the last wake-up
            if node.name == "fetch" and node.succeeded:
                flow.schedule("parse", parse.s(node.result))
        # Returning while nodes still run waits for them (DISPATCHER_RETRY); once nothing runs the
        # flow ends: FLOW_END, or FLOW_FAILURE when a node failed and was not recovered.

Events, all automatic: DISPATCHER_WAKEUP at every execution, FLOW_START at the first, TASK_SCHEDULE (or
SUBFLOW_SCHEDULE) per scheduled node, NODE_SUCCESSFUL / NODE_FAILURE once per finished node,
DISPATCHER_RETRY when it waits, then FLOW_END or FLOW_FAILURE; an exception from the body's own code gives
DISPATCHER_FAILURE then FLOW_FAILURE. Dispatchers never emit TASK_START/END/FAILURE/RETRY. The body's
return value and exceptions keep their Celery meaning. Node states are read from the result backend, so
the app needs one.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, ClassVar

from celery import Task
from celery.exceptions import Ignore, MaxRetriesExceededError, Reject, Retry

from ..core.record import exception_scope
from ..trace import Trace
from .flow import STATE_HEADER, Flow, FlowFailed
from .runtime import runtime

__all__ = ["Dispatcher"]


class Dispatcher(Task):  # type: ignore[misc]
    """Base task of a flow's dispatcher: ``@app.task(base=Dispatcher, bind=True)``.

    Class options (set them as ``@app.task`` keyword arguments): ``flow_name`` (default: the task's
    name) and ``check_interval`` (seconds between wake-ups, default 2). Dispatchers wait as long as
    their nodes run (``max_retries = None``).
    """

    selinon_dispatcher: ClassVar[bool] = True
    flow_name: str | None = None
    check_interval: float = 2.0
    max_retries = None

    @property
    def flow(self) -> Flow:
        """The flow of the running execution."""
        flow = _running_flow(self)
        if flow is None:
            raise RuntimeError("Dispatcher.flow is only available while the dispatcher runs")
        return flow

    def retry(self, *args: Any, **options: Any) -> Any:
        """Celery's retry, carrying the flow's state; reported as DISPATCHER_RETRY, never TASK_RETRY."""
        flow = _running_flow(self)
        if flow is None:
            return super().retry(*args, **options)
        headers = dict(getattr(self.request, "headers", None) or {})
        headers.update(options.pop("headers", None) or {})
        headers[STATE_HEADER] = flow.dump()
        options["headers"] = headers
        if "countdown" not in options and "eta" not in options:
            options["countdown"] = self.check_interval
        try:
            return super().retry(*args, **options)
        except Retry as retry:
            _log(
                Trace.DISPATCHER_RETRY,
                flow.base_details(),
                state=flow.summary(),
                state_dict=flow.summary(),
                retry=options.get("countdown"),
                parent=getattr(self.request, "parent_id", None),
            )
            raise retry from None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        if getattr(request, "id", None) is None:  # called directly as a function, not as a task
            return super().__call__(*args, **kwargs)
        flow = Flow(self, request, args, kwargs)
        _flows.stack.append(flow)
        try:
            return self._drive(flow, request, args, kwargs)
        finally:
            _flows.stack.remove(flow)

    def _drive(self, flow: Flow, request: Any, args: Any, kwargs: Any) -> Any:
        base = flow.base_details()
        _log(Trace.DISPATCHER_WAKEUP, base, state=flow.summary(), retry=request.retries or 0)
        if flow.is_new:
            _log(Trace.FLOW_START, base)
        try:
            flow.check()
            # The tracer already pushed this task and its request: run the body as Celery's worker
            # does (its stack protection), not through Task.__call__, which would push a bare context
            # of its own (no id, no parent for the nodes the body publishes) where that protection is
            # not installed (Celery 5.3's in-process test worker, eager mode).
            value = self.run(*args, **kwargs)
            if flow.pending:
                flow.wait()
            if flow.failures:
                names = ", ".join(sorted({node.name for node in flow.failures}))
                raise FlowFailed(f"node(s) failed: {names}")
        except (Retry, Ignore, Reject):
            raise  # control flow, not a failure
        except FlowFailed as exc:
            with exception_scope(exc):
                _log(Trace.FLOW_FAILURE, _end(flow), what=str(exc))
            raise
        except MaxRetriesExceededError as exc:
            with exception_scope(exc):
                # Celery's message names the dispatcher's arguments: masked like any detail.
                _log(
                    Trace.FLOW_FAILURE, _end(flow), what=runtime.text(f"gave up waiting for the nodes: {exc}")
                )
            raise
        except Exception as exc:
            what = runtime.traceback("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            with exception_scope(exc):
                _log(Trace.DISPATCHER_FAILURE, {"dispatcher_id": flow.id, "flow_name": flow.name}, what=what)
                _log(Trace.FLOW_FAILURE, _end(flow), what=what)
            raise
        _log(Trace.FLOW_END, _end(flow))
        return value


class _Flows(threading.local):
    """The flows running in this thread, innermost last.

    Kept here, not on ``self.request``: Celery's ``Task.__call__`` pushes a request context of its own
    around the body (Celery 5.3 leaves it without the fields the tracer's context had).
    """

    def __init__(self) -> None:
        self.stack: list[Flow] = []


_flows = _Flows()


def _running_flow(task: Dispatcher) -> Flow | None:
    for flow in reversed(_flows.stack):
        if flow.task is task:
            return flow
    return None


def _end(flow: Flow) -> dict[str, Any]:
    return {"dispatcher_id": flow.id, "flow_name": flow.name, "state": flow.summary()}


def _log(event: int, *parts: dict[str, Any], **more: Any) -> None:
    # The dispatcher's own events: skipped cheaply when nobody listens, never raising into the flow.
    if not Trace.wants(event):
        return
    Trace.log(event, *parts, **more)  # never raises, but for the task's own control flow (soft limit)
