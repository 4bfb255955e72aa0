"""The ``task_revoked`` signal (the worker's main process): TASK_REVOKED and TASK_EXPIRED.

Celery sends ``task_revoked`` once per request, from ``Request._announce_revoked``, which marks the
request so it never announces twice:

- a message revoked before it started (``app.control.revoke(id)``, ``revoke_by_stamped_headers``) is
  dropped by the worker when it takes it or when it would hand it to the pool: it never runs, so it has
  no TASK_START, and TASK_REVOKED (``started`` false) is its one fate event;
- ``revoke(id, terminate=True)`` of a running task kills its pool process (``SIGTERM`` unless another
  signal is asked for): the attempt's TASK_START is followed by TASK_REVOKED (``terminated`` true) as
  its end. Celery then fails the request with ``Terminated`` without sending ``task_failure``, and the
  killed process is not a lost one (:mod:`.processes` leaves it out), so no other end follows;
- a message whose ``expires`` deadline passed before the worker could start it (``expired=True``):
  TASK_EXPIRED with the deadline and how late it was found.

Who revoked is never in Celery's revoke; why is, when the worker can tell: the task id was in its
revoked set, or one of the message's stamped headers matched a revoked stamp.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Final

from ..core.handoff import emit_in_background
from ..core.record import message_scope
from ..core.registry import report_internal_error, wants
from ..trace import Trace
from .details import message_details
from .runtime import runtime, signal_name

__all__ = ["on_task_revoked"]

_MAX_STAMP_TEXT: Final = 200


def on_task_revoked(
    sender: Any = None,
    request: Any = None,
    terminated: Any = False,
    signum: Any = None,
    expired: Any = False,
    **_: Any,
) -> None:
    """TASK_EXPIRED for an expired message, TASK_REVOKED for any other revoked one."""
    try:
        event = Trace.TASK_EXPIRED if expired else Trace.TASK_REVOKED
        if not wants(event):
            return
        fields = _fields_of(request)
        app = getattr(sender, "app", None) if sender is not None else runtime.app
        name = getattr(sender, "name", None) or fields.get("task")
        details = message_details(app, name, fields, fields.get("args"), fields.get("kwargs"))
        if expired:
            details.update(_expiry(fields.get("expires"), app))
        else:
            number = _signal_number(signum) if terminated else None
            details.update(
                started=bool(terminated),
                terminated=bool(terminated),
                signum=number,
                signal=signal_name(number),
                reason=_reason(fields),
            )
        if runtime.message_sinks:
            with message_scope(fields):  # the request's fields: its headers carry a trace context
                emit_in_background(event, details)
        else:
            emit_in_background(event, details)
    except Exception as exc:
        report_internal_error("task_revoked receiver", exc)


def _fields_of(request: Any) -> dict[str, Any]:
    # Celery passes the request's Context, which keeps every field (headers included) in __dict__.
    try:
        fields = vars(request)
    except TypeError:
        fields = None
    return fields if isinstance(fields, dict) else {"id": getattr(request, "id", None)}


def _expiry(expires: Any, app: Any) -> dict[str, Any]:
    """The deadline (ISO-8601, with offset) and how many seconds past it the message was dropped."""
    when = _aware(expires, app)
    if when is None:
        return {"expires": expires if isinstance(expires, str) else None, "late": None}
    late = (datetime.now(timezone.utc) - when).total_seconds()
    return {"expires": when.isoformat(), "late": round(max(late, 0.0), 3)}


def _aware(expires: Any, app: Any) -> datetime | None:
    if isinstance(expires, datetime):
        when = expires
    elif isinstance(expires, str):
        try:
            when = datetime.fromisoformat(expires)
        except ValueError:
            return None
    else:
        return None
    if when.tzinfo is None:
        # Celery reads a naive deadline in the app's timezone (Request.tzlocal); UTC without one.
        try:
            zone = app.timezone if app is not None else timezone.utc
            when = when.replace(tzinfo=zone)
        except Exception:
            when = when.replace(tzinfo=timezone.utc)
    return when


def _signal_number(signum: Any) -> int | None:
    # Request.terminate passes the number; the "terminated before announced" path passes
    # str(Terminated(-signum)).
    if isinstance(signum, int):
        return abs(signum) or None
    if isinstance(signum, str):
        try:
            return abs(int(signum)) or None
        except ValueError:
            return None
    return None


def _reason(fields: dict[str, Any]) -> str | None:
    """Why the worker dropped or killed it: its id, or a stamped header, was revoked."""
    from celery.worker import state  # the worker's revoked sets (this runs in a worker only)

    task_id = fields.get("id")
    if task_id is not None and task_id in state.revoked:
        return "revoked by task id"
    stamped = fields.get("stamped_headers") or ()
    stamps = fields.get("stamps") or {}
    if not isinstance(stamps, dict):
        return None
    for header in stamped if isinstance(stamped, (list, tuple)) else ():
        revoked = getattr(state, "revoked_stamps", {}).get(header)
        if revoked is None:
            continue
        revoked_values = list(revoked) if isinstance(revoked, (list, tuple, set)) else [revoked]
        values = stamps.get(header)
        for value in values if isinstance(values, (list, tuple)) else [values]:
            if value is not None and value in revoked_values:
                text = f"revoked by stamped header {header}={value!r}"
                return str(runtime.text(text[:_MAX_STAMP_TEXT]))
    return None
