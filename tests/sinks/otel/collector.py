"""A local OTLP/HTTP endpoint: decodes the ``ExportTraceServiceRequest`` the real exporter sends.

:class:`Collector` accepts ``POST /v1/traces`` (protobuf, plain or gzip), decodes each request with
``opentelemetry-proto`` and keeps every span as a plain :class:`Span` for the tests to assert on.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = ["CONSUMER", "ERROR", "INTERNAL", "PRODUCER", "STALLED_EXPORT_TIMEOUT", "Collector", "Span"]

# The protobuf enums' numbers (opentelemetry/proto/trace/v1/trace.proto).
INTERNAL, PRODUCER, CONSUMER = 1, 4, 5
ERROR = 2
STALLED_EXPORT_TIMEOUT = 20.0  # the export timeout of a sink whose endpoint never answers (seconds)


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return getattr(any_value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


@dataclass
class Span:
    """One exported span, decoded."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status: int
    links: list[tuple[str, str]]
    start: int
    end: int
    scope: str
    service: str
    trace_state: str = field(default="")

    def event_names(self) -> list[str]:
        return [name for name, _ in self.events]


class Collector:
    """A ``ThreadingHTTPServer`` on 127.0.0.1 receiving OTLP/HTTP trace exports."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._spans: list[Span] = []
        self.errors: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.split("?")[0] != "/v1/traces":
                    collector.errors.append(f"unexpected path {self.path}")
                    self.send_response(404)
                    self.end_headers()
                    return
                try:
                    if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                        body = gzip.decompress(body)
                    collector._record(body)
                except Exception as exc:  # shown by the test that looks
                    collector.errors.append(f"bad export: {exc!r}")
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="otlp-collector", daemon=True)

    @property
    def endpoint(self) -> str:
        """The OTLP/HTTP base URL (the exporter posts to ``/v1/traces`` under it)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Collector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _record(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            service = _attributes(resource_spans.resource.attributes).get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        Span(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=span.kind,
                            attributes=_attributes(span.attributes),
                            events=[(e.name, _attributes(e.attributes)) for e in span.events],
                            status=span.status.code,
                            links=[(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
                            start=span.start_time_unix_nano,
                            end=span.end_time_unix_nano,
                            scope=scope_spans.scope.name,
                            service=str(service),
                            trace_state=span.trace_state,
                        )
                    )
        with self._lock:
            self._spans.extend(found)
            self._lock.notify_all()

    def spans(self, where: Callable[[Span], bool] | None = None) -> list[Span]:
        """The spans received so far (those ``where`` accepts), in arrival order."""
        with self._lock:
            return [span for span in self._spans if where is None or where(span)]

    def wait(
        self, done: Callable[[list[Span]], bool], timeout: float = 45.0, settle: float = 0.0
    ) -> list[Span]:
        """Wait until ``done(all spans)`` holds (then ``settle`` seconds more); return all spans."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not done(list(self._spans)):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(min(left, 0.2))
        if settle:
            time.sleep(settle)
        return self.spans()
