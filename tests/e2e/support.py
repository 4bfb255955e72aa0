"""The end-to-end harness: a real ``celery worker`` subprocess, its trace file, and assertion helpers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests import brokers
from tests.e2e.proj import Layout, make_app

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
EVENT_TIMEOUT = 45.0


# What every event of a task message carries (checked against the events, so written out here).
EXECUTION_KEYS = {
    "task_name",
    "task_id",
    "queue",
    "parent",
    "dispatcher_id",
    "flow_name",
    "node_args",
    "retried_count",
    "hostname",
    "pid",
}


class TraceFile:
    """The JSON-lines file the worker's processes (and the test's publisher) append to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        """The whole file as it is now."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def lines(self) -> list[str]:
        """Every complete line so far, newline included (a line being written right now is left out)."""
        # Split on "\n" only: str.splitlines() would also split inside values holding U+2028 and friends.
        *complete, _unfinished = self.text().split("\n")
        return [line + "\n" for line in complete]

    def records(self) -> list[dict[str, Any]]:
        """Every event so far, in file order; fails the test on a line that is not one JSON event."""
        found = []
        for number, line in enumerate(self.lines(), 1):
            try:
                record = json.loads(line)
            except ValueError as exc:
                pytest.fail(f"line {number} of {self.path} is not JSON ({exc}): {line!r}")
            assert isinstance(record, dict) and set(record) == {"event", "time", "details", "node"}, line
            found.append(record)
        return found

    def wait(
        self, expected: dict[str, list[str]], settle: float = 0.0, timeout: float = EVENT_TIMEOUT
    ) -> dict[str, list[dict[str, Any]]]:
        """Wait until each task id has at least the events named (terminal events come after results).

        ``settle`` seconds more are waited once they are all there, so a duplicate arriving late is
        seen by the test's assertions. Returns the events of each task id, in file order.
        """
        deadline = time.monotonic() + timeout
        while True:
            # The deadline is read before the file: a test stalled in between (a garbage collection
            # running some object's __del__) reads the file once more before it gives up.
            expired = time.monotonic() > deadline
            grouped = self.group(expected)
            missing = {
                task_id: names
                for task_id, names in expected.items()
                if not _contains([r["event"] for r in grouped[task_id]], names)
            }
            if not missing:
                break
            if expired:
                seen = {t: [r["event"] for r in grouped[t]] for t in missing}
                pytest.fail(f"timed out waiting for events; wanted {missing}, saw {seen}")
            time.sleep(0.1)
        if settle:
            time.sleep(settle)
            grouped = self.group(expected)
        return grouped

    def matching(
        self,
        where: Callable[[dict[str, Any]], bool],
        count: int = 1,
        settle: float = 0.0,
        timeout: float = EVENT_TIMEOUT,
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` events satisfy ``where`` (events with no task id among them).

        ``settle`` seconds more are waited once they are there, so one too many is seen. Returns them all.
        """
        deadline = time.monotonic() + timeout
        while True:
            expired = time.monotonic() > deadline
            found = [record for record in self.records() if where(record)]
            if len(found) >= count:
                break
            if expired:
                pytest.fail(f"timed out waiting for {count} matching events; saw {found}")
            time.sleep(0.1)
        if settle:
            time.sleep(settle)
            found = [record for record in self.records() if where(record)]
        return found

    def group(self, task_ids: Any) -> dict[str, list[dict[str, Any]]]:
        """The events of each of ``task_ids``, in file order."""
        grouped: dict[str, list[dict[str, Any]]] = {task_id: [] for task_id in task_ids}
        for record in self.records():
            task_id = record["details"].get("task_id")
            if task_id in grouped:
                grouped[task_id].append(record)
        return grouped


def _contains(seen: list[str], wanted: list[str]) -> bool:
    remaining = list(seen)
    for name in wanted:
        if name not in remaining:
            return False
        remaining.remove(name)
    return True


@dataclass(frozen=True)
class Broker:
    """Where one worker takes its messages from and stores its results."""

    name: str
    url: str
    result_backend: str


def _processes_with(marker: str) -> list[int]:
    """Pids of the processes whose command line contains ``marker`` (the worker's unique node name)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmdline and int(entry) != os.getpid():
            found.append(int(entry))
    return found


class Worker:
    """A ``celery -A tests.e2e.proj worker`` subprocess (prefork, concurrency 2) and its files."""

    def __init__(self, broker: Broker, directory: Path, extra_env: dict[str, str]) -> None:
        self.broker = broker
        self.token = uuid.uuid4().hex[:10]
        self.name_prefix = f"e2e-{self.token}@"
        self.log_path = directory / "worker.log"
        self.trace = TraceFile(directory / "trace.jsonl")
        self.env = {
            "E2E_BROKER_URL": broker.url,
            "E2E_RESULT_BACKEND": broker.result_backend,
            "E2E_TRACE_FILE": str(self.trace.path),
            "E2E_QUEUE_PREFIX": f"e2e-{self.token}.",
            **extra_env,
        }
        self.app = make_app(self.env)  # the same app, built in the test process to publish
        self.layout = Layout(self.env["E2E_QUEUE_PREFIX"])
        self.process: subprocess.Popen[bytes] | None = None
        self.node_name = ""
        self.stdout_path: Path | None = None  # set before launch: stdout there, stderr alone in the log

    @property
    def pid(self) -> int:
        """The worker's main process id (the pool's children are forked from it)."""
        assert self.process is not None
        return self.process.pid

    app_module = "tests.e2e.proj"
    concurrency = 2

    def queues(self) -> str:
        """The -Q argument: the queues this worker consumes."""
        return ",".join(self.layout.all)

    def launch(self) -> None:
        """Start the worker process without waiting for it to answer."""
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        env.pop("SENTRY_DSN", None)  # only a DSN the test chose, never the developer's
        command = [
            *(sys.executable, "-m", "celery", "-A", self.app_module, "worker"),
            *("-P", "prefork", "-c", str(self.concurrency), "-Q", self.queues(), "--loglevel=INFO"),
            *("-n", f"{self.name_prefix}%h"),
            # No other worker's opinion is needed, and starting is faster without them.
            *("--without-mingle", "--without-gossip"),
        ]
        with open(self.log_path, "wb") as log, open(self.stdout_path or os.devnull, "wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=out if self.stdout_path else log,
                stderr=log if self.stdout_path else subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> None:
        """Start the worker and wait until it answers a ping."""
        self.launch()
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                replies = self.app.control.ping(timeout=0.5)
            except Exception:
                replies = []
            for reply in replies:
                for name in reply:
                    if name.startswith(self.name_prefix):
                        self.node_name = name
                        return
        pytest.fail(f"the worker did not answer a ping within {READY_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), killed after a while; fails when a process of it survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        deadline = time.monotonic() + 10
        while _processes_with(self.name_prefix) and time.monotonic() < deadline:
            time.sleep(0.1)  # pool children exit right after the main process
        leftovers = _processes_with(self.name_prefix)
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.app.close()
        assert not leftovers, f"worker processes left behind after shutdown: {leftovers}"

    def delete_broker_objects(self) -> None:
        """Remove this run's queues, exchanges and bindings from a broker other runs may share."""
        if self.broker.name == "redis":
            # Queue lists and exchange bindings carry the run's token; results expire on their own.
            brokers.delete_redis_keys(self.broker.url, f"*e2e-{self.token}.*")
            return
        from kombu import Connection

        with Connection(self.broker.url, connect_timeout=5) as connection:
            channel = connection.default_channel
            for queue in self.layout.all:
                channel.queue_delete(queue)
            for exchange in (
                self.layout.one,
                self.layout.two,
                self.layout.topic_exchange,
                self.layout.direct_exchange,
            ):
                channel.exchange_delete(exchange)

    def log_tail(self, lines: int = 60) -> str:
        """The end of the worker's log (shown when a test fails)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no worker log)"
        return "".join(text.splitlines(keepends=True)[-lines:])


class Beat:
    """A ``celery -A tests.e2e.proj beat`` subprocess sending the ``e2e-tick`` entry to ``worker``'s queues.

    It shares the worker's environment (broker, queue prefix, trace file) and keeps its schedule in
    ``directory``, so a beat started again remembers when the entry last ran, as a real one does.
    """

    def __init__(self, worker: Worker, directory: Path, every: float) -> None:
        self.worker = worker
        self.directory = directory
        self.env = {**worker.env, "E2E_BEAT_EVERY": str(every)}
        self.log_path = directory / "beat.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start beat (it sends nothing before its first interval has passed)."""
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        env.pop("SENTRY_DSN", None)
        command = [
            *(sys.executable, "-m", "celery", "-A", Worker.app_module, "beat", "--loglevel=INFO"),
            *("-s", str(self.directory / "schedule"), "--max-interval", "1"),
            *("--pidfile", str(self.directory / "beat.pid")),
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self) -> int:
        """Stop beat as an operator does (SIGTERM: it saves its schedule); return its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        """The end of beat's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no beat log)"
        return "".join(text.splitlines(keepends=True)[-lines:])


@dataclass
class Publisher:
    """The test's side: the app to publish with (traced into the worker's file) and the worker."""

    worker: Worker

    @property
    def app(self) -> Any:
        return self.worker.app

    @property
    def trace(self) -> TraceFile:
        return self.worker.trace

    @property
    def layout(self) -> Layout:
        return self.worker.layout

    def send(self, name: str, *args: Any, **options: Any) -> str:
        """Publish task ``name`` with positional ``args``; return its id."""
        return str(self.app.send_task(name, args=list(args), **options).id)


WorkerT = TypeVar("WorkerT", bound=Worker)


@contextmanager
def running(worker: WorkerT) -> Iterator[WorkerT]:
    """Start ``worker``; stop it (warm shutdown) and delete its queues whatever happens."""
    try:
        worker.start()
        yield worker
    finally:
        try:
            worker.stop()
        finally:
            worker.delete_broker_objects()


def names(events: list[dict[str, Any]]) -> list[str]:
    """The event names of ``events``, in order."""
    return [event["event"] for event in events]


def parse_time(value: str) -> datetime:
    """Parse an event's ``time``; it must be timezone-aware."""
    when = datetime.fromisoformat(value)
    assert when.utcoffset() is not None, value
    return when


def by_attempt(events: list[dict[str, Any]]) -> dict[int, list[str]]:
    """The names of a task's execution events per attempt (``retried_count``), in file order.

    Attempts of one task run in different pool processes and can overlap in the file (the next attempt
    may start before the previous one's retry signal is handled), so they are compared per attempt.
    """
    attempts: dict[int, list[str]] = {}
    for event in events:
        if event["event"] != "TASK_SCHEDULE":
            attempts.setdefault(event["details"]["retried_count"], []).append(event["event"])
    return attempts
