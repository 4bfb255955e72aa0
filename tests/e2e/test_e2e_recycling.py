"""End to end with ``worker_max_tasks_per_child=1``: every task runs in a fresh pool process, nothing is lost.

The JSON-lines file sink writes each line whole at once, so a pool process exiting right after its task
loses none of that task's events.
"""

from __future__ import annotations

import pytest

from tests.e2e.support import Publisher, by_attempt, names

pytestmark = pytest.mark.e2e


def test_nothing_lost_when_each_child_runs_one_task(e2e_recycling: Publisher) -> None:
    """Twenty tasks, each in its own short-lived pool process: every one has its START and its END."""
    e2e = e2e_recycling
    results = [e2e.app.send_task("e2e.add", args=[number, 1]) for number in range(20)]
    assert [result.get(timeout=60) for result in results] == [number + 1 for number in range(20)]
    events = e2e.trace.wait({result.id: ["TASK_END"] for result in results}, timeout=60)

    pids = set()
    for result in results:
        seen = events[result.id]
        assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
        start, end = seen[1]["details"], seen[2]["details"]
        assert start["pid"] == end["pid"]
        assert start["queue"] == end["queue"] == e2e.layout.one
        assert start["hostname"] == e2e.worker.node_name
        pids.add(start["pid"])
    assert len(pids) == len(results), "every task ran in a pool process of its own"


def test_retries_and_failures_survive_recycling(e2e_recycling: Publisher) -> None:
    """A retried task and a failing one, each attempt in a new pool process: every attempt fully traced."""
    e2e = e2e_recycling
    retried = e2e.send("e2e.flaky", 2)
    failed = e2e.send("e2e.boom", "gone")
    # Wait for every attempt's terminal event: a retry can be written after the next attempt ended.
    events = e2e.trace.wait(
        {retried: ["TASK_RETRY", "TASK_RETRY", "TASK_END"], failed: ["TASK_FAILURE"]}, timeout=60
    )

    assert by_attempt(events[retried]) == {
        0: ["TASK_START", "TASK_RETRY"],
        1: ["TASK_START", "TASK_RETRY"],
        2: ["TASK_START", "TASK_END"],
    }
    assert {event["details"]["parent"] for event in events[retried]} == {None}
    assert names(events[failed]) == ["TASK_SCHEDULE", "TASK_START", "TASK_FAILURE"]
    assert events[failed][2]["details"]["exc_type"] == "ValueError"
