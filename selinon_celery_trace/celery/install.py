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

from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from ..core.registry import Sink
from ..trace import Trace
from . import receivers
from .config import TraceConfigError, load_settings

__all__ = ["TraceConfigError", "install", "installed_app", "uninstall"]

_sinks: tuple[Sink, ...] = ()  # the sinks the current installation registered


def install(app: Any) -> None:
    """Trace ``app``'s tasks with the sinks of its configuration (``app.conf.selinon_trace`` ...).

    Validates the whole configuration first: a bad entry raises :class:`TraceConfigError` naming it and
    changes nothing. Installing again (the same or another configuration) replaces the previous
    installation; it never doubles events.
    """
    global _sinks
    settings = load_settings(app.conf)
    with receivers.runtime.lock:
        previous, _sinks = _sinks, ()
        for sink in previous:
            if sink not in settings.sinks:
                Trace.remove_sink(sink)
        receivers.runtime.app = app
        receivers.runtime.policy = settings.policy
        Trace.mute(settings.muted)
        _sinks = tuple(Trace.add_sink(sink) for sink in settings.sinks)
        receivers.connect(receivers.ALWAYS)
        receivers.patch_tracers(app)
        # A soft time limit can fire while a sink runs inside the task (Trace.log from task code,
        # or a Dispatcher's events): it belongs to the task, never to the tracer's error handling.
        Trace.let_through(SoftTimeLimitExceeded)
        Trace.watch(receivers.sync)
        receivers.sync()


def uninstall(app: Any = None) -> None:
    """Undo :func:`install`: disconnect every receiver and remove the sinks it registered."""
    global _sinks
    with receivers.runtime.lock:
        Trace.unwatch(receivers.sync)
        receivers.disconnect(receivers.ALWAYS)
        receivers.stop()
        receivers.unpatch_tracers(app if app is not None else receivers.runtime.app)
        for sink in _sinks:
            Trace.remove_sink(sink)
        _sinks = ()
        Trace.mute(())
        receivers.runtime.app = None


def installed_app() -> Any:
    """Return the app tracing was installed for, or None."""
    return receivers.runtime.app
