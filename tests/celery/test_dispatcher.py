"""Flows driven by the Dispatcher base task, traced in a real in-process worker."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from selinon_celery_trace.celery.flow import FlowFailed
from selinon_celery_trace.testing import CapturedEvents

from .conftest import wait_for

FLOW_TERMINAL = ("FLOW_END", "FLOW_FAILURE")


def flow_events(events: CapturedEvents, dispatcher_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event of one flow: the dispatcher's and those of the tasks it ran."""
    return [(n, d) for n, d in events if d.get("dispatcher_id") == dispatcher_id]


def run_flow(events: CapturedEvents, signature: Any) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """Start a flow and wait until its dispatcher reported FLOW_END or FLOW_FAILURE."""
    result = signature.apply_async()
    wait_for(lambda: any(n in FLOW_TERMINAL for n, _ in flow_events(events, result.id)), timeout=20)
    return result.id, flow_events(events, result.id)


def dispatcher_names(stream: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The dispatcher's own events (not its tasks'), in order."""
    return [n for n, _ in stream if not n.startswith("TASK_")]


def test_linear_flow(traced: CapturedEvents, flows: SimpleNamespace, worker: Any) -> None:
    """A two-step flow: WAKEUP, FLOW_START, nodes reported once each, RETRY while waiting, then FLOW_END."""
    flow_id, stream = run_flow(traced, flows.linear.s(3))
    names = dispatcher_names(stream)
    # Submitting the flow is its first event: TASK_SCHEDULE of the dispatcher, in the flow.
    assert stream[0][0] == "TASK_SCHEDULE" and stream[0][1]["task_id"] == flow_id
    assert stream[0][1]["flow_name"] == "flow.linear" and "parent_dispatcher_id" not in stream[0][1]
    assert names[:2] == ["DISPATCHER_WAKEUP", "FLOW_START"] and names[-1] == "FLOW_END"
    assert names.count("FLOW_START") == 1 and names.count("NODE_SUCCESSFUL") == 2
    assert names.count("DISPATCHER_WAKEUP") == names.count("DISPATCHER_RETRY") + 1
    assert not any(n in ("TASK_START", "TASK_END") and d["task_name"] == "flow.linear" for n, d in stream)
    assert [d["node_name"] for n, d in stream if n == "NODE_SUCCESSFUL"] == ["first", "second"]
    assert {d["flow_name"] for _, d in stream} == {"flow.linear"}
    starts = [d for n, d in stream if n == "TASK_START"]
    assert [d["node_name"] for d in starts] == ["first", "second"] and all(
        d["parent"] == flow_id for d in starts
    )
    assert flows.linear.AsyncResult(flow_id).get(timeout=5) == 12


def test_fan_out_fan_in(traced: CapturedEvents, flows: SimpleNamespace, worker: Any) -> None:
    """Parallel nodes are each scheduled and reported once; the join runs after all of them."""
    flow_id, stream = run_flow(traced, flows.fanout.s(4))
    reported = Counter(d["node_name"] for n, d in stream if n == "NODE_SUCCESSFUL")
    assert reported == {"double-0": 1, "double-1": 1, "double-2": 1, "double-3": 1, "total": 1}
    scheduled = [d["node_name"] for n, d in stream if n == "TASK_SCHEDULE" and d["task_id"] != flow_id]
    assert sorted(scheduled) == ["double-0", "double-1", "double-2", "double-3", "total"]
    assert flows.fanout.AsyncResult(flow_id).get(timeout=5) == 12


def test_node_retry_then_success(traced: CapturedEvents, flows: SimpleNamespace, worker: Any) -> None:
    """A node's own retry is TASK_RETRY in the flow; the node is reported successful once, after it."""
    _, stream = run_flow(traced, flows.with_retry.s())
    task_names = [n for n, d in stream if d.get("task_name") == "flow.flaky"]
    assert task_names == ["TASK_SCHEDULE", "TASK_START", "TASK_RETRY", "TASK_START", "TASK_END"]
    assert (
        dispatcher_names(stream).count("NODE_SUCCESSFUL") == 1 and dispatcher_names(stream)[-1] == "FLOW_END"
    )


def test_node_failure_fails_the_flow(traced: CapturedEvents, flows: SimpleNamespace, worker: Any) -> None:
    """A failed node is NODE_FAILURE with its traceback; FLOW_FAILURE ends the flow and the task fails."""
    flow_id, stream = run_flow(traced, flows.failing.s())
    names = dispatcher_names(stream)
    assert names[-1] == "FLOW_FAILURE" and "FLOW_END" not in names and "DISPATCHER_FAILURE" not in names
    failure = next(d for n, d in stream if n == "NODE_FAILURE")
    assert failure["node_name"] == "broken" and "RuntimeError: node broke" in failure["what"]
    assert "broken" in next(d for n, d in stream if n == "FLOW_FAILURE")["what"]
    with pytest.raises(FlowFailed):
        flows.failing.AsyncResult(flow_id).get(timeout=5)


def test_recovered_failure_ends_the_flow(traced: CapturedEvents, flows: SimpleNamespace, worker: Any) -> None:
    """A node failure the body recovers from (a fallback node) lets the flow end successfully."""
    flow_id, stream = run_flow(traced, flows.recovering.s())
    names = dispatcher_names(stream)
    assert names.count("NODE_FAILURE") == 1 and names[-1] == "FLOW_END"
    assert flows.recovering.AsyncResult(flow_id).get(timeout=5) == "recovered"


def test_dispatcher_bug(traced: CapturedEvents, flows: SimpleNamespace, worker: Any) -> None:
    """A bug in the dispatcher's own code: DISPATCHER_FAILURE, FLOW_FAILURE, and the exception kept."""
    flow_id, stream = run_flow(traced, flows.buggy.s())
    assert dispatcher_names(stream) == [
        "DISPATCHER_WAKEUP",
        "FLOW_START",
        "DISPATCHER_FAILURE",
        "FLOW_FAILURE",
    ]
    failure = next(d for n, d in stream if n == "DISPATCHER_FAILURE")
    assert "KeyError: 'dispatcher bug'" in failure["what"]
    with pytest.raises(KeyError):
        flows.buggy.AsyncResult(flow_id).get(timeout=5)
    executions = ("TASK_START", "TASK_END", "TASK_FAILURE", "TASK_RETRY")
    assert not [n for n, d in traced if d.get("task_id") == flow_id and n in executions]


def test_nested_subflow(traced: CapturedEvents, flows: SimpleNamespace, worker: Any) -> None:
    """A dispatcher scheduling another: SUBFLOW_SCHEDULE names the parent; the subflow is its own flow."""
    parent_id, stream = run_flow(traced, flows.parent.s())
    sub = next(d for n, d in traced if n == "SUBFLOW_SCHEDULE" and d.get("parent_dispatcher_id") == parent_id)
    assert sub["flow_name"] == "flow.child" and sub["task_name"] == "flow.child"
    child_id = sub["task_id"]
    wait_for(lambda: any(n == "FLOW_END" for n, _ in flow_events(traced, child_id)))
    child_stream = flow_events(traced, child_id)
    # The subflow's stream opens with its scheduling, then runs as any flow does.
    assert dispatcher_names(child_stream)[:3] == ["SUBFLOW_SCHEDULE", "DISPATCHER_WAKEUP", "FLOW_START"]
    assert child_stream[1][1]["parent_dispatcher_id"] == parent_id
    inner = [d for n, d in child_stream if n == "TASK_START"]
    assert inner and inner[0]["flow_name"] == "flow.child" and inner[0]["node_name"] == "inner"
    assert dispatcher_names(stream)[-1] == "FLOW_END"
    assert any(n == "NODE_SUCCESSFUL" and d["node_name"] == "subflow" for n, d in stream)


def test_flow_context_reaches_a_grandchild(
    traced: CapturedEvents, flows: SimpleNamespace, worker: Any
) -> None:
    """A task published by a flow's node carries the flow's name and dispatcher id in its own events."""
    flow_id, _ = run_flow(traced, flows.grand.s())
    spawner_id = next(
        d["task_id"] for n, d in traced if n == "TASK_START" and d["task_name"] == "flow.spawner"
    )
    grandchild_id = flows.spawner.AsyncResult(spawner_id).get(timeout=5)
    wait_for(lambda: any(n == "TASK_END" and d["task_id"] == grandchild_id for n, d in traced))
    events = [(n, d) for n, d in traced if d.get("task_id") == grandchild_id]
    assert [n for n, _ in events] == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    for _, details in events:
        assert details["dispatcher_id"] == flow_id and details["flow_name"] == "flow.grand"
        assert details["parent"] == spawner_id and "node_name" not in details
