"""sentry-sdk for the Sentry sink: importing it, checking a DSN, and the client the sink starts itself.

The application's Sentry client is used whenever one is active in the process, so its options
(environment, release, ``before_send``, sampling) apply to our events too; it is never replaced. Only
when none is active and a DSN is given does the sink initialise one itself (:class:`OwnClient`:
``sentry_sdk.init`` with the SDK's defaults but for three: no frame local variables unless asked (they
hold task arguments, request objects, credentials the task had at hand), a short ``shutdown_timeout``
and HTTP timeout so an unreachable Sentry never holds a worker's shutdown for long). That happens when
the sink is built, that is at ``install`` in the worker's main process, so Sentry's own integrations are
set up before the pool forks. A forked child never uses the transport it inherited: its queue, sending
thread and locks belong to the parent (an event queued there would be sent twice, a lock held there at
fork never released), so our client gets a fresh transport in the child at fork time (a re-``init``
would cost about 25 ms in every new pool process). The application's own client is left as sentry-sdk
made it.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["DEFAULT_SHUTDOWN_TIMEOUT", "HTTP_TIMEOUT", "OwnClient", "check_dsn", "import_sentry", "safe_dsn"]

DEFAULT_SHUTDOWN_TIMEOUT: Final = 1.0
"""Seconds :meth:`SentrySink.flush` (and our own client at exit) waits for unsent events."""
HTTP_TIMEOUT: Final = 5
"""Seconds our own client's sending thread waits for Sentry to answer one request (sentry-sdk: 30)."""


def import_sentry() -> Any:
    """The ``sentry_sdk`` module; ``ImportError`` naming the ``sentry`` extra when it is missing."""
    try:
        import sentry_sdk
    except ImportError:
        raise ImportError(
            "the Sentry trace sink needs sentry-sdk: pip install 'selinon-celery-trace[sentry]'"
        ) from None
    return sentry_sdk


def safe_dsn(dsn: str) -> str:
    """The DSN without its keys (``scheme://***@host/project``): what may appear in output."""
    scheme, sep, rest = dsn.partition("://")
    if not sep:
        return "<unparsable DSN>"
    _keys, at, location = rest.rpartition("@")
    return f"{scheme}://***@{location}" if at else f"{scheme}://{location}"


def check_dsn(dsn: str, safe: str) -> None:
    """``ValueError`` (showing ``safe``, never the keys) when sentry-sdk cannot parse ``dsn``."""
    from sentry_sdk.utils import BadDsn, Dsn

    try:
        Dsn(dsn)
    except BadDsn as exc:  # the SDK's message names the problem, not the DSN; ours shows no keys
        raise ValueError(f"invalid Sentry DSN {safe!r}: {exc}") from None


def _transport_class() -> Any:
    from sentry_sdk.transport import HttpTransport

    class BoundedHttpTransport(HttpTransport):  # type: ignore[misc]
        """sentry-sdk's HTTP transport with a short request timeout (its default is 30 s)."""

        TIMEOUT = int(HTTP_TIMEOUT)

    return BoundedHttpTransport


class OwnClient:
    """The Sentry client the sink initialised itself (only when the application had none active)."""

    __slots__ = ("_make_transport", "_monitor", "_sdk", "client", "options")

    def __init__(
        self,
        sdk: Any,
        dsn: str,
        shutdown_timeout: float,
        local_variables: bool = False,
        before_send: Any = None,
    ) -> None:
        # Imported now, not in the child after fork, where the import lock may be held.
        from sentry_sdk.monitor import Monitor
        from sentry_sdk.transport import make_transport

        self._sdk = sdk
        self._make_transport, self._monitor = make_transport, Monitor
        self.options: dict[str, Any] = {
            "dsn": dsn,
            "shutdown_timeout": shutdown_timeout,
            "transport": _transport_class(),
            "include_local_variables": local_variables,
            "before_send": before_send,
        }
        sdk.init(**self.options)
        self.client: Any = sdk.get_client()

    def after_fork(self) -> None:
        """In a forked child: give our client a transport of its own (see the module docstring)."""
        own = self.client
        if self._sdk.get_client() is not own:
            return
        try:
            own.transport = self._make_transport(own.options)
            if getattr(own, "monitor", None) is not None:
                own.monitor = self._monitor(own.transport)
        except Exception:  # keep the inherited one: sentry-sdk restarts its thread per process
            pass

    def close(self) -> None:
        """Close our client and leave the process with none, unless another client replaced it."""
        own = self.client
        if self._sdk.get_client() is own:
            try:
                own.close(timeout=0)
            finally:
                self._sdk.get_global_scope().set_client(None)
