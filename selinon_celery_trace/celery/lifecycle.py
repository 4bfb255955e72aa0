"""The worker's own life (its main process): WORKER_ONLINE and WORKER_OFFLINE.

- ``worker_ready`` (sent once, when the consumer first consumes): WORKER_ONLINE, with what the worker
  runs: its pool, concurrency, the queues it consumes and the software versions.
- ``worker_shutting_down`` is sent from Celery's handler of SIGTERM / SIGINT / SIGQUIT: the receiver
  only remembers how (warm or cold) and the signal; a signal handler must not take the hand-off
  queue's lock, which the interrupted code may hold.
- Named hooks on ``WorkController.stop`` (the warm shutdown; Celery sends ``worker_shutdown`` from it)
  and ``WorkController.terminate`` (the cold one, which sends no signal): WORKER_OFFLINE once the
  consumer and the pool have stopped, then the hand-off queue is flushed for a bounded time, so the
  last events of the worker's main process are written before it exits.

A worker that never came online (it failed while starting) has no WORKER_OFFLINE either.
"""

from __future__ import annotations

import platform
from time import monotonic
from typing import Any, Final

from ..core import __version__, handoff
from ..core.handoff import emit_in_background
from ..core.registry import report_internal_error, wants
from ..trace import Trace
from . import patching
from .runtime import runtime

__all__ = ["FLUSH_TIMEOUT", "on_worker_ready", "on_worker_shutting_down", "patch_worker", "unpatch_worker"]

FLUSH_TIMEOUT: Final = 5.0
"""Seconds a stopping worker waits, at most, for the events its main process handed off."""


class _Life:
    """Global state department: this worker's start, and how it was asked to stop."""

    def __init__(self) -> None:
        self.online_at: float | None = None  # monotonic time of WORKER_ONLINE
        self.how: str | None = None  # "warm" / "cold", from worker_shutting_down
        self.signal: str | None = None
        self.offline = False


_life: Final = _Life()


def on_worker_ready(sender: Any = None, **_: Any) -> None:
    """WORKER_ONLINE (``sender`` is the worker's consumer)."""
    try:
        _life.online_at, _life.offline, _life.how, _life.signal = monotonic(), False, None, None
        if not wants(Trace.WORKER_ONLINE):
            return
        controller = getattr(sender, "controller", None)
        hostname = getattr(sender, "hostname", None)
        details = {
            "hostname": runtime.hostname or (hostname if isinstance(hostname, str) else None),
            "pid": runtime.pid,
            "pool": _pool_name(getattr(controller, "pool_cls", None)),
            "concurrency": _int(getattr(controller, "concurrency", None)),
            "queues": _queues(getattr(sender, "app", None) or runtime.app),
            "software": _software(),
        }
        emit_in_background(Trace.WORKER_ONLINE, details)
    except Exception as exc:
        report_internal_error("worker_ready receiver", exc)


def on_worker_shutting_down(sig: Any = None, how: Any = None, **_: Any) -> None:
    """Remember how the worker was asked to stop (runs inside a signal handler: nothing more)."""
    _life.how = how.lower() if isinstance(how, str) else None
    _life.signal = sig if isinstance(sig, str) else None


def _offline(worker: Any, how: str) -> None:
    if _life.online_at is None or _life.offline:
        return
    _life.offline = True
    if wants(Trace.WORKER_OFFLINE):
        exitcode = getattr(worker, "exitcode", None)
        details = {
            "hostname": runtime.hostname,
            "pid": runtime.pid,
            "reason": _life.how or how,
            "signal": _life.signal,
            "exitcode": exitcode if type(exitcode) is int else None,
            "uptime": round(monotonic() - _life.online_at, 3),
        }
        emit_in_background(Trace.WORKER_OFFLINE, details)
    handoff.flush(FLUSH_TIMEOUT)


def _stopping(how: str) -> Any:
    def make(original: Any) -> Any:
        def stop(self: Any, in_sighandler: bool = False, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(self, in_sighandler, *args, **kwargs)
            finally:
                if not in_sighandler:  # from a signal handler Celery only flags the stop
                    try:
                        _offline(self, how)
                    except Exception as exc:
                        report_internal_error(f"WorkController {how} stop hook", exc)

        return stop

    return make


def _pool_name(pool_cls: Any) -> str | None:
    """The pool's name as ``-P`` takes it (``prefork``, ``threads``, ``solo`` ...), else its class path."""
    if pool_cls is None:
        return None
    if isinstance(pool_cls, str):
        return pool_cls
    path = f"{getattr(pool_cls, '__module__', '')}:{getattr(pool_cls, '__qualname__', '')}"
    try:
        from celery.concurrency import ALIASES

        for alias, target in ALIASES.items():
            if target == path:
                return str(alias)
    except Exception:
        pass
    return path


def _queues(app: Any) -> list[str]:
    try:
        return sorted(str(name) for name in app.amqp.queues.consume_from)
    except Exception:
        return []


def _software() -> dict[str, str | None]:
    import billiard
    import celery
    import kombu

    return {
        "python": platform.python_version(),
        "celery": getattr(celery, "__version__", None),
        "kombu": getattr(kombu, "__version__", None),
        "billiard": getattr(billiard, "__version__", None),
        "selinon_celery_trace": __version__,
    }


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def patch_worker() -> None:
    """Hook ``WorkController.stop`` and ``terminate`` (the worker; imported only when installing)."""
    from celery.worker import WorkController

    patching.hook(WorkController, "stop", _stopping("warm"))
    patching.hook(WorkController, "terminate", _stopping("cold"))


def unpatch_worker() -> None:
    """Undo :func:`patch_worker`."""
    from celery.worker import WorkController

    patching.unhook(WorkController, "stop")
    patching.unhook(WorkController, "terminate")
