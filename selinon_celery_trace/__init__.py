"""Selinon's trace events for any Celery application.

>>> import selinon_celery_trace
>>> selinon_celery_trace.Trace.event2str(selinon_celery_trace.Trace.TASK_START)
'TASK_START'

The Celery adapters (``install``, ``uninstall``, ``Dispatcher``, ``TraceConfigError``) are imported on
first use, so the trace core can be used (and imported) without loading Celery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core import __version__
from .trace import Trace

if TYPE_CHECKING:
    from .celery.config import TraceConfigError
    from .celery.dispatcher import Dispatcher
    from .celery.install import install, uninstall

__all__ = ["Dispatcher", "Trace", "TraceConfigError", "__version__", "install", "uninstall"]

_LAZY = {
    "install": "celery.install",
    "uninstall": "celery.install",
    "Dispatcher": "celery.dispatcher",
    "TraceConfigError": "celery.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'selinon_celery_trace' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
