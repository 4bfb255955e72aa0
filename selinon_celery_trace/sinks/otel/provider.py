"""Where the OpenTelemetry sink's spans go: the application's tracer provider, or one of its own.

Resolved once per process, at its first event, never before a fork is used after it: the worker builds
the sink in its main process, before the pool forks, and each pool process resolves its own at its
first task, so a provider the application sets in ``worker_process_init`` (as OpenTelemetry's Celery
guide does) is found. A provider the sink made in a parent is dropped in the child (the SDK empties the
inherited batch queue there, so nothing is exported twice) and made anew.

Our own provider: ``TracerProvider`` with a ``BatchSpanProcessor`` (spans are exported by its thread,
never by a task) and the OTLP/HTTP exporter with a bounded timeout; a full queue drops spans rather than
wait. It is never made the global provider: the application's other code is left as it was.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import IdGenerator

from ...core import __version__

__all__ = ["ChosenIds", "Tracing", "traces_url"]

SCOPE = "selinon_celery_trace"


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
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._pid, self.tracer, self.provider, self.own, self.ids = -1, None, None, False, None

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
        exporter = OTLPSpanExporter(
            endpoint=traces_url(self.endpoint) if self.endpoint else None,
            headers=self.headers or None,
            timeout=self.timeout,  # type: ignore[arg-type]  # seconds; int in older stubs
        )
        millis = int(self.timeout * 1000)
        provider.add_span_processor(BatchSpanProcessor(exporter, export_timeout_millis=millis))
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
        """Export what is queued, waiting at most ``timeout`` seconds; never raises."""
        provider = self.provider
        if provider is None or self._pid != os.getpid():
            return
        try:
            provider.force_flush(int(timeout * 1000))
        except Exception:  # best effort at exit
            pass

    def close(self, timeout: float) -> None:
        """Flush; shut our own provider down (never the application's)."""
        self.flush(timeout)
        if self.own and self.provider is not None and self._pid == os.getpid():
            try:
                self.provider.shutdown()
            except Exception:
                pass
        self._after_fork()
