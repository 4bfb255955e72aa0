"""Serving the metrics sink's values from a prefork worker: multiprocess mode, one HTTP endpoint.

What users of Celery exporters expect: a ``/metrics`` endpoint on a port of the worker's host (as
celery-exporter and Flower's ``/metrics`` serve), scraped by Prometheus. A prefork worker's tasks run in
pool processes that come and go (``worker_max_tasks_per_child``), so each records its values in
prometheus_client's multiprocess mode (memory-mapped files, one per process, in one directory) and the
worker's main process, which outlives them all, serves their sum: counts of processes that exited stay
counted.

:meth:`Serving.start` runs in the worker's main process at worker start, before the pool forks: it sets
``PROMETHEUS_MULTIPROC_DIR`` (yours if set, else a fresh directory, removed when the worker exits, so a
restart starts from zero as Prometheus expects) and switches prometheus_client's value class to the
multiprocess one, as it would have chosen had the variable been set before it was imported; then it
starts the HTTP server's thread. A forked child closes its copy of the listening socket at once.
"""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from ..flow_starts import worker_directory

__all__ = ["DEFAULT_ADDR", "DEFAULT_PORT", "ENV", "Serving"]

DEFAULT_PORT: Final = 9808  # celery-exporter's port
DEFAULT_ADDR: Final = "0.0.0.0"  # as prometheus_client's start_http_server: Prometheus scrapes from afar
ENV: Final = "PROMETHEUS_MULTIPROC_DIR"


class Serving:
    """The multiprocess directory and the ``/metrics`` server of one worker."""

    def __init__(self, port: int | None, addr: str, directory: str | None) -> None:
        self.port = port
        self.addr = addr
        self.configured = directory
        self.directory: str | None = None
        self.registry: Any = None  # the sink's own registry (what a process that is no worker serves)
        self._server: ThreadingHTTPServer | None = None
        self._pid = -1
        os.register_at_fork(after_in_child=self._after_fork)

    @property
    def url(self) -> str | None:
        server = self._server
        if server is None or self._pid != os.getpid():
            return None
        host, port = str(self.addr), int(server.server_address[1])
        return f"http://{host if host not in ('0.0.0.0', '') else '127.0.0.1'}:{port}/metrics"

    def start(self) -> None:
        """Multiprocess mode from now on in this process and its children; serve when a port is set."""
        from prometheus_client import values

        directory = self.configured or os.environ.get(ENV) or os.environ.get(ENV.lower())
        if not directory:
            directory = worker_directory("selinon-metrics-")
        os.makedirs(directory, exist_ok=True)
        os.environ[ENV] = directory
        self.directory = directory
        if values.ValueClass is values.MutexValue:
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        if self.port is not None and self._server is None:
            self._serve(self._collector(directory))

    def _collector(self, directory: str) -> Any:
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return registry

    def _serve(self, registry: Any) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] not in ("/", "/metrics"):
                    self.send_error(404)
                    return
                body = _collect(registry, generate_latest)
                if isinstance(body, Exception):
                    self.send_error(500, str(body))
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # not the worker's log

        server = ThreadingHTTPServer((self.addr, int(self.port or 0)), Handler)
        server.daemon_threads = True
        self._server, self._pid = server, os.getpid()
        threading.Thread(target=server.serve_forever, name="selinon-metrics", daemon=True).start()

    def _after_fork(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            try:
                server.socket.close()  # the parent's listening socket: not this process's
            except OSError:
                pass

    def stop(self) -> None:
        """Stop the server (only in the process that started it)."""
        server, self._server = self._server, None
        if server is not None and self._pid == os.getpid():
            server.shutdown()
            server.server_close()


_COLLECT_TRIES = 5
_COLLECT_PAUSE = 0.02


def _collect(registry: Any, generate_latest: Any) -> bytes | Exception:
    """The exposition of ``registry``, or the error of its last try.

    A pool process starting while a scrape reads the directory can leave its file empty for an instant
    (prometheus_client creates it, then writes its header): such a read fails, and the next one, a few
    milliseconds later, does not. A scrape answered 500 would read as the worker down for a scrape.
    """
    error: Exception = RuntimeError("not collected")
    for attempt in range(_COLLECT_TRIES):
        try:
            return generate_latest(registry)  # type: ignore[no-any-return]
        except Exception as exc:
            error = exc
            if attempt + 1 < _COLLECT_TRIES:
                time.sleep(_COLLECT_PAUSE)
    return error
