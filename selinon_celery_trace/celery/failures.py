"""The failure and retry hooks: ``task_retry``, ``task_failure``, and failures the main process reports.

``task_retry`` and ``task_failure`` carry the exception, so they report the terminal event of a retried
or failed attempt (the tracer wrapper reports the rest, :mod:`.execution`). Some failures happen where
no attempt began: a hard time limit, a lost pool process or a ``Reject`` without requeue are reported by
the worker's main process, from the methods of its ``Request`` (``on_timeout``, ``on_failure``). A named
hook wraps those two methods (:func:`patch_requests`) so the receiver knows the request being failed,
for its queue, parent and flow, and marks it so the two signals of a hard time limit report once (and
reports a ``Reject`` without requeue itself where Celery sends no signal for it). Those events go to
the sinks on a thread (``core.handoff``): the main process runs the worker's event loop.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Final

from celery.exceptions import Reject

from ..core.handoff import emit_in_background
from ..core.record import exception_scope
from ..core.registry import emit, report_internal_error, wants
from ..trace import Trace
from .details import TaskFacts, is_dispatcher, task_details
from .execution import reported_where_it_ran, running, traceback_of
from .runtime import runtime

__all__ = ["on_task_failure", "on_task_retry", "patch_requests", "unpatch_requests"]

_REPORTED: Final = "_selinon_trace_failure_reported"  # attribute on the worker's Request (main process)
_HOOKED: Final = "_selinon_trace_hooked"
_METHODS: Final = ("on_failure", "on_timeout")


def on_task_retry(
    sender: Any = None, request: Any = None, reason: Any = None, einfo: Any = None, **_: Any
) -> None:
    """TASK_RETRY, for ``self.retry()`` and ``autoretry_for``."""
    try:
        attempt = running(getattr(request, "id", None))
        details = attempt.end() if attempt is not None else None
        if details is None:
            return
        cause = getattr(reason, "exc", None)
        when = getattr(reason, "when", None)
        what: Any
        if isinstance(cause, BaseException) and cause.__traceback__ is not None:
            what = traceback_of(cause)  # the task's own error, not Celery's Retry wrapping it
        else:
            what = getattr(einfo, "traceback", None)
        details.update(
            what=runtime.traceback(what),
            reason=runtime.text(str(reason)),
            exc_type=type(cause).__name__ if cause is not None else None,
            retry_countdown=when.isoformat() if isinstance(when, datetime) else when,
            max_retry=sender.max_retries,
        )
        with exception_scope(cause if isinstance(cause, BaseException) else None):
            emit(Trace.TASK_RETRY, details)
    except Exception as exc:
        report_internal_error("task_retry receiver", exc)


def on_task_failure(
    sender: Any = None,
    task_id: Any = None,
    exception: Any = None,
    args: Any = None,
    kwargs: Any = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    """TASK_FAILURE, from the task's own process or from the worker's main process."""
    try:
        if sender is None or is_dispatcher(sender):
            return
        attempt = running(task_id)
        if attempt is not None:
            ended = attempt.end()
            if ended is None:
                return
            details = ended
        else:
            if reported_where_it_ran(exception, task_id):
                return  # the pool process reported the attempt; Celery fails the request here again
            found = _main_process_details(sender, task_id, args, kwargs)
            if found is None:
                return  # already reported (a hard time limit signals twice)
            details = found
        details["what"] = runtime.traceback(getattr(einfo, "traceback", None))
        details["exc_type"] = type(exception).__name__ if exception is not None else None
        details["max_retry"] = sender.max_retries
        # From a worker Request's failure methods: the worker's main process (its event loop), which
        # hands the event to a thread rather than wait for the sinks.
        deliver = emit if attempt is not None or _failing.request is None else emit_in_background
        with exception_scope(exception if isinstance(exception, BaseException) else None):
            deliver(Trace.TASK_FAILURE, details)
    except Exception as exc:
        report_internal_error("task_failure receiver", exc)


def _main_process_details(sender: Any, task_id: Any, args: Any, kwargs: Any) -> dict[str, Any] | None:
    request = sender.request
    failing = _failing.request
    if failing is not None and getattr(failing, "id", None) == task_id:
        if getattr(failing, _REPORTED, False):
            return None
        setattr(failing, _REPORTED, True)
        try:
            request = failing._context  # the Context Celery would give the task: headers included
        except Exception:
            pass
    fields = getattr(request, "__dict__", None)
    if not isinstance(fields, dict) or fields.get("id") != task_id:
        fields = {"id": task_id}  # all that is known of a task whose request is not at hand
    return task_details(TaskFacts(sender), fields, args, kwargs)


# -- the hook on the worker's Request ------------------------------------------------------------


class _Failing(threading.local):
    """The worker ``Request`` whose ``on_failure``/``on_timeout`` is running in this thread, if any."""

    def __init__(self) -> None:
        self.request: Any = None


_failing: Final = _Failing()


def _hooked(method: Any) -> Any:
    def failing(self: Any, *args: Any, **kwargs: Any) -> Any:
        outer, _failing.request = _failing.request, self
        try:
            return method(self, *args, **kwargs)
        finally:
            _failing.request = outer
            if method.__name__ == "on_failure" and args:
                _unsignalled_reject(self, args[0])

    failing.__wrapped__ = method  # type: ignore[attr-defined]
    failing.__name__ = method.__name__
    setattr(failing, _HOOKED, True)
    return failing


def _unsignalled_reject(request: Any, exc_info: Any) -> None:
    """A ``Reject`` without requeue ends the task for good; Celery before 5.5 sends no ``task_failure``.

    Reported here then, once (a Celery that does send the signal has marked the request already).
    """
    try:
        exc = getattr(exc_info, "exception", None)
        exc = getattr(exc, "exc", exc)  # unwrap billiard's ExceptionWithTraceback
        if not isinstance(exc, Reject) or exc.requeue or getattr(request, _REPORTED, False):
            return
        if not wants(Trace.TASK_FAILURE):
            return
        outer, _failing.request = _failing.request, request
        try:
            on_task_failure(
                sender=request.task,
                task_id=request.id,
                exception=exc,
                args=request.args,
                kwargs=request.kwargs,
                einfo=exc_info,
            )
        finally:
            _failing.request = outer
    except Exception as error:
        report_internal_error("Request.on_failure hook", error)


def patch_requests() -> None:
    """Wrap ``Request.on_failure`` and ``Request.on_timeout``: the request they fail is then at hand.

    Celery's worker subclasses ``Request`` per task (``create_request_cls``) without overriding these,
    so the subclasses use the wrapped methods too. Idempotent.
    """
    from celery.worker.request import Request  # the worker's modules, imported only when installing

    for name in _METHODS:
        method = getattr(Request, name)
        if not getattr(method, _HOOKED, False):
            setattr(Request, name, _hooked(method))


def unpatch_requests() -> None:
    """Undo :func:`patch_requests` (only where our wrapper is still the method)."""
    from celery.worker.request import Request

    for name in _METHODS:
        method = vars(Request).get(name)
        if getattr(method, _HOOKED, False):
            setattr(Request, name, method.__wrapped__)
