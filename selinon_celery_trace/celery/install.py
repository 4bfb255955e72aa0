"""Enable tracing in a Celery app: ``install(app)`` / ``uninstall(app)``.

>>> from celery import Celery
>>> import selinon_celery_trace
>>> app = Celery("proj")
>>> app.conf.selinon_trace = [{"logging": True}]
>>> selinon_celery_trace.install(app)
>>> selinon_celery_trace.uninstall(app)

Configuration only, no code: add ``"selinon_celery_trace.auto"`` to the app's ``imports`` setting and
the worker installs tracing from the app's configuration when it starts.
"""

from __future__ import annotations

import sys
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded, WorkerShutdown, WorkerTerminate

from ..core import registry
from ..core.registry import Sink
from . import execution, failures, hooks
from .config import TraceConfigError, load_settings
from .runtime import runtime

__all__ = ["TraceConfigError", "install", "uninstall"]

_sinks: tuple[Sink, ...] = ()  # the sinks the current installation registered


def install(app: Any) -> None:
    """Trace ``app``'s tasks with the sinks of its configuration (``app.conf.selinon_trace`` ...).

    Validates the whole configuration first: a bad entry raises :class:`TraceConfigError` naming it and
    changes nothing. Installing again (the same or another configuration) replaces the previous
    installation; it never doubles events.
    """
    global _sinks
    settings = load_settings(app.conf)
    with runtime.lock:
        previous, _sinks = _sinks, ()
        for sink in previous:
            if sink not in settings.sinks:
                registry.remove_sink(sink)
        runtime.app = app
        runtime.policy = settings.policy
        registry.mute(settings.muted)
        _sinks = tuple(registry.add_sink(sink) for sink in settings.sinks)
        hooks.connect(hooks.ALWAYS)
        execution.patch_tracers(app)
        failures.patch_requests()
        hooks.patch()
        # A time limit can fire while a sink runs inside the task (Trace.log from task code, or a
        # Dispatcher's events): it belongs to the task, never to the tracer's error handling (green
        # pools raise the hard one in the task too). The worker's shutdown (SystemExit subclasses,
        # raised in its main process) is the worker's.
        registry.let_through(SoftTimeLimitExceeded, TimeLimitExceeded, WorkerShutdown, WorkerTerminate)
        registry.let_through(*_green_control_flow())
        registry.watch(hooks.sync)
        hooks.sync()


def uninstall(app: Any = None) -> None:
    """Undo :func:`install`: disconnect every receiver and remove the sinks it registered."""
    global _sinks
    with runtime.lock:
        registry.unwatch(hooks.sync)
        hooks.disconnect(hooks.ALWAYS)
        hooks.stop()
        failures.unpatch_requests()
        hooks.unpatch()
        execution.unpatch_tracers(app if app is not None else runtime.app)
        for sink in _sinks:
            registry.remove_sink(sink)
        _sinks = ()
        registry.mute(())
        runtime.app = None


def _green_control_flow() -> tuple[type[BaseException], ...]:
    """What a green pool's scheduler throws into a running greenlet (a kill, a timeout): never a sink's.

    They are not ``Exception`` subclasses; read only when gevent or eventlet is already imported (a
    worker with ``-P gevent``/``eventlet`` imports it before anything else).
    """
    found: list[type[BaseException]] = []
    for module, name in (("greenlet", "GreenletExit"), ("gevent", "Timeout"), ("eventlet", "Timeout")):
        value = getattr(sys.modules.get(module), name, None)
        if isinstance(value, type) and issubclass(value, BaseException):
            found.append(value)
    return tuple(found)
