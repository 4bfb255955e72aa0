"""Real brokers for the tests that need one: Redis and RabbitMQ URLs, found or started.

Shared by the end-to-end suite and the example project's smoke tests, so both follow one rule:

- Redis: ``SELINON_TEST_REDIS_URL`` when set (this project's machines run Redis on 127.0.0.1:6379). The
  tests then use their own database number, :data:`REDIS_TEST_DB`, emptied once per session, never the
  database the URL names, so a developer's data on a shared server is left alone. When unset, a private
  ``redis-server`` is started on a free port (nothing saved to disk) and stopped at the end of the session:
  a fresh machine with only ``redis-server`` installed runs the Redis suite.
- RabbitMQ: ``SELINON_TEST_AMQP_URL`` (this project's machines: amqp://guest:guest@127.0.0.1:5672//).
  Nothing is started for it.

Whatever is missing skips the tests that need it with a reason, except in CI (``CI=true``), where no
broker test may skip: there it fails, saying what to install or set.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

__all__ = [
    "AMQP_ENV",
    "REDIS_ENV",
    "REDIS_TEST_DB",
    "amqp_url",
    "delete_redis_keys",
    "in_ci",
    "redis_url",
    "stop_redis_servers",
    "unavailable",
]

REDIS_ENV = "SELINON_TEST_REDIS_URL"
AMQP_ENV = "SELINON_TEST_AMQP_URL"
REDIS_TEST_DB = 9
"""The database the tests use on a Redis server they did not start (never flushed: see redis_url)."""

_START_TIMEOUT = 15.0


def in_ci() -> bool:
    """True when running in CI, where a missing broker is an error rather than a reason to skip."""
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip the requesting test with ``reason``; fail it instead in CI. Never returns."""
    if in_ci():
        pytest.fail(f"{reason} (in CI no broker test may skip)", pytrace=False)
    pytest.skip(reason)


def _stop_process(process: subprocess.Popen[bytes], kill: bool = False) -> None:
    """Stop a server process: SIGTERM (SIGKILL with ``kill``), then SIGKILL if it lingers 10 s."""
    if process.poll() is not None:
        return
    if kill:
        process.kill()
    else:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class _RedisServer:
    process: subprocess.Popen[bytes]
    directory: str
    url: str

    def stop(self) -> None:
        _stop_process(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


_servers: list[_RedisServer] = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _with_db(url: str, db: int) -> str:
    # redis:// and rediss:// URLs name the database in their path.
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def _safe(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _start_redis_server() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable(f"neither {REDIS_ENV} is set nor a redis-server binary installed")
    directory = tempfile.mkdtemp(prefix="selinon-test-redis-")
    for _attempt in range(3):  # a free port can be taken between choosing it and binding it
        port = _free_port()
        log = open(os.path.join(directory, "redis.log"), "ab")  # noqa: SIM115 - owned by the process
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + _START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if _ping(url):
                _servers.append(_RedisServer(process, directory, url))
                return url
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        process.wait()
    with open(os.path.join(directory, "redis.log"), encoding="utf-8", errors="replace") as handle:
        tail = handle.read()[-2000:]
    shutil.rmtree(directory, ignore_errors=True)
    unavailable(f"redis-server did not start: {tail}")


def redis_url() -> str:
    """Return the URL of a Redis server the tests may use, starting one when none is configured.

    With ``SELINON_TEST_REDIS_URL`` the URL's database is replaced by :data:`REDIS_TEST_DB`. It is never
    flushed: other test sessions may be using it at the same moment, so each run names its keys uniquely
    and deletes only those (see :func:`delete_redis_keys`). A server started here lives until
    :func:`stop_redis_servers` (or the end of the process) and is reused by later calls.
    """
    configured = os.environ.get(REDIS_ENV)
    if configured:
        url = _with_db(configured, REDIS_TEST_DB)
        if not _ping(url):
            pytest.fail(f"{REDIS_ENV}={_safe(configured)} is set but Redis does not answer", pytrace=False)
        return url
    for server in _servers:
        if server.process.poll() is None:
            return server.url
    return _start_redis_server()


def delete_redis_keys(url: str, pattern: str) -> int:
    """Delete the keys of ``url``'s database that match ``pattern`` (a run's unique name); return how many."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        keys = list(client.scan_iter(match=pattern, count=500))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()


def stop_redis_servers() -> None:
    """Stop every ``redis-server`` this process started (call at the end of the session)."""
    while _servers:
        _servers.pop().stop()


atexit.register(stop_redis_servers)


def amqp_url() -> str:
    """Return ``SELINON_TEST_AMQP_URL``: skip when it is unset (fail in CI); fail when it is unreachable."""
    url = os.environ.get(AMQP_ENV)
    if not url:
        unavailable(f"{AMQP_ENV} is not set (e.g. amqp://guest:guest@127.0.0.1:5672//)")
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        pytest.fail(f"{AMQP_ENV}={_safe(url)} is set but unreachable: {exc}", pytrace=False)
    return url


class RestartableRedis:
    """A private ``redis-server`` on a fixed free port that a test may stop and start again.

    For broker-restart tests: never the shared server on 6379. No redis-server binary fails in CI.
    """

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("a broker-restart test needs a redis-server binary (apt-get install redis-server)")
        self.binary = binary
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = tempfile.mkdtemp(prefix="selinon-test-restartable-redis-")
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start (or restart) the server on its port and wait until it answers."""
        with open(os.path.join(self.directory, "redis.log"), "ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        deadline = time.monotonic() + 15
        while not _ping(self.url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not answer")
            time.sleep(0.05)

    def stop(self, kill: bool = False) -> None:
        """Stop the server: SIGTERM, as an operator's restart, or SIGKILL (clients see the link drop)."""
        if self.process is not None:
            _stop_process(self.process, kill)

    def close(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
