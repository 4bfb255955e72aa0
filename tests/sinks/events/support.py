"""Processes for the ``events`` sink tests: prefork workers, a ``selinon-trace watch`` process, Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 45.0


def environment(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a child process: ours, the test's settings, and the checkout on the path."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


def wait_for(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``condition`` until it returns something true; fail the test naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The complete JSON lines of ``path`` (a line being written is left out)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.split("\n")[:-1]]


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop ``process`` and its process group (a prefork pool), killing what outlives a grace period."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # pool children left behind, if any
    except ProcessLookupError:
        pass
    process.wait()


class WorkerProcess:
    """A prefork ``celery -A tests.sinks.events.proj worker`` (concurrency 2), its own node name and queue."""

    def __init__(self, app: Any, env: dict[str, str], node: str, queue: str, directory: Path) -> None:
        self.app, self.node, self.queue = app, node, queue
        self.trace_path = directory / f"{node.split('@')[0]}.jsonl"
        self.log_path = directory / f"{node.split('@')[0]}.log"
        self.env = {**env, "EV_TRACE_FILE": str(self.trace_path)}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the worker (use :meth:`wait_ready` before publishing)."""
        command = [
            sys.executable, "-m", "celery", "-A", "tests.sinks.events.proj", "worker",
            "-P", "prefork", "-c", "2", "-Q", self.queue, "-n", self.node,
            "--loglevel=INFO", "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=environment(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        """Wait until the worker answers a ping."""
        assert self.process is not None

        def answered() -> bool:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"worker {self.node} exited:\n{self.log_tail()}")
            try:
                replies = self.app.control.ping(destination=[self.node], timeout=0.5)
            except Exception:
                return False
            return any(self.node in reply for reply in replies)

        wait_for(answered, f"worker {self.node} to start", timeout=60)

    def records(self) -> list[dict[str, Any]]:
        """The events this worker's processes wrote to their JSON-lines file."""
        return read_records(self.trace_path)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then kill whatever is left."""
        if self.process is not None:
            stop_process(self.process)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the worker's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "".join(text.splitlines(keepends=True)[-lines:])


class WatchProcess:
    """``selinon-trace watch -A tests.sinks.events.proj --json -o FILE``: the events of every host."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.output = directory / "watched.jsonl"
        self.stderr_path = directory / "watch.err"
        command = [
            sys.executable, "-m", "selinon_celery_trace", "--color", "never", "watch",
            "-A", "tests.sinks.events.proj", "--json", "-o", str(self.output),
        ]  # fmt: skip
        with open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=environment(env),
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        wait_for(lambda: "watching" in self.messages(), "the watcher to start consuming")

    def messages(self) -> str:
        """What the watcher said on standard error."""
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def records(self) -> list[dict[str, Any]]:
        """The trace events received so far."""
        return read_records(self.output)

    def stop(self) -> None:
        """Stop the watcher."""
        stop_process(self.process, signal.SIGINT)
