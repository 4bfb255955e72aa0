"""``benchmarks/bench.py`` runs as documented and each configuration really traces what it claims.

Nothing here is timed: the figures are the benchmark's business. These runs check that the script works
end to end on a fresh checkout and that its event counts (which keep a configuration that silently stopped
tracing from looking free) say what each configuration emits.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"


def _run(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=240, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert "CPU microseconds per task" in out.stdout or "End to end" in out.stdout, out.stdout
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def test_micro_benchmark_counts_what_each_configuration_emits() -> None:
    """One round of the micro benchmark: the table's JSON line, with two lines per task where traced."""
    configs = ["plain", "naive-json", "ours-off", "ours-json", "ours-logging"]
    report = _run("--micro-only", "--rounds", "1", "--tasks", "1000", "--configs", ",".join(configs))
    micro = report["micro"]
    assert set(micro) == set(configs)
    emitted = {config: row["emitted_per_task"] for config, row in micro.items()}
    assert emitted == {"plain": 0, "naive-json": 2, "ours-off": 0, "ours-json": 2, "ours-logging": 2}
    assert all(row["median_us"] > 0 for row in micro.values())


def test_end_to_end_benchmark_reads_the_workers_cpu() -> None:
    """One round end to end (a real worker on Redis): throughput, the worker's CPU per task, events."""
    report = _run(
        *("--e2e-only", "--e2e-rounds", "1", "--e2e-tasks", "600", "--e2e-configs", "plain,ours-json"),
        *("--duel-rounds", "1", "--duel-configs", "ours-json"),
    )
    e2e = report["e2e"]
    assert set(e2e) == {"solo/plain", "solo/ours-json", "prefork/plain", "prefork/ours-json"}
    for name, row in e2e.items():
        assert row["median_tasks_per_s"] > 0, name
        assert math.isfinite(row["cpu_us_per_task"]) and row["cpu_us_per_task"] > 0, name
        assert math.isfinite(row["capacity_plain"]), name
        # The fastest window (200 of the 600 tasks here) from the progress marks the tasks recorded.
        assert row["median_best_tasks_per_s"] > 0 and math.isfinite(row["best_ratio_plain"]), name
        # The publisher's TASK_SCHEDULE and the worker's TASK_START and TASK_END, in one file.
        assert row["emitted_per_task"] == (3.0 if name.endswith("ours-json") else 0.0), name
    # Side by side: plain's worker and ours at the same time, both measured over the stretch they shared.
    duels = report["side_by_side"]
    assert set(duels) == {"solo/ours-json", "prefork/ours-json"}
    for name, row in duels.items():
        assert row["median_overlap_s"] > 0 and row["median_tasks_per_s"] > 0, name
        assert math.isfinite(row["ratio_plain"]) and row["ratio_plain"] > 0, name
        assert row["emitted_per_task"] == 3.0, name
