"""Running the example project as README says, and reading what it left: output, trace, processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 180.0


@dataclass
class ExampleRun:
    """One finished ``python -m example_project`` run: its exit status, output and trace."""

    broker: str
    state_dir: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def trace_file(self) -> Path:
        return self.state_dir / "trace.jsonl"

    def records(self) -> list[dict[str, Any]]:
        """Every event of the trace file, in file order (each line must be one JSON event)."""
        found = []
        for number, line in enumerate(self.trace_file.read_text(encoding="utf-8").split("\n")[:-1], 1):
            record = json.loads(line)
            assert isinstance(record, dict) and set(record) == {"event", "time", "details", "node"}, (
                f"line {number}: {line!r}"
            )
            found.append(record)
        return found

    def explain(self) -> str:
        """The run's output and the end of the worker's log, for a failing assertion."""
        log = self.state_dir / "worker.log"
        tail = log.read_text(encoding="utf-8", errors="replace")[-4000:] if log.exists() else "(no log)"
        return f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}\nworker log (tail):\n{tail}"


def example_command(*args: str) -> list[str]:
    """The command line of the example's runner, as README gives it."""
    return [sys.executable, "-m", "example_project", *args]


def example_env() -> dict[str, str]:
    """The test's environment, with a terminal width that keeps the runner's lines whole."""
    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def run_example(broker: str, state_dir: Path, *args: str) -> ExampleRun:
    """Run the example to its end and return what it did."""
    completed = subprocess.run(
        example_command("--state-dir", str(state_dir), *args),
        cwd=REPO_ROOT,
        env=example_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return ExampleRun(broker, state_dir, completed.returncode, completed.stdout, completed.stderr)


def processes_with(marker: str) -> list[int]:
    """Pids of the processes whose command line contains ``marker`` (``pgrep -f``, without pgrep)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = (
                Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            )
        except OSError:
            continue
        if marker in cmdline:
            found.append(int(entry))
    return found


def wait_gone(marker: str, timeout: float = 10.0) -> list[int]:
    """Wait for the processes naming ``marker`` to exit; return those still there after ``timeout``."""
    deadline = time.monotonic() + timeout
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    return processes_with(marker)
