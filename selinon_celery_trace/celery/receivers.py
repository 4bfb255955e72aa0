"""One receiver per Celery signal, translating it into trace events; one table to connect them all.

Why each hook exists:

- ``before_task_publish`` (any process): TASK_SCHEDULE / SUBFLOW_SCHEDULE, and the flow context put
  into the outgoing message's headers, so the next task (on any host) knows its flow.
- the task tracer (not a signal; the process running the task): Celery builds one function per task
  that runs it and sends ``task_prerun``/``task_postrun``; :func:`wrap_tracer` wraps it for TASK_START
  before and TASK_END after (and the terminal event of outcomes with no signal of their own:
  ``Ignore``, ``Reject``, eager propagation), at a fraction of two signal dispatches' cost.
- ``task_retry`` / ``task_failure``: the terminal event of a retried or failed attempt (these signals
  carry the exception info).
  Failures reported from the worker's main process (hard time limit, lost worker, ``Reject``), where no
  attempt began, are sent by Celery from the worker's ``Request``: the receiver finds it among its
  callers, for the queue, parent and flow, and marks it so the two signals of a hard time limit report
  once. (Remembering every request from ``task_received`` instead cost the main process about 40,000
  instructions a task, for a rare path.)

Every receiver catches its own errors at the boundary: the user's task never sees them.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from time import perf_counter_ns
from typing import Any, Final

from celery import signals
from celery._state import get_current_task
from celery.app import trace as celery_trace
from celery.backends.base import DisabledBackend
from celery.exceptions import Reject
from celery.states import FAILURE, IGNORED, REJECTED, RETRY

from ..core.record import exception_scope
from ..core.redact import EMBEDS_ENCODED, Policy, sanitize, sanitize_arguments
from ..core.registry import emit, report_internal_error
from ..trace import Trace
from . import context
from .queues import resolve_queue

__all__ = ["Runtime", "runtime"]

TASK_EVENTS: Final = frozenset(
    {Trace.TASK_START, Trace.TASK_END, Trace.TASK_DISCARD_RESULT, Trace.TASK_FAILURE, Trace.TASK_RETRY}
)
_REPORTED = "_selinon_trace_failure_reported"  # attribute on the worker's Request (main process)
_EMPTY_ARGS: Final[dict[str, Any]] = {"args": [], "kwargs": {}}
_NO_CONTEXT: Final[dict[str, Any]] = {}
_UTC = timezone.utc

_pid = os.getpid()


def _refresh_pid() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_refresh_pid)


class _Attempt:
    """What the start of one execution attempt learnt, kept until the attempt ends.

    ``reuse``: the sinks that received the start's details only encoded them (see :func:`sync`), so
    nothing holds that dict and the terminal event may extend it rather than copy it.
    """

    __slots__ = ("details", "done", "reuse", "stack", "start", "task_id")

    def __init__(self, task_id: Any, details: dict[str, Any], reuse: bool, stack: list[_Attempt]) -> None:
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


class _Attempts(threading.local):
    """The attempts running in this thread, innermost last (as Celery's own request stack).

    Kept by the tracer rather than on ``task.request``: reading ``task.request`` is a thread-local
    stack lookup, too slow to do in every receiver. Pushed and popped by the tracer wrapper.
    """

    def __init__(self) -> None:
        self.stack: list[_Attempt] = []


_attempts: Final = _Attempts()
_TASK_START: Final = Trace.TASK_START
_TASK_END: Final = Trace.TASK_END


def _running(task_id: Any) -> _Attempt | None:
    """The running attempt of ``task_id`` in this thread, if its start was traced."""
    stack = _attempts.stack
    if stack and stack[-1].task_id == task_id:
        return stack[-1]
    return None


def _remember(memo: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    """Keep a fact found for ``key`` (``()`` stands for an unhashable key: not kept), in a bounded memo."""
    if key:
        if len(memo) > 1024:
            memo.clear()
        memo[key] = value


class Runtime:
    """Per-process state of the Celery adapter (one instance: :data:`runtime`)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.app: Any = None
        self.hostname: str | None = None  # the worker's node name (celery@host), once a worker starts
        self.policy = Policy()
        self._queues: dict[tuple[Any, ...], str] = {}
        self._dispatchers: dict[type, bool] = {}
        self._apps: dict[type, Any] = {}
        self._only_json: dict[int, bool] = {}
        self._consumed: dict[tuple[Any, ...], tuple[str | None, bool]] = {}
        # True while every sink encodes details with orjson at once and keeps nothing (see sync):
        # arguments are then handed over encoded once, as an orjson.Fragment, and an attempt's
        # terminal event extends the dict its start event had.
        self.encoded_args = False

    def queue_of(self, app: Any, exchange: Any, routing_key: Any, consuming: bool) -> str | None:
        """Resolve the queue a message went to; ``None`` when unsure.

        Found names are memoised (a binding that matched keeps matching); misses are not, since a
        queue may be declared later.
        """
        key: tuple[Any, ...] = (id(app), exchange, routing_key, consuming)
        try:
            return self._queues[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable exchange object
            key = ()
        try:
            name = resolve_queue(app.amqp.queues, exchange, routing_key, consuming)
        except Exception:
            return None
        if name is not None:
            _remember(self._queues, key, name)
        return name

    def consumed(self, task: Any, delivery: dict[str, Any]) -> tuple[str | None, bool]:
        """For a task a worker took from a queue: the queue's name, and whether the app accepts JSON only.

        One lookup per task on a worker's hot path, memoised per task class and route once the queue
        is found (as :meth:`queue_of`).
        """
        exchange, routing_key = delivery.get("exchange"), delivery.get("routing_key")
        key: tuple[Any, ...] = (type(task), exchange, routing_key)
        try:
            return self._consumed[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable exchange object
            key = ()
        app = self.app_of(task)
        facts = (self.queue_of(app, exchange, routing_key, True), self.only_json(app))
        if facts[0] is not None:
            _remember(self._consumed, key, facts)
        return facts

    def is_dispatcher(self, task: Any) -> bool:
        """True for tasks built on :class:`selinon_celery_trace.Dispatcher` (they trace themselves)."""
        kind = type(task)
        try:
            return self._dispatchers[kind]
        except KeyError:
            verdict = self._dispatchers[kind] = getattr(task, "selinon_dispatcher", False) is True
            return verdict

    def app_of(self, task: Any) -> Any:
        """``task.app``, memoised per task class (it is a class-property, slow to read per event)."""
        kind = type(task)
        try:
            return self._apps[kind]
        except KeyError:
            app = self._apps[kind] = task.app
            return app

    def node_args(self, args: Any, kwargs: Any) -> Any:
        """The arguments as JSON-safe, redacted, truncated data."""
        if not args and not kwargs:
            return _EMPTY_ARGS
        return sanitize_arguments(args, kwargs, self.policy)

    def event_args(self, args: Any, kwargs: Any) -> Any:
        """The arguments for an event's details: pre-encoded when every sink only encodes (see sync)."""
        if not args and not kwargs:
            return _EMPTY_ARGS
        return sanitize_arguments(args, kwargs, self.policy, self.encoded_args)

    def only_json(self, app: Any) -> bool:
        """True when ``app``'s workers accept JSON messages only (``accept_content``, Celery's default)."""
        try:
            return self._only_json[id(app)]
        except KeyError:
            pass
        try:
            accept = list(app.conf.accept_content or ())
            verdict = bool(accept) and all(
                isinstance(kind, str) and kind.lower() in ("json", "application/json") for kind in accept
            )
        except Exception:
            verdict = False
        self._only_json[id(app)] = verdict
        return verdict

    def text(self, value: Any) -> Any:
        return sanitize(value, self.policy)

    def traceback(self, text: Any) -> str | None:
        # The end of a traceback says what failed: keep the tail when it is too long.
        if not isinstance(text, str):
            return None if text is None else self.text(str(text))
        limit = self.policy.max_length * 4
        if len(text) <= limit:
            return text
        return f"...[truncated {len(text) - limit} chars]{text[-limit:]}"


runtime: Final = Runtime()


def is_dispatcher(task: Any) -> bool:
    """True for tasks built on :class:`selinon_celery_trace.Dispatcher` (they trace themselves)."""
    return task is not None and runtime.is_dispatcher(task)


def flow_name_of(dispatcher: Any) -> str:
    """A dispatcher's flow name: its ``flow_name`` option, else its task name."""
    return getattr(dispatcher, "flow_name", None) or dispatcher.name  # type: ignore[no-any-return]


def _flow_of(task: Any, request: Any) -> dict[str, Any]:
    """The flow context of the running task: a dispatcher's own flow, else the one it was given."""
    if is_dispatcher(task):
        return {"flow_name": flow_name_of(task), "dispatcher_id": request.id}
    ctx = context.read(request)
    return {key: ctx[key] for key in ("flow_name", "dispatcher_id") if ctx.get(key)}


def task_details(task: Any, fields: Mapping[str, Any], args: Any, kwargs: Any) -> dict[str, Any]:
    """The details every TASK_* event of this attempt carries (SPEC section 4).

    ``fields`` is the request as a mapping: the dict Celery hands its task tracer, or the ``vars()`` of
    a request ``Context`` (which keeps every field in its ``__dict__``).
    """
    delivery = fields.get("delivery_info")
    eager = fields.get("is_eager")
    if eager or not isinstance(delivery, dict):
        queue, decoded_json = None, False
    else:
        queue, only_json = runtime.consumed(task, delivery)
        # A worker's tracer (is_eager explicitly False) runs arguments its consumer decoded from the
        # message, with the app's accept list checked.
        decoded_json = eager is False and only_json
    if context.HEADER in fields:
        ctx = context.read(fields)
        dispatcher_id, flow_name = ctx.get("dispatcher_id"), ctx.get("flow_name")
    else:  # outside a flow (most tasks)
        ctx, dispatcher_id, flow_name = _NO_CONTEXT, None, None
    details = {
        "task_name": task.name,
        "task_id": fields.get("id"),
        "queue": queue,
        "parent": context.true_parent(fields, ctx),
        "dispatcher_id": dispatcher_id,
        "flow_name": flow_name,
        "node_args": (
            sanitize_arguments(args, kwargs, runtime.policy, runtime.encoded_args, decoded_json)
            if args or kwargs
            else _EMPTY_ARGS
        ),
        "retried_count": fields.get("retries") or 0,
        # Celery's own request hostname is the node name in prefork but the bare machine name in the
        # solo and threads pools; the worker's node name is what identifies it.
        "hostname": runtime.hostname or fields.get("hostname"),
        "pid": _pid,
    }
    if ctx and ctx.get("node_name"):
        details["node_name"] = ctx["node_name"]
    return details


# -- publish -------------------------------------------------------------------------------------


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
    own_retry = current_id is not None and task_id == current_id

    outgoing = context.read(headers)
    if context.HEADER not in headers and current_id is not None:
        # Never overwrite a context someone set (the Dispatcher's helpers do, per node).
        outgoing = _flow_of(current, request)
        if own_retry:
            # Celery names a retried top-level task as its own parent; carry the real one.
            outgoing["parent"] = context.true_parent(vars(request), context.read(request))
            if not is_dispatcher(current):
                outgoing.update({k: v for k, v in context.read(request).items() if k == "node_name"})
        if outgoing:
            headers[context.HEADER] = outgoing
    if own_retry:
        return  # the retry is reported by TASK_RETRY / DISPATCHER_RETRY, not as a new schedule

    app = runtime.app if runtime.app is not None else getattr(current, "app", None)
    target = _registered(app, name)
    subflow = is_dispatcher(target) and current is not None and is_dispatcher(current)
    event = Trace.SUBFLOW_SCHEDULE if subflow else Trace.TASK_SCHEDULE
    if not Trace.wants(event):
        return

    eta = headers.get("eta")
    details = {
        "task_name": name,
        "task_id": task_id,
        "queue": runtime.queue_of(app, exchange, routing_key, False) if app is not None else None,
        "countdown": _countdown(eta),
        "eta": eta if isinstance(eta, str) else None,
        "parent": headers.get("parent_id"),
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
    if is_dispatcher(target):
        # A flow being submitted: the event belongs to the new flow (its dispatcher id is the task id).
        details["flow_name"] = flow_name_of(target)
        details["dispatcher_id"] = task_id
        if subflow:
            details["parent_dispatcher_id"] = current_id
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


# -- execution (the process that runs the task) --------------------------------------------------


def _begin(task: Any, task_id: Any, args: Any, kwargs: Any, request: Any) -> _Attempt | None:
    """TASK_START, and the attempt remembered (in this thread) for its terminal event."""
    attempt = None
    try:
        fields = request if type(request) is dict else {"id": task_id}
        details = task_details(task, fields, args, kwargs)
        stack = _attempts.stack
        if len(stack) > 64:  # an attempt never ended (tracing switched off mid-task): stay bounded
            stack.clear()
        attempt = _Attempt(task_id, details, runtime.encoded_args, stack)
        stack.append(attempt)
        emit(_TASK_START, details)
    except Exception as exc:
        report_internal_error("task start", exc)
    return attempt


def _end(attempt: _Attempt, task: Any, request: Any, outcome: Any) -> None:
    """The terminal event of an attempt whose own signal (failure, retry) did not report it.

    ``outcome`` is what Celery's tracer returned: ``(R, I, T, Rstr)``. ``I`` (the TraceInfo) is None
    for a success, which is also the only outcome with a runtime ``T``; otherwise it has the state.
    """
    try:
        _forget(attempt)
        details = attempt.end()
        if details is None:
            return
        retval, info, took = outcome[0], outcome[1], outcome[2]
        if info is None:
            if took is None:
                # The task did not run: a redelivered message of a task that already succeeded
                # (worker_deduplicate_successful_tasks), or an error before its request existed.
                details["state"] = IGNORED
            elif retval is not None and Trace.wants(Trace.TASK_DISCARD_RESULT) and _discards(task, request):
                emit(Trace.TASK_DISCARD_RESULT, {**details, "result": runtime.text(retval)})
            emit(_TASK_END, details)
            return
        state, exc = info.state, info.retval
        if state == IGNORED:
            # Ignore is control flow (Task.replace raises it): the attempt ended as the task chose.
            details["state"] = state
            emit(Trace.TASK_END, details)
        elif state == REJECTED:
            _rejected(details, task, exc)
        elif state in (FAILURE, RETRY):  # only if their own signal did not reach us
            details.update(
                what=runtime.text(repr(exc)), exc_type=type(exc).__name__, max_retry=task.max_retries
            )
            emit(Trace.TASK_FAILURE if state == FAILURE else Trace.TASK_RETRY, details)
    except Exception as error:
        report_internal_error("task end", error)


def _escaped(attempt: _Attempt, task: Any, exc: BaseException) -> None:
    """An exception left Celery's tracer: eager mode's propagation, or a Reject/MemoryError it re-raises.

    SystemExit and the like end the process: the worker's main process reports the lost attempt.
    """
    try:
        _forget(attempt)
        details = attempt.end() if isinstance(exc, Exception) else None
        if details is None:
            return
        if isinstance(exc, Reject):
            _rejected(details, task, exc)
            return
        details["what"] = runtime.traceback(_traceback_of(exc))
        details.update(exc_type=type(exc).__name__, max_retry=task.max_retries)
        with exception_scope(exc):
            emit(Trace.TASK_FAILURE, details)
    except Exception as error:
        report_internal_error("task end", error)


def _traceback_of(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _rejected(details: dict[str, Any], task: Any, exc: Any) -> None:
    if getattr(exc, "requeue", False):
        details.update(reason=runtime.text(f"rejected and requeued: {exc!r}"), exc_type="Reject")
        details.update(what=None, retry_countdown=None, max_retry=task.max_retries)
        emit(Trace.TASK_RETRY, details)
    # Reject without requeue: the worker's main process reports the failure (task_failure).


def _forget(attempt: _Attempt) -> None:
    stack = attempt.stack
    if stack and stack[-1] is attempt:
        stack.pop()
    elif attempt in stack:
        stack.remove(attempt)


def _discards(task: Any, request: Any) -> bool:
    """True when no result backend keeps this attempt's result (TASK_DISCARD_RESULT then carries it)."""
    fields = request if isinstance(request, dict) else {}
    if fields.get("is_eager"):
        return False
    if task.ignore_result or fields.get("ignore_result"):
        return True
    return isinstance(task.backend, DisabledBackend)


_WRAPPED: Final = "_selinon_trace_wrapped"
_tracing = False  # True while a sink wants a TASK_* event (see sync)


def wrap_tracer(tracer: Any, task: Any) -> Any:
    """Wrap the function Celery built to run ``task``: TASK_START before it, the terminal event after.

    This replaces ``task_prerun``/``task_postrun`` receivers: the tracer is where Celery sends those
    signals from, and two signal dispatches per task cost more than the whole tracing budget
    (sentry-sdk wraps the same function). Failures and retries are still reported by their own
    signals, which carry the exception. Dispatchers trace themselves and are left alone.
    """
    if getattr(tracer, _WRAPPED, False) or not callable(tracer) or is_dispatcher(task):
        return tracer

    def traced(uuid: Any, args: Any, kwargs: Any, request: Any = None) -> Any:
        if not _tracing:
            return tracer(uuid, args, kwargs, request)
        attempt = _begin(task, uuid, args, kwargs, request)
        if attempt is None:
            return tracer(uuid, args, kwargs, request)
        try:
            outcome = tracer(uuid, args, kwargs, request)
        except BaseException as exc:
            _escaped(attempt, task, exc)
            raise
        _end(attempt, task, request, outcome)
        return outcome

    traced.__wrapped__ = tracer  # type: ignore[attr-defined]
    setattr(traced, _WRAPPED, True)
    return traced


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


def on_task_retry(
    sender: Any = None, request: Any = None, reason: Any = None, einfo: Any = None, **_: Any
) -> None:
    """TASK_RETRY, for ``self.retry()`` and ``autoretry_for``."""
    try:
        attempt = _running(getattr(request, "id", None))
        details = attempt.end() if attempt is not None else None
        if details is None:
            return
        cause = getattr(reason, "exc", None)
        when = getattr(reason, "when", None)
        what: Any
        if isinstance(cause, BaseException) and cause.__traceback__ is not None:
            what = _traceback_of(cause)  # the task's own error, not Celery's Retry wrapping it
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
        if sender is None or runtime.is_dispatcher(sender):
            return
        attempt = _running(task_id)
        if attempt is not None:
            ended = attempt.end()
            if ended is None:
                return
            details = ended
        else:
            found = _main_process_details(sender, task_id, sender.request, args, kwargs)
            if found is None:
                return  # already reported (a hard time limit signals twice)
            details = found
        details["what"] = runtime.traceback(getattr(einfo, "traceback", None))
        details["exc_type"] = type(exception).__name__ if exception is not None else None
        details["max_retry"] = sender.max_retries
        with exception_scope(exception if isinstance(exception, BaseException) else None):
            emit(Trace.TASK_FAILURE, details)
    except Exception as exc:
        report_internal_error("task_failure receiver", exc)


def _main_process_details(
    sender: Any, task_id: Any, request: Any, args: Any, kwargs: Any
) -> dict[str, Any] | None:
    received = _failing_request(task_id) if isinstance(task_id, str) else None
    if received is not None:
        if getattr(received, _REPORTED, False):
            return None
        setattr(received, _REPORTED, True)
        try:
            request = received._context  # the Context Celery would give the task: headers included
        except Exception:
            pass
    fields = getattr(request, "__dict__", None)
    if not isinstance(fields, dict) or fields.get("id") != task_id:
        fields = {"id": task_id}  # all that is known of a task whose request is not at hand
    return task_details(sender, fields, args, kwargs)


# -- the worker's main process -------------------------------------------------------------------


def _failing_request(task_id: str) -> Any:
    """The worker's ``Request`` of ``task_id`` whose failure the main process is reporting, if at hand.

    Celery sends ``task_failure`` there from the request's own methods (``on_failure``, ``on_timeout``),
    through ``Signal.send``: the request is the ``self`` of a frame a few calls up. Looked for on this
    rare path only.
    """
    from celery.worker.request import Request

    try:
        frame: Any = sys._getframe(2)
    except ValueError:
        return None
    for _ in range(_CALLERS):
        if frame is None:
            break
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Request) and candidate.id == task_id:
            return candidate
        frame = frame.f_back
    return None


_CALLERS: Final = 8  # frames looked through: the receiver, Signal.send, then Celery's Request method


def on_worker_init(sender: Any = None, **_: Any) -> None:
    """Remember this worker's node name (``celery@host``) for the ``hostname`` of every event."""
    hostname = getattr(sender, "hostname", None)
    if isinstance(hostname, str):
        runtime.hostname = hostname


def on_worker_process_shutdown(**_: Any) -> None:
    """Flush sinks that buffer (Sentry) before a pool process exits: it does not run ``atexit``."""
    for sink in Trace.sinks():
        flush = getattr(sink, "flush", None)
        if callable(flush):
            try:
                flush()
            except Exception as exc:
                report_internal_error("worker_process_shutdown receiver", exc)


# -- the table -----------------------------------------------------------------------------------

Receiver = Callable[..., None]
ALWAYS: Final[tuple[tuple[Any, Receiver], ...]] = (
    (signals.before_task_publish, on_before_task_publish),
    (signals.worker_init, on_worker_init),
    (signals.worker_process_shutdown, on_worker_process_shutdown),
)
WORKER: Final[tuple[tuple[Any, Receiver], ...]] = (
    (signals.task_retry, on_task_retry),
    (signals.task_failure, on_task_failure),
)


def _uid(receiver: Receiver) -> str:
    return f"selinon_celery_trace.{receiver.__name__}"


def connect(table: tuple[tuple[Any, Receiver], ...]) -> None:
    """Connect every receiver of ``table`` strongly; connecting again is harmless (``dispatch_uid``)."""
    for signal, receiver in table:
        signal.connect(receiver, weak=False, dispatch_uid=_uid(receiver))


def disconnect(table: tuple[tuple[Any, Receiver], ...]) -> None:
    """Disconnect every receiver of ``table``."""
    for signal, receiver in table:
        signal.disconnect(receiver, dispatch_uid=_uid(receiver))


def sync() -> None:
    """Trace task execution only while a sink wants a TASK_* event (so tracing off costs nothing)."""
    global _tracing
    _tracing = any(Trace.wants(event) for event in TASK_EVENTS)
    # A sink added while an attempt runs may see that attempt's arguments still encoded: rare, and an
    # orjson.Fragment is still their JSON text.
    runtime.encoded_args = EMBEDS_ENCODED and all(
        getattr(sink, "encodes_details", False) is True for sink in Trace.sinks()
    )
    if _tracing:
        connect(WORKER)
    else:
        disconnect(WORKER)


def stop() -> None:
    """Stop tracing task execution (uninstall): the worker receivers and the tracer wrappers."""
    global _tracing
    _tracing = False
    disconnect(WORKER)
