"""Where the OpenTelemetry sink's spans go: the application's tracer provider, or one of its own.

Resolved once per process, at its first event, never before a fork is used after it: the worker builds
the sink in its main process, before the pool forks, and each pool process resolves its own at its
first task, so a provider the application sets in ``worker_process_init`` (as OpenTelemetry's Celery
guide does) is found. A provider the sink made in a parent is dropped in the child (the SDK empties the
inherited batch queue there, so nothing is exported twice) and made anew.

Our own provider: ``TracerProvider`` with a ``BatchSpanProcessor`` (spans are exported by its thread,
never by a task) and the OTLP/HTTP exporter with a bounded timeout; a full queue drops spans rather than
wait. It is never made the global provider: the application's other code is left as it was.

Exit waits for a collector only while it answers: the SDK's ``force_flush`` ignores its timeout (it
exports, retrying with back-off, for the exporter's whole timeout), so the flush runs in a thread of
its own that the exiting process waits for at most ``shutdown_timeout``, and at most
:data:`DEAD_COLLECTOR_WAIT` once our exporter's last export failed in this process, or when the
collector's port does not take a connection (a fresh pool process that has exported nothing yet).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator

from ...core import __version__

__all__ = ["DEAD_COLLECTOR_WAIT", "ChosenIds", "Tracing", "WatchedExporter", "traces_url"]

SCOPE = "selinon_celery_trace"
DEAD_COLLECTOR_WAIT: Final = 0.1
"""Seconds a process's exit waits for a collector that did not answer (see the module's doc)."""


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of ``endpoint``: a bare ``http://host:4318`` gets ``/v1/traces``."""
    return endpoint.rstrip("/") + "/v1/traces" if urlsplit(endpoint).path in ("", "/") else endpoint


class ChosenIds(IdGenerator):
    """The SDK tracer's id generator, except for the one span the sink names itself (a flow's)."""

    def __init__(self, base: IdGenerator) -> None:
        self.base = base
        self.chosen = threading.local()

    def generate_span_id(self) -> int:
        value = getattr(self.chosen, "span", None)
        if value is not None:
            self.chosen.span = None
            return int(value)
        return self.base.generate_span_id()

    def generate_trace_id(self) -> int:
        value = getattr(self.chosen, "trace", None)
        if value is not None:
            self.chosen.trace = None
            return int(value)
        return self.base.generate_trace_id()

    def is_trace_id_random(self) -> bool:
        return False


class WatchedExporter(SpanExporter):
    """Our OTLP exporter, remembering whether its last export (in this process) failed."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.failed = False
        self._shut = False

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except BaseException:
            self.failed = True
            raise
        self.failed = result is not SpanExportResult.SUCCESS
        return result

    def shutdown(self) -> None:
        """Shut the exporter down once (it aborts an export waiting to retry)."""
        if not self._shut:
            self._shut = True
            self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class Tracing:
    """The tracer this process uses, the provider behind it, and flushing it at exit."""

    def __init__(
        self,
        endpoint: str | None,
        service_name: str | None,
        headers: Mapping[str, str] | None,
        timeout: float,
    ) -> None:
        self.endpoint = endpoint
        self.service_name = service_name
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pid = -1
        self.tracer: Any = None
        self.provider: Any = None
        self.own = False  # True when the provider is ours (flushed and shut down by us)
        self.ids: ChosenIds | None = None
        self.exporter: WatchedExporter | None = None  # ours, when the provider is
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._pid, self.tracer, self.provider, self.own, self.ids = -1, None, None, False, None
        self.exporter = None

    def get(self) -> Any:
        """This process's tracer (resolving it on first use)."""
        if self._pid == os.getpid() and self.tracer is not None:
            return self.tracer
        with self._lock:
            if self._pid != os.getpid() or self.tracer is None:
                self._resolve()
        return self.tracer

    def _resolve(self) -> None:
        provider = trace.get_tracer_provider()
        own = isinstance(provider, trace.ProxyTracerProvider)  # the application set none
        if own:
            provider = self._own_provider()
        tracer = provider.get_tracer(SCOPE, __version__)
        base = getattr(tracer, "id_generator", None)
        ids = None
        if isinstance(base, IdGenerator):  # the SDK's tracer: a flow's span can be given its id
            ids = ChosenIds(base)
            tracer.id_generator = ids  # type: ignore[attr-defined]
        self.provider, self.tracer, self.own, self.ids = provider, tracer, own, ids
        self._pid = os.getpid()

    def _own_provider(self) -> Any:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        attributes = {SERVICE_NAME: self.service_name} if self.service_name else {}
        provider = TracerProvider(resource=Resource.create(attributes))
        exporter = WatchedExporter(
            OTLPSpanExporter(
                endpoint=traces_url(self.endpoint) if self.endpoint else None,
                headers=self.headers or None,
                timeout=self.timeout,  # type: ignore[arg-type]  # seconds; int in older stubs
            )
        )
        millis = int(self.timeout * 1000)
        provider.add_span_processor(BatchSpanProcessor(exporter, export_timeout_millis=millis))
        self.exporter = exporter
        return provider

    def start(self, name: str, *, trace_id: int | None = None, span_id: int | None = None, **kw: Any) -> Any:
        """Start a span; with ``span_id`` (and ``trace_id`` for a root) the ids are the ones given.

        Without the SDK's tracer the ids cannot be chosen: such a span is not started (None).
        """
        tracer = self.get()
        if span_id is None:
            return tracer.start_span(name, **kw)
        ids = self.ids
        if ids is None:
            return None
        ids.chosen.span, ids.chosen.trace = span_id, trace_id
        try:
            return tracer.start_span(name, **kw)
        finally:
            ids.chosen.span = ids.chosen.trace = None

    def flush(self, timeout: float) -> None:
        """Export what is queued, waiting at most ``timeout`` seconds (less for a dead collector)."""
        provider = self.provider
        if provider is None or self._pid != os.getpid():
            return
        _within(self._wait(timeout), provider.force_flush, int(timeout * 1000))

    def close(self, timeout: float) -> None:
        """Flush; shut our own provider down (never the application's), as long as ``flush`` may wait."""
        provider, exporter = self.provider, self.exporter
        if provider is not None and self._pid == os.getpid():
            wait = self._wait(timeout)
            _within(wait, provider.force_flush, int(timeout * 1000))
            if self.own:
                if exporter is not None and exporter.failed:
                    exporter.shutdown()  # stops an export waiting to retry, so the shutdown can end
                _within(wait, provider.shutdown)
        self._after_fork()

    def _wait(self, timeout: float) -> float:
        """How long the exit may wait for our collector: ``timeout``, unless it is known not to answer."""
        exporter = self.exporter
        if exporter is None:
            return timeout  # the application's provider: its exporters are its own
        if exporter.failed or not _takes_connections(self._collector(), DEAD_COLLECTOR_WAIT):
            return min(timeout, DEAD_COLLECTOR_WAIT)
        return timeout

    def _collector(self) -> str:
        """The URL our exporter sends to (its own choice when the sink was given no endpoint)."""
        chosen = getattr(getattr(self.exporter, "inner", None), "_endpoint", None)
        if isinstance(chosen, str):
            return chosen
        return traces_url(self.endpoint) if self.endpoint else "http://localhost:4318/v1/traces"


def _takes_connections(url: str, timeout: float) -> bool:
    """True when ``url``'s host accepts a TCP connection on its port within ``timeout`` seconds."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname or "localhost", port), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _within(seconds: float, call: Callable[..., Any], *args: Any) -> None:
    """Run ``call(*args)`` in a daemon thread and wait for it at most ``seconds``; never raises."""

    def run() -> None:
        try:
            call(*args)
        except Exception:  # best effort at exit
            pass

    thread = threading.Thread(target=run, name="selinon-trace-otel-flush", daemon=True)
    thread.start()
    thread.join(seconds)
