"""The task tracer hook (the process running the task): TASK_START before an attempt, its end after.

Celery builds one function per task class that runs the task and sends ``task_prerun``/``task_postrun``
(``celery.app.trace.build_tracer``). :func:`wrap_tracer` wraps it: TASK_START before, TASK_END after (and
the terminal event of outcomes with no signal of their own: ``Ignore``, ``Reject``, eager propagation),
at a fraction of two signal dispatches' cost (sentry-sdk wraps the same function). Failures and retries
are reported by their own signals, which carry the exception (:mod:`.failures`). The wrapper is built
once per task class and keeps that class's :class:`~.details.TaskFacts`.
"""

from __future__ import annotations

import threading
import traceback
from time import perf_counter_ns
from typing import Any, Final

from celery.app import trace as celery_trace
from celery.backends.base import DisabledBackend
from celery.exceptions import Reject
from celery.states import FAILURE, IGNORED, REJECTED, RETRY

from ..core.record import exception_scope, message_scope
from ..core.registry import emit, report_internal_error, wants
from ..trace import Trace
from .details import TaskFacts, is_dispatcher, task_details
from .runtime import runtime

__all__ = [
    "REPORTED_MARK",
    "Attempt",
    "patch_tracers",
    "reported_where_it_ran",
    "running",
    "switch",
    "traceback_of",
    "unpatch_tracers",
    "wrap_tracer",
]

_TASK_START: Final = Trace.TASK_START
_TASK_END: Final = Trace.TASK_END
_WRAPPED: Final = "_selinon_trace_wrapped"


class Attempt:
    """What the start of one execution attempt learnt, kept until the attempt ends.

    ``reuse``: the sinks that received the start's details only encoded them (see ``hooks.sync``), so
    nothing holds that dict and the terminal event may extend it rather than copy it. ``replaced_by``
    is set (never initialised: the hot path does not pay for it) when the task calls ``Task.replace``.
    """

    __slots__ = ("details", "done", "replaced_by", "reuse", "stack", "start", "task_id")
    replaced_by: str  # set by the publish hook when the task calls Task.replace; never initialised

    def __init__(self, task_id: Any, details: dict[str, Any], reuse: bool, stack: list[Attempt]) -> None:
        self.start = perf_counter_ns()
        self.task_id = task_id
        self.details = details
        self.reuse = reuse
        self.stack = stack  # this thread's attempts (the attempt ends in the thread it began in)
        self.done = False

    def end(self) -> dict[str, Any] | None:
        """Mark the attempt ended; its details with the runtime, or None if it had already ended."""
        if self.done:
            return None
        self.done = True
        details = self.details if self.reuse else self.details.copy()
        # Seconds, to the microsecond (integer arithmetic: round() on a float costs more than this).
        details["runtime"] = (perf_counter_ns() - self.start) // 1000 / 1_000_000
        return details

    def forget(self) -> None:
        """Take the attempt off its thread's stack."""
        stack = self.stack
        if stack and stack[-1] is self:
            stack.pop()
        elif self in stack:
            stack.remove(self)


class _Attempts(threading.local):
    """The attempts running in this thread, innermost last (as Celery's own request stack).

    Kept by the tracer rather than on ``task.request``: reading ``task.request`` is a thread-local
    stack lookup, too slow to do in every receiver. Pushed and popped by the tracer wrapper.
    """

    def __init__(self) -> None:
        self.stack: list[Attempt] = []


_attempts: Final = _Attempts()


def running(task_id: Any) -> Attempt | None:
    """The running attempt of ``task_id`` in this thread, if its start was traced."""
    stack = _attempts.stack
    if stack and stack[-1].task_id == task_id:
        return stack[-1]
    return None


def traceback_of(exc: BaseException) -> str:
    """The formatted traceback of ``exc``."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def wrap_tracer(tracer: Any, task: Any) -> Any:
    """Wrap the function Celery built to run ``task``; dispatchers trace themselves and are left alone."""
    if getattr(tracer, _WRAPPED, False) or not callable(tracer) or is_dispatcher(task):
        return tracer
    try:
        facts = TaskFacts(task)
    except Exception as exc:  # the task is run as Celery built it, untraced
        report_internal_error("task facts", exc)
        return tracer

    def traced(uuid: Any, args: Any, kwargs: Any, request: Any = None) -> Any:
        if not _tracing:
            return tracer(uuid, args, kwargs, request)
        attempt = _begin(facts, uuid, args, kwargs, request)
        if attempt is None:
            return tracer(uuid, args, kwargs, request)
        try:
            outcome = tracer(uuid, args, kwargs, request)
        except BaseException as exc:
            _escaped(attempt, task, exc, request)
            raise
        _end(attempt, task, request, outcome)
        return outcome

    traced.__wrapped__ = tracer  # type: ignore[attr-defined]
    traced.facts = facts  # type: ignore[attr-defined]  # for inspection (benchmarks/memory.py)
    setattr(traced, _WRAPPED, True)
    return traced


_tracing = False  # True while a sink wants a TASK_* event (see switch)


def switch(on: bool) -> None:
    """Trace task execution or not (``hooks.sync``: only while a sink wants a TASK_* event)."""
    global _tracing
    _tracing = on


def _begin(facts: TaskFacts, task_id: Any, args: Any, kwargs: Any, request: Any) -> Attempt | None:
    """TASK_START, and the attempt remembered (in this thread) for its terminal event."""
    attempt = None
    try:
        fields = request if type(request) is dict else {"id": task_id}
        details = task_details(facts, fields, args, kwargs)
        stack = _attempts.stack
        if len(stack) > 64:  # an attempt never ended (tracing switched off mid-task): stay bounded
            stack.clear()
        attempt = Attempt(task_id, details, runtime.encoded_args, stack)
        stack.append(attempt)
        if runtime.message_sinks:
            with message_scope(fields):  # the request's fields: the message's headers among them
                emit(_TASK_START, details)
        else:
            emit(_TASK_START, details)
    except Exception as exc:
        report_internal_error("task start", exc)
    return attempt


def _end(attempt: Attempt, task: Any, request: Any, outcome: Any) -> None:
    """The terminal event of an attempt whose own signal (failure, retry) did not report it.

    ``outcome`` is what Celery's tracer returned: ``(R, I, T, Rstr)``. ``I`` (the TraceInfo) is None
    for a success, which is also the only outcome with a runtime ``T``; otherwise it has the state.
    """
    try:
        attempt.forget()
        details = attempt.end()
        if details is None:
            return
        retval, info, took = outcome[0], outcome[1], outcome[2]
        if info is None:
            if took is None:
                # The task did not run: a redelivered message of a task that already succeeded
                # (worker_deduplicate_successful_tasks), or an error before its request existed.
                details["state"] = IGNORED
            elif retval is not None and wants(Trace.TASK_DISCARD_RESULT) and _discards(task, request):
                emit(Trace.TASK_DISCARD_RESULT, {**details, "result": runtime.text(retval)})
            emit(_TASK_END, details)
            return
        state, exc = info.state, info.retval
        if state == IGNORED:
            # Ignore is control flow (Task.replace raises it): the attempt ended as the task chose.
            details["state"] = state
            replaced_by = getattr(attempt, "replaced_by", None)
            if replaced_by is not None:
                details["replaced_by"] = replaced_by
            emit(Trace.TASK_END, details)
        elif state == REJECTED:
            _rejected(details, task, exc)
        elif state in (FAILURE, RETRY):  # only if their own signal did not reach us
            details.update(
                what=runtime.exception(exc), exc_type=type(exc).__name__, max_retry=task.max_retries
            )
            emit(Trace.TASK_FAILURE if state == FAILURE else Trace.TASK_RETRY, details)
    except Exception as error:
        report_internal_error("task end", error)


def _escaped(attempt: Attempt, task: Any, exc: BaseException, request: Any) -> None:
    """An exception left Celery's tracer: eager propagation, a Reject/MemoryError, or Celery's own failure
    handling failing (storing the result: the backend is down in this process).

    SystemExit and the like end the process: the worker's main process reports the lost attempt.
    Otherwise the terminal event is reported here and the exception marked (:data:`REPORTED_MARK`): in a
    worker it reaches the main process (pickled, attributes kept), which fails the request once more.
    """
    try:
        attempt.forget()
        if not isinstance(exc, Exception):
            return
        details = attempt.end()
        requeued = not isinstance(exc, Reject) or exc.requeue  # without requeue the main process reports
        if requeued and not (isinstance(request, dict) and request.get("is_eager")):
            try:
                exc.__dict__[REPORTED_MARK] = attempt.task_id
            except AttributeError:  # an exception without __dict__: the main process may report it too
                pass
        if details is None:
            return
        if isinstance(exc, Reject):
            _rejected(details, task, exc)
            return
        details["what"] = runtime.traceback(traceback_of(exc))
        details.update(exc_type=type(exc).__name__, max_retry=task.max_retries)
        with exception_scope(exc):
            emit(Trace.TASK_FAILURE, details)
    except Exception as error:
        report_internal_error("task end", error)


REPORTED_MARK: Final = "_selinon_trace_reported"
"""Attribute of an exception whose attempt's terminal event was reported where it ran: its task id."""


def reported_where_it_ran(exc: Any, task_id: Any) -> bool:
    """True when ``exc`` left an attempt of ``task_id`` whose terminal event was already reported."""
    return task_id is not None and getattr(exc, "__dict__", {}).get(REPORTED_MARK) == task_id


def _rejected(details: dict[str, Any], task: Any, exc: Any) -> None:
    if getattr(exc, "requeue", False):
        reason = (
            f"rejected and requeued: {runtime.exception(exc)}" if isinstance(exc, BaseException) else None
        )
        details.update(reason=reason or "rejected and requeued", exc_type="Reject")
        details.update(what=None, retry_countdown=None, max_retry=task.max_retries)
        emit(Trace.TASK_RETRY, details)
    # Reject without requeue: the worker's main process reports the failure (task_failure).


def _discards(task: Any, request: Any) -> bool:
    """True when no result backend keeps this attempt's result (TASK_DISCARD_RESULT then carries it)."""
    fields = request if isinstance(request, dict) else {}
    if fields.get("is_eager"):
        return False
    if task.ignore_result or fields.get("ignore_result"):
        return True
    return isinstance(task.backend, DisabledBackend)


def _wrapping_build_tracer(original: Any) -> Any:
    def build_tracer(name: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
        return wrap_tracer(original(name, task, *args, **kwargs), task)

    build_tracer.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(build_tracer, _WRAPPED, True)
    return build_tracer


def patch_tracers(app: Any) -> None:
    """Wrap every task tracer Celery builds from now on, and those ``app``'s tasks already have."""
    current = celery_trace.build_tracer
    if not getattr(current, _WRAPPED, False):
        celery_trace.build_tracer = _wrapping_build_tracer(current)
    for task in _tasks_of(app):
        built = vars(task).get("__trace__")
        if built is not None:
            task.__trace__ = wrap_tracer(built, task)


def unpatch_tracers(app: Any) -> None:
    """Undo :func:`patch_tracers` (Celery's function only if nobody wrapped it after us)."""
    current = celery_trace.build_tracer
    if getattr(current, _WRAPPED, False):
        celery_trace.build_tracer = current.__wrapped__
    for task in _tasks_of(app):
        built = vars(task).get("__trace__")
        if getattr(built, _WRAPPED, False):
            task.__trace__ = built.__wrapped__


def _tasks_of(app: Any) -> list[Any]:
    # The registry without finalizing the app (``app.tasks`` would): tasks declared later get their
    # tracer from the patched build_tracer anyway.
    registry = getattr(app, "_tasks", None)
    return [task for task in dict(registry or {}).values() if hasattr(task, "__dict__")]
