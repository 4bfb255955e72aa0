"""The Sentry sink: failures become Sentry events, everything else breadcrumbs.

Needs the ``sentry`` extra. Uses the application's Sentry client when one is initialised; otherwise it
initialises one from the DSN (``{ENV_VAR}`` placeholders expanded).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ..catalogue import WARN_EVENTS
from ..placeholders import expand_env
from ..record import current_exception, event_name

__all__ = ["FAILURE_EVENTS", "SentrySink"]

FAILURE_EVENTS = frozenset({8, 10, 11, 12})  # TASK_FAILURE, FLOW_FAILURE, DISPATCHER_FAILURE, NODE_FAILURE
_WARN = frozenset(WARN_EVENTS)
_TAG_KEYS = ("task_name", "task_id", "queue", "flow_name", "dispatcher_id", "hostname")


def _import_sentry() -> Any:
    try:
        import sentry_sdk
    except ImportError:
        raise ImportError(
            "the Sentry trace sink needs sentry-sdk: pip install 'selinon-celery-trace[sentry]'"
        ) from None
    return sentry_sdk


class SentrySink:
    """Send failure events to Sentry (with the real exception when there is one), the rest as breadcrumbs."""

    __slots__ = ("_sdk", "key")

    def __init__(self, dsn: str | None = None) -> None:
        sdk = _import_sentry()
        client = sdk.get_client()
        if not client.is_active():
            sdk.init(dsn=expand_env(dsn) if dsn else None)
        self._sdk = sdk
        self.key: Hashable = ("sentry",)

    def __call__(self, event: int, details: Any) -> None:
        sdk = self._sdk
        name = event_name(event)
        if event not in FAILURE_EVENTS:
            sdk.add_breadcrumb(
                category="selinon_trace",
                message=name,
                level="warning" if event in _WARN else "info",
                data=details if isinstance(details, dict) else {"details": details},
            )
            return
        with sdk.new_scope() as scope:
            scope.set_tag("event", name)
            if isinstance(details, dict):
                for key in _TAG_KEYS:
                    value = details.get(key)
                    if value is not None:
                        scope.set_tag(key, str(value))
                scope.set_context("selinon_trace", details)
            exc = current_exception()
            if exc is not None:
                sdk.capture_exception(exc)
            else:
                sdk.capture_message(
                    f"{name}: {details.get('what') if isinstance(details, dict) else ''}", level="error"
                )

    def __repr__(self) -> str:
        return "SentrySink()"
