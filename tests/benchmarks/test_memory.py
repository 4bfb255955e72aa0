"""The tracer keeps no per-task state: its memory is flat over many tasks, failures and retries."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "memory.py"


def _memory_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("memory_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def memory_run() -> dict[str, object]:
    """Run the memory benchmark (worker request path, JSON and logging sinks) on 1,500 mixed tasks."""
    return _memory_benchmark().run(1500, [300, 1500])  # type: ignore[no-any-return]


def test_tracer_memory_is_flat(memory_run: dict[str, object]) -> None:
    """From 300 to 1,500 tasks the tracer's own allocations and structures do not grow."""
    first, last = memory_run["checkpoints"]  # type: ignore[misc]
    # A few objects of the latest tasks can still be alive at a snapshot (Python 3.10 keeps more of them
    # than 3.11+: about 6 KB here); state kept per task would add at least 64 bytes x 1,200 tasks.
    assert last["tracer_bytes"] <= first["tracer_bytes"] + 8192, memory_run
    for key in ("attempt_stack", "queue_memo", "route_memos", "key_verdicts"):
        assert last[key] == first[key], key
    assert last["attempt_stack"] == 0 and last["swallowed_errors"] == 0
    # Every attempt wrote its events: 1,800 attempts, each START + one terminal event, and the 900
    # that returned a value with no result backend a TASK_DISCARD_RESULT too.
    assert memory_run["trace_lines"] == 2 * 1800 + 900
