"""Configuration-only activation: list this module in the app's ``imports`` setting.

    app.conf.imports = ["selinon_celery_trace.auto", ...]
    app.conf.selinon_trace = [{"json": {"path": "/var/log/celery/trace.jsonl"}}]

The worker imports the modules of ``imports`` when it starts (before forking its pool), so tracing is
installed from the app's configuration in the worker and inherited by every pool process. A bad
configuration stops the worker at start with an error naming the entry.

Client processes (a web app that only publishes) do not import ``imports``: call
``selinon_celery_trace.install(app)`` there to get TASK_SCHEDULE events from them too.
"""

from __future__ import annotations

from typing import Any

from celery import _state

from .celery.install import install

_MODULE = __name__


def _apps_importing_us() -> list[Any]:
    # The app whose loader is importing us is the one that lists us in `imports`; when several apps
    # exist in the process, pick those (the current app otherwise).
    found = []
    for app in list(_state._apps):
        try:
            imports = tuple(app.conf.imports or ()) + tuple(app.conf.include or ())
        except Exception:
            continue
        if _MODULE in imports:
            found.append(app)
    return found or [_state.get_current_app()]


for _app in _apps_importing_us():
    install(_app)
