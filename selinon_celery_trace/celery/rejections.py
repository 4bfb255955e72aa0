"""Messages the worker could not take (its main process): TASK_REJECTED, once per message.

Celery's consumer hands each message it cannot run to exactly one of four methods, and drops it there
(rejected without requeue, or acknowledged):

- ``on_unknown_task``: a task name this worker has not registered; sends ``task_unknown``;
- ``on_invalid_task``: an invalid message (a bad ``eta``/``expires``) or a content type the app does not
  accept; sends ``task_rejected`` with the exception;
- ``on_unknown_message``: not a task message at all; sends ``task_rejected`` without one;
- ``on_decode_error``: a body that cannot be decoded; sends no signal, so a named hook on
  ``Consumer.on_decode_error`` reports it (decode errors of the worker's remote-control mailbox go
  through the same method and are left out: they are not task messages).

``kind`` says which: ``unregistered``, ``invalid``, ``content_disallowed``, ``not_a_task``,
``undecodable``. The task keys are read from the message's headers (or a protocol 1 body) when they are
there; ``node_args`` only when the body could be decoded.
"""

from __future__ import annotations

from typing import Any, Final

from ..core.handoff import emit_in_background
from ..core.record import message_scope
from ..core.registry import report_internal_error, wants
from ..trace import Trace
from . import patching
from .details import message_details
from .runtime import runtime

__all__ = ["on_task_rejected", "on_task_unknown", "patch_consumer", "unpatch_consumer"]

_EVENT: Final = Trace.TASK_REJECTED


def on_task_unknown(
    sender: Any = None, message: Any = None, exc: Any = None, name: Any = None, id: Any = None, **_: Any
) -> None:
    """An unregistered task name (``task_unknown``)."""
    try:
        if wants(_EVENT):
            reason = f"task {name!r} is not registered in this worker"
            # Celery looks the name up (a KeyError) and stores NotRegistered as the task's result.
            _emit(sender, message, "unregistered", reason, "NotRegistered", name, decode=True)
    except Exception as error:
        report_internal_error("task_unknown receiver", error)


def on_task_rejected(sender: Any = None, message: Any = None, exc: Any = None, **_: Any) -> None:
    """An invalid message, a content type not accepted, or no task message at all (``task_rejected``)."""
    try:
        if not wants(_EVENT):
            return
        if exc is None:
            _emit(sender, message, "not_a_task", "not a task message (unknown format)", None, None, True)
            return
        from kombu.exceptions import ContentDisallowed

        kind = "content_disallowed" if isinstance(exc, ContentDisallowed) else "invalid"
        _emit(sender, message, kind, str(exc), exc, None, decode=kind == "invalid")
    except Exception as error:
        report_internal_error("task_rejected receiver", error)


def _on_decode_error(consumer: Any, message: Any, exc: Any) -> None:
    """A body that could not be decoded (``Consumer.on_decode_error``: no signal)."""
    try:
        if wants(_EVENT) and not _is_control_message(consumer, message):
            _emit(consumer, message, "undecodable", str(exc), exc, None, decode=False)
    except Exception as error:
        report_internal_error("Consumer.on_decode_error hook", error)


def _emit(consumer: Any, message: Any, kind: str, reason: str, exc: Any, name: Any, decode: bool) -> None:
    headers = getattr(message, "headers", None)
    fields: dict[str, Any] = dict(headers) if isinstance(headers, dict) else {}
    body = _decoded(message) if decode else None
    if isinstance(body, dict) and "task" in body and "task" not in fields:
        fields.update(body)  # message protocol 1: the task's fields are in the body
    args, kwargs, decoded = _arguments(body)
    fields["delivery_info"] = getattr(message, "delivery_info", None)
    app = getattr(consumer, "app", None) or runtime.app
    details = message_details(app, name or fields.get("task"), fields, args, kwargs, decoded)
    details.update(
        reason=runtime.text(reason),
        kind=kind,
        exc_type=exc if isinstance(exc, str) else type(exc).__name__ if exc is not None else None,
        content_type=_text(getattr(message, "content_type", None)),
        content_encoding=_text(getattr(message, "content_encoding", None)),
    )
    if runtime.message_sinks:
        with message_scope(headers if isinstance(headers, dict) else None):  # its trace context
            emit_in_background(_EVENT, details)
    else:
        emit_in_background(_EVENT, details)


def _decoded(message: Any) -> Any:
    """The message's body, decoded as Celery would (its accept list enforced); None when it cannot be."""
    try:
        return message.payload
    except Exception:
        return None


def _arguments(body: Any) -> tuple[Any, Any, bool]:
    if isinstance(body, (list, tuple)) and len(body) >= 2:  # protocol 2: (args, kwargs, embed)
        return body[0], body[1], True
    if isinstance(body, dict) and ("args" in body or "kwargs" in body):  # protocol 1
        return body.get("args"), body.get("kwargs"), True
    return None, None, False


def _is_control_message(consumer: Any, message: Any) -> bool:
    """True for a message of the worker's remote-control mailbox (pidbox), which is no task message."""
    delivery = getattr(message, "delivery_info", None)
    exchange = delivery.get("exchange") if isinstance(delivery, dict) else None
    if not exchange:
        return False
    try:
        mailbox = consumer.app.control.mailbox
        return exchange in (mailbox.exchange.name, mailbox.reply_exchange.name)
    except Exception:
        return False


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _hooked(original: Any) -> Any:
    def on_decode_error(self: Any, message: Any, exc: Any) -> Any:
        _on_decode_error(self, message, exc)
        return original(self, message, exc)

    return on_decode_error


def patch_consumer() -> None:
    """Hook ``Consumer.on_decode_error`` (the worker's consumer; imported only when installing)."""
    from celery.worker.consumer.consumer import Consumer

    patching.hook(Consumer, "on_decode_error", _hooked)


def unpatch_consumer() -> None:
    """Undo :func:`patch_consumer`."""
    from celery.worker.consumer.consumer import Consumer

    patching.unhook(Consumer, "on_decode_error")
