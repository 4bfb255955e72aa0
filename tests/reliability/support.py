"""The reliability suite's harness: a prefork worker on :mod:`tests.reliability.proj`, a Redis it may restart.

An adapter of ``tests.e2e.support``: broker clean-up, readiness, shutdown and the trace file are its;
only the app module, the queue and a few worker options differ.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import Broker, Worker
from tests.reliability import proj

__all__ = ["Attempts", "RelWorker", "attempts_of", "wait_until"]

TERMINAL = ("TASK_END", "TASK_FAILURE", "TASK_RETRY")


class RelWorker(Worker):
    """A prefork worker (concurrency 2 by default) running :mod:`tests.reliability.proj`, ``env`` added."""

    def __init__(
        self, broker: Broker, directory: Path, env: dict[str, str] | None = None, concurrency: int = 2
    ) -> None:
        super().__init__(broker, directory, dict(env or {}))
        self.app.close()
        self.app = proj.make_app(self.env)
        self.queue = proj.queue_name(self.env)
        self.concurrency = concurrency

    app_module = "tests.reliability.proj"

    def queues(self) -> str:
        return self.queue

    def delete_broker_objects(self) -> None:
        if self.broker.name == "redis":
            super().delete_broker_objects()
            return
        from kombu import Connection

        with Connection(self.broker.url, connect_timeout=5) as connection:
            channel = connection.default_channel
            channel.queue_delete(self.queue)
            channel.exchange_delete(self.queue)  # Celery's default exchange of the default queue

    def configure(self, **env: str) -> RelWorker:
        """Add ``env`` (before :meth:`start`) and rebuild the publishing app from it."""
        self.env.update(env)
        self.app.close()
        self.app = proj.make_app(self.env)
        return self

    def log_text(self) -> str:
        """The worker's whole log (Celery's log, the logging sink's records, redirected stdout/stderr)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def pool_pids(self) -> set[int]:
        """The pids of the worker's pool processes now."""
        found = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                        ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == self.pid:
                    found.add(int(entry))
        return found


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.1) -> None:
    """Wait until ``condition()`` is true; fail the test saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout}s")
        time.sleep(interval)


Attempts = dict[tuple[str, int], list[str]]


def attempts_of(records: list[dict[str, Any]]) -> Attempts:
    """The execution events of every attempt, keyed by ``(task_id, retried_count)``, in file order."""
    found: Attempts = defaultdict(list)
    for record in records:
        if record["event"] in ("TASK_START", *TERMINAL):
            details = record["details"]
            found[(details["task_id"], details["retried_count"])].append(record["event"])
    return dict(found)


def check_attempts(attempts: Attempts) -> Counter[str]:
    """Assert each attempt is one TASK_START then exactly one terminal event; count the terminal events."""
    bad = {key: seen for key, seen in attempts.items() if len(seen) != 2 or seen[0] != "TASK_START"}
    bad.update({key: seen for key, seen in attempts.items() if seen[-1] not in TERMINAL})
    assert not bad, (
        f"{len(bad)} attempts without exactly one START and one terminal event: {list(bad.items())[:5]}"
    )
    return Counter(seen[1] for seen in attempts.values())


def whole_lines(data: bytes) -> list[dict[str, Any]]:
    """Parse a JSON-lines file's bytes: it must end with a newline and every line must be one whole event."""
    assert data.endswith(b"\n"), f"the last line is cut: {data[-200:]!r}"
    records = []
    for number, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            record = json.loads(line)
        except ValueError as exc:
            pytest.fail(f"line {number} is not one JSON event ({exc}): {line[:300]!r}")
        assert isinstance(record, dict) and set(record) == {"event", "time", "details", "node"}, line[:300]
        records.append(record)
    return records
