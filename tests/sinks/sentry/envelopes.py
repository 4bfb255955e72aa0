"""A local Sentry endpoint: records the envelopes sentry-sdk sends, and two ways for Sentry to be down.

:class:`EnvelopeServer` accepts ``POST /api/<project>/envelope/`` (gzip, deflate or plain bodies), splits
each envelope into its items and records the events (items of type ``event``). :class:`SilentServer`
accepts connections and never answers; :func:`closed_port` is a port nothing listens on.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["EnvelopeServer", "SilentServer", "closed_port", "parse_envelope"]

_PATH = re.compile(r"^/api/(?P<project>[^/]+)/envelope/?$")


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """Split an envelope into its header and its ``(item header, payload)`` pairs."""
    header_line, _, rest = body.partition(b"\n")
    header = json.loads(header_line) if header_line.strip() else {}
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_header = json.loads(item_line)
        length = item_header.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length:]
            if rest.startswith(b"\n"):
                rest = rest[1:]
        items.append((item_header, payload))
    return header, items


def _decode(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # type: ignore[import-not-found]

        return bytes(brotli.decompress(body))
    return body


class EnvelopeServer:
    """A ``ThreadingHTTPServer`` on 127.0.0.1 that records what sentry-sdk sends it."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._events: list[dict[str, Any]] = []
        self._items: list[tuple[str, dict[str, Any], bytes]] = []
        self.errors: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                match = _PATH.match(self.path.split("?")[0])
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if match is None:
                    server.errors.append(f"unexpected path {self.path}")
                    self.send_response(404)
                    self.end_headers()
                    return
                try:
                    server._record(
                        match["project"], _decode(body, self.headers.get("Content-Encoding") or "")
                    )
                except Exception as exc:  # recorded, and shown by the test that looks
                    server.errors.append(f"bad envelope: {exc!r}")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="envelope-server", daemon=True)

    @property
    def dsn(self) -> str:
        """A DSN pointing at this server, project 1."""
        return f"http://public@127.0.0.1:{self.port}/1"

    def start(self) -> EnvelopeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _record(self, project: str, body: bytes) -> None:
        _header, items = parse_envelope(body)
        with self._lock:
            for item_header, payload in items:
                kind = str(item_header.get("type"))
                self._items.append((kind, item_header, payload))
                if kind == "event":
                    event = json.loads(payload)
                    event["_project"] = project
                    self._events.append(event)
            self._lock.notify_all()

    def events(self, where: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """The events received so far (those ``where`` accepts), in arrival order."""
        with self._lock:
            return [event for event in self._events if where is None or where(event)]

    def item_types(self) -> list[str]:
        """The type of every envelope item received (events, sessions, client reports ...)."""
        with self._lock:
            return [kind for kind, _header, _payload in self._items]

    def wait_events(
        self,
        count: int,
        where: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 30.0,
        settle: float = 0.0,
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` events (matching ``where``) arrived; then ``settle`` seconds more.

        Returns every matching event, so a test sees a duplicate arriving within ``settle``.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while len([e for e in self._events if where is None or where(e)]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(min(left, 0.2))
        if settle:
            time.sleep(settle)
        return self.events(where)

    def clear(self) -> None:
        """Forget what was received."""
        with self._lock:
            self._events.clear()
            self._items.clear()
            self.errors.clear()


class SilentServer:
    """Accepts TCP connections (and reads what arrives) but never answers: a hung Sentry."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, name="silent-server", daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.port}/1"

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            self._clients.append(client)  # kept open, never answered

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for client in self._clients:
            client.close()
        self._sock.close()


def closed_port() -> int:
    """A local port nothing listens on (bound then released: connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(server: EnvelopeServer) -> Iterator[EnvelopeServer]:
    """Run ``server`` for the duration of the block."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
