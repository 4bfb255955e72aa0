"""A prefork ``celery worker`` of one of these suites' apps: the end-to-end suite's :class:`Worker`.

An adapter, not a copy: broker handling, readiness, shutdown and clean-up are ``tests.e2e.support``'s;
only the app module and its one queue differ (as ``tests.sinks.sentry.workers`` does for Sentry's).
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.e2e.support import Broker, Worker

__all__ = ["AppWorker"]


class AppWorker(Worker):
    """A prefork worker (concurrency 2) running ``module`` (with ``make_app``, ``queue_name``)."""

    def __init__(self, broker: Broker, directory: Path, env: dict[str, str], module: ModuleType) -> None:
        super().__init__(broker, directory, env)
        self.app.close()
        self.app_module = module.__name__
        self.app = module.make_app(self.env)
        self.queue: str = module.queue_name(self.env)

    def queues(self) -> str:
        return self.queue

    def active(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The tasks the worker runs, once ``count`` of them run (asked as ``celery inspect active`` does)."""
        deadline = time.monotonic() + timeout
        while True:
            replies = self.app.control.inspect(destination=[self.node_name], timeout=1.0).active() or {}
            running: list[dict[str, Any]] = replies.get(self.node_name) or []
            if len(running) >= count:
                return running
            assert time.monotonic() < deadline, f"the worker runs {running}, not {count} tasks"
            time.sleep(0.1)

    def delete_broker_objects(self) -> None:
        # Redis keys carry the run's token (the queue is "e2e-<token>.<suite>"); nothing else declared.
        if self.broker.name == "redis":
            super().delete_broker_objects()
            return
        from kombu import Connection

        with Connection(self.broker.url, connect_timeout=5) as connection:
            connection.default_channel.queue_delete(self.queue)
