"""A real ``celery worker`` subprocess for the example: started, waited for, and always stopped.

The worker runs in a session (and process group) of its own: a Ctrl-C in the terminal reaches the
runner only, which then stops the worker the way an operator would (SIGTERM: a warm shutdown that lets
running tasks finish) and, if that takes too long, kills the whole group, pool processes included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from example_project.settings import Settings

__all__ = ["PROJECT_ROOT", "Worker", "WorkerError"]

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent


class WorkerError(RuntimeError):
    """The worker did not start, or died while the flows ran."""


class Worker:
    """``celery -A example_project.app worker`` (prefork) with its log in the state directory."""

    def __init__(self, settings: Settings, concurrency: int) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        """The command line; it names the state directory (``--logfile``), so ``pgrep -f`` finds it."""
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "example_project.app",
            "worker",
            "-P",
            "prefork",
            "-c",
            str(self.concurrency),
            "-Q",
            ",".join(self.settings.queues),
            "-n",
            self.node_name,
            "--loglevel=INFO",
            f"--logfile={self.settings.worker_log}",
            # One worker, no cluster: no heartbeats, gossip or start-up sync to wait for (the filesystem
            # broker has no event stream to carry them anyway).
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ]

    @property
    def node_name(self) -> str:
        """``example@%h``; with a queue prefix, the prefix is in the name too (runs sharing a broker)."""
        tag = "".join(c if c.isalnum() else "-" for c in self.settings.queue_prefix).strip("-")
        return f"example-{tag}@%h" if tag else "example@%h"

    def start(self) -> None:
        """Start the worker; its environment carries the example's settings."""
        env = {**os.environ, **self.settings.to_env()}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        with open(self.settings.worker_log, "ab") as log:  # Celery appends to the same file
            self.process = subprocess.Popen(
                self.command,
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        """True while the worker's main process runs."""
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float) -> float:
        """Wait until the worker logs that it is ready; return the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if not self.alive:
                raise WorkerError(f"the worker exited at start (status {self.returncode})")
            if " ready." in self.log_text():
                return time.monotonic() - started
            time.sleep(0.1)
        raise WorkerError(f"the worker was not ready after {timeout:.0f}s")

    @property
    def returncode(self) -> int | None:
        """The worker's exit status, None while it runs."""
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float = 20.0) -> bool:
        """Warm shutdown (SIGTERM), then SIGKILL to the whole group; True when it stopped by itself.

        A second Ctrl-C while waiting kills at once. Either way no process of the worker is left.
        """
        process = self.process
        if process is None:
            return True
        clean = True
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    clean = False
        except (KeyboardInterrupt, Exception):
            clean = False  # a second Ctrl-C (or a SIGTERM) while waiting: kill at once
        finally:
            # Pool processes share the main process's group: kill what is left of it, if anything.
            self._kill_group()
            process.wait()
        return clean

    def _kill_group(self) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone: nothing left behind

    def log_text(self) -> str:
        """The worker's log so far."""
        try:
            return self.settings.worker_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        """The end of the worker's log, for error messages."""
        return "\n".join(self.log_text().splitlines()[-lines:])
