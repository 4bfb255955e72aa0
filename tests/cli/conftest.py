"""A real trace for the CLI tests: the example project run once per test session, its files kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RealTrace:
    """The trace file of one example run, and what it holds, read straight from its JSON lines."""

    path: Path
    records: list[dict[str, Any]]
    flows: dict[str, str] = field(default_factory=dict)
    """Document id -> dispatcher id of the submitted (top-level) flows."""
    subflows: dict[str, str] = field(default_factory=dict)
    """Subflow dispatcher id -> the dispatcher id of the flow that scheduled it."""

    def attempts(self, flow_id: str) -> set[tuple[str, int, str]]:
        """(task id, attempt number from 1, outcome) of every task attempt of a flow and its subflows."""
        flows = {flow_id} | {sub for sub, parent in self.subflows.items() if parent == flow_id}
        outcome = {"TASK_END": "success", "TASK_RETRY": "retry", "TASK_FAILURE": "failure"}
        found = set()
        for record in self.records:
            details = record["details"]
            if record["event"] in outcome and details.get("dispatcher_id") in flows:
                found.add((details["task_id"], details["retried_count"] + 1, outcome[record["event"]]))
        return found

    def task_ids(self, flow_id: str, task_name: str) -> list[str]:
        """The ids of the tasks named ``task_name`` that ran in the flow."""
        return sorted(
            {
                r["details"]["task_id"]
                for r in self.records
                if r["event"] == "TASK_START"
                and r["details"]["task_name"] == task_name
                and r["details"].get("dispatcher_id") == flow_id
            }
        )

    def finished_last(self) -> str:
        """The top-level flow whose FLOW_END or FLOW_FAILURE is the latest."""
        ends = [
            (r["time"], r["details"]["dispatcher_id"])
            for r in self.records
            if r["event"] in ("FLOW_END", "FLOW_FAILURE")
            and r["details"]["dispatcher_id"] in self.flows.values()
        ]
        return max(ends)[1]


@pytest.fixture(scope="session")
def real_trace(tmp_path_factory: pytest.TempPathFactory) -> RealTrace:
    """``python -m example_project --no-live`` on the embedded broker (no server), run once."""
    state = tmp_path_factory.mktemp("example-trace")
    completed = subprocess.run(
        [sys.executable, "-m", "example_project", "--state-dir", str(state), "--no-live"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    path = state / "trace.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    trace = RealTrace(path, records)
    parents: dict[str, str] = defaultdict(str)
    for record in records:
        details = record["details"]
        if record["event"] == "FLOW_START" and not details.get("parent_dispatcher_id"):
            trace.flows[details["node_args"]["args"][0]] = details["dispatcher_id"]
        elif record["event"] == "SUBFLOW_SCHEDULE":
            parents[details["dispatcher_id"]] = details["parent_dispatcher_id"]
    trace.subflows = dict(parents)
    return trace
