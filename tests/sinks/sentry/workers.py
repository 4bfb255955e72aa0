"""A prefork ``celery -A tests.sinks.sentry.proj worker``: the end-to-end suite's :class:`Worker` on this app.

An adapter, not a copy: broker handling, readiness, shutdown and clean-up are ``tests.e2e.support``'s;
only the app module and the queue differ.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.support import Broker, Worker
from tests.sinks.sentry import proj

__all__ = ["SentryWorker", "started"]


class SentryWorker(Worker):
    """A prefork worker (concurrency 2) running :mod:`tests.sinks.sentry.proj` with ``env`` added."""

    def __init__(self, broker: Broker, directory: Path, env: dict[str, str]) -> None:
        super().__init__(broker, directory, env)
        self.app.close()
        self.app = proj.make_app(self.env)
        self.queue = proj.queue_name(self.env)
        self.stop_seconds: float | None = None

    app_module = "tests.sinks.sentry.proj"

    def queues(self) -> str:
        return self.queue

    def wait_ready(self) -> None:
        """Wait until the launched worker answers a ping."""
        self._wait_ready()

    def stop(self) -> None:
        """Warm shutdown, timed (:attr:`stop_seconds`)."""
        started = time.monotonic()
        try:
            super().stop()
        finally:
            self.stop_seconds = time.monotonic() - started

    def delete_broker_objects(self) -> None:
        # Redis keys carry the run's token (the queue is "e2e-<token>.sentry"); nothing else was declared.
        if self.broker.name == "redis":
            super().delete_broker_objects()
            return
        from kombu import Connection

        with Connection(self.broker.url, connect_timeout=5) as connection:
            connection.default_channel.queue_delete(self.queue)


@contextmanager
def started(*workers: SentryWorker) -> Iterator[tuple[SentryWorker, ...]]:
    """Start ``workers`` side by side (their start-ups overlap), stop and clean them up at the end."""
    try:
        for worker in workers:
            worker.launch()
        for worker in workers:
            worker.wait_ready()
        yield workers
    finally:
        for worker in workers:
            try:
                worker.stop()
            finally:
                worker.delete_broker_objects()
