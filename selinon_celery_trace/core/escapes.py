"""Which exceptions raised while a sink runs are not the sink's, and so must go on to the caller.

A sink is user code: whatever it raises is contained (reported, counted), ``BaseException`` included.
A ``sys.exit()`` or ``KeyboardInterrupt`` in a sink must not end a pool process, nor a worker's main
process. But some exceptions that surface while a sink runs are not the sink's:

- the caller's control flow, registered by type with ``registry.let_through`` (Celery's
  ``SoftTimeLimitExceeded``, ``WorkerShutdown``, ``WorkerTerminate``);
- whatever a Python signal handler raised when its signal interrupted the sink: billiard's pool
  process raises ``SystemExit`` from its SIGTERM handler (``revoke(terminate=True)``, the pool's
  shutdown), Celery's main process raises ``WorkerTerminate`` from its hard-shutdown handler, an
  application may raise its own timeout from SIGALRM. CPython calls a handler as
  ``handler(signum, frame)`` with the frame it interrupted, which is the handler's caller in the
  traceback: that is how such an exception is told from the sink's own (:func:`from_signal_handler`);
- a ``KeyboardInterrupt`` on the main thread while SIGINT has Python's default handler (Ctrl+C in a
  script): that handler is C code and leaves no frame, so the user's Ctrl+C and a sink's own
  ``KeyboardInterrupt`` look alike, and the user's wins. In a Celery worker SIGINT is Celery's (main
  process) or ignored (pool processes), so a ``KeyboardInterrupt`` there is always the sink's.

Only the exception path pays for this: the traceback is walked once per exception.
"""

from __future__ import annotations

import inspect
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

__all__ = ["escapes", "from_signal_handler"]

_VARARGS = inspect.CO_VARARGS


def escapes(exc: BaseException, passthrough: tuple[type[BaseException], ...]) -> bool:
    """True when ``exc``, raised while a sink ran, belongs to the caller rather than to the sink."""
    if passthrough and isinstance(exc, passthrough):
        return True
    if isinstance(exc, KeyboardInterrupt) and _ctrl_c_possible():
        return True
    return from_signal_handler(exc.__traceback__)


def _ctrl_c_possible() -> bool:
    try:
        return (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
    except Exception:  # pragma: no cover - an interpreter without signals
        return False


def from_signal_handler(tb: TracebackType | None) -> bool:
    """True when a frame of ``tb`` is a signal handler's: called with its caller's frame as argument."""
    caller: FrameType | None = None
    while tb is not None:
        frame = tb.tb_frame
        if caller is not None and _passed(frame, caller):
            return True
        caller, tb = frame, tb.tb_next
    return False


def _passed(frame: FrameType, value: FrameType) -> bool:
    """True when ``value`` is one of the positional arguments ``frame``'s function was called with."""
    code = frame.f_code
    count = code.co_argcount
    varargs = code.co_flags & _VARARGS
    if count < 2 and not varargs:  # a handler takes (signum, frame)
        return False
    try:
        scope: Any = frame.f_locals
        names = code.co_varnames
        if any(scope.get(name) is value for name in names[:count]):
            return True
        if varargs:
            extra = scope.get(names[count + code.co_kwonlyargcount])
            return isinstance(extra, tuple) and any(item is value for item in extra)
    except Exception:  # pragma: no cover - a frame whose locals cannot be read: not a handler's
        return False
    return False
