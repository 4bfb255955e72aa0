"""What the events mean: summary statistics, one flow or task rebuilt, odd input tolerated."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selinon_celery_trace.cli.model.collector import Collector, LatestFlow, latest_flow
from selinon_celery_trace.cli.model.duration_sketch import DurationSketch
from selinon_celery_trace.cli.model.runs import FlowRun, TaskRun
from selinon_celery_trace.cli.model.summary import Summary
from selinon_celery_trace.cli.model.tallies import FailureGroups
from selinon_celery_trace.cli.reading.files import read
from selinon_celery_trace.cli.reading.lines import Malformed, Record
from selinon_celery_trace.core import catalogue

from . import tracegen
from .tracegen import write_trace_files


def _records(tmp_path: Path) -> list[Record]:
    return list(read(str(write_trace_files(tmp_path).combined), Malformed()))


def test_duration_sketch_quantiles_are_within_two_percent_of_exact() -> None:
    """p50 and p95 read from the sketch are within the promised relative error; max is exact."""
    rng = random.Random(7)
    values = [rng.lognormvariate(-3, 1.5) for _ in range(20_000)]
    sketch = DurationSketch()
    for value in values:
        sketch.add(value)
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[math.ceil(q * len(ordered)) - 1]
        estimate = sketch.quantile(q)
        assert estimate is not None
        assert abs(estimate - exact) / exact < 0.02
    assert sketch.max == max(values)
    assert DurationSketch().quantile(0.5) is None


def test_summary_counts_attempts_flows_failures_and_places(tmp_path: Path) -> None:
    """The scenario's numbers: a retried fetch, failures with their error lines, unfinished tasks."""
    summary = Summary().add_all(_records(tmp_path)).finish()
    fetch = summary.tasks["example.fetch"]
    assert (fetch.runs, fetch.successes, fetch.retries, fetch.failures) == (4, 3, 1, 0)
    assert fetch.durations.max == 0.58
    assert summary.tasks["example.ping"].unfinished == 1
    render = summary.tasks["example.render"]
    assert (render.runs, render.failures, render.durations.count) == (1, 1, 0)  # no start: no duration
    crawl = summary.flows["crawl"]
    assert (crawl.runs, crawl.successes, crawl.failures, crawl.wakeups) == (2, 1, 1, 6)
    assert [flow_id for _, flow_id, *_ in summary.slowest] == [
        tracegen.CRAWL,
        tracegen.PARSE,
        tracegen.CRAWL_OK,
    ]
    failures = {
        (kind, name): (error, group.last_id) for (kind, name, error), group in summary.failures.items()
    }
    assert failures[("task", "example.parse_page")] == (
        "ValueError: bad html: no <body>",
        tracegen.PARSE_PAGE,
    )
    assert failures[("task", "example.render")][0].startswith("WorkerLostError(")
    assert failures[("flow", "crawl")] == ("nodes failed: parse, example.render", tracegen.CRAWL)
    assert summary.by_queue["fetch"].starts == 4
    assert summary.by_host["host-a"].failures == 1


def test_summary_groups_of_failures_are_capped() -> None:
    """Errors that embed ids cannot grow the failure table without bound."""
    summary = Summary()
    for index in range(FailureGroups.MAX + 50):
        summary.add(
            Record(float(index), "TASK_FAILURE", {"task_name": "t", "what": f"KeyError: {index}"}, "h")
        )
    assert len(summary.failures) == FailureGroups.MAX + 1
    assert sum(group.count for group in summary.failures.values()) == FailureGroups.MAX + 50


def test_collector_rebuilds_a_flow_with_its_subflow_attempts_and_wakeups(tmp_path: Path) -> None:
    """The failing crawl: four tasks, a retried fetch, the lost render without a start, the parse subflow."""
    flow = Collector(tracegen.CRAWL).add_all(_records(tmp_path)).result()
    assert isinstance(flow, FlowRun)
    assert (flow.name, flow.outcome, len(flow.wakeups)) == ("crawl", "failure", 4)
    assert set(flow.tasks) == {tracegen.FETCH_1, tracegen.FETCH_2, tracegen.STORE, tracegen.RENDER}
    fetch = flow.tasks[tracegen.FETCH_1]
    assert [(a.number, a.outcome, a.hostname) for a in fetch.attempts] == [
        (0, "retry", "celery@host-a"),
        (1, "success", "celery@host-b"),
    ]
    assert fetch.attempts[0].error == "ConnectionError: connection reset by peer (example.com:443)"
    render = flow.tasks[tracegen.RENDER].attempts
    assert len(render) == 1 and render[0].start is None and render[0].outcome == "failure"
    parse = flow.subflows[tracegen.PARSE]
    assert (parse.name, parse.outcome, parse.parent_flow) == ("parse", "failure", tracegen.CRAWL)
    assert list(parse.tasks) == [tracegen.PARSE_PAGE]
    assert flow.tasks[tracegen.FETCH_2].node_seen is not None


def test_collector_takes_a_unique_id_prefix_and_reports_an_ambiguous_one(tmp_path: Path) -> None:
    """A short id resolves to the one id it starts; two ids sharing it are both reported."""
    records = _records(tmp_path)
    task = Collector("bad0beef").add_all(records).result()
    assert isinstance(task, TaskRun) and task.task_id == tracegen.RENDER
    assert task.flow_id == tracegen.CRAWL
    ambiguous = Collector("3f2a9c1e").add_all(records)
    assert ambiguous.ambiguous == {tracegen.FETCH_1, tracegen.FETCH_2}
    assert Collector("no-such-id").add_all(records).result() is None


def test_a_plain_task_is_a_task_even_though_its_schedule_names_its_id(tmp_path: Path) -> None:
    """A task outside any flow (its TASK_SCHEDULE carries its id) is shown as a task, not a flow."""
    task = Collector(tracegen.EMAIL).add_all(_records(tmp_path)).result()
    assert isinstance(task, TaskRun)
    assert [a.outcome for a in task.attempts] == ["success"] and task.attempts[0].discarded


def test_latest_flow_is_the_top_level_flow_that_finished_last(tmp_path: Path) -> None:
    """The subflow ended after its parent started, yet the parent, which ended last, is the answer."""
    assert latest_flow(_records(tmp_path)) == LatestFlow(tracegen.CRAWL, finished=True)
    assert latest_flow([]) is None


def _flow_event(ts: float, event: str, flow_id: str, **details: Any) -> Record:
    return Record(ts, event, {"dispatcher_id": flow_id, "flow_name": "f", **details}, "h")


def test_latest_flow_prefers_the_flow_that_finished_last_over_the_one_that_started_last() -> None:
    """A long flow started first and finished last is chosen over a short one started later."""
    records = [
        _flow_event(0.0, "FLOW_START", "long"),
        _flow_event(1.0, "FLOW_START", "short"),
        _flow_event(2.0, "FLOW_END", "short"),
        _flow_event(5.0, "FLOW_FAILURE", "long"),
        _flow_event(6.0, "FLOW_START", "running"),  # still running: not "finished last"
    ]
    assert latest_flow(records) == LatestFlow("long", finished=True)


def test_latest_flow_without_any_end_is_the_most_recently_active_top_level_flow() -> None:
    """With no flow finished, the flow whose latest event is latest wins, walked up from a subflow."""
    records = [
        _flow_event(0.0, "FLOW_START", "a"),
        _flow_event(1.0, "FLOW_START", "b"),
        _flow_event(2.0, "SUBFLOW_SCHEDULE", "a-sub", task_id="a-sub", parent_dispatcher_id="a"),
        _flow_event(3.0, "DISPATCHER_WAKEUP", "a-sub", parent_dispatcher_id="a"),
    ]
    assert latest_flow(records) == LatestFlow("a", finished=False)


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=3,
)
_keys = st.sampled_from(
    ["task_id", "dispatcher_id", "task_name", "flow_name", "retried_count", "runtime", "what", "queue",
     "node_id", "parent_dispatcher_id", "retry", "pid", "hostname", "parent", "countdown"]
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1e6),
            st.sampled_from([*catalogue.NAMES.values(), "SOMETHING_ELSE"]),
            st.dictionaries(_keys, _values | st.sampled_from(["X", "Y"]), max_size=5),
        ),
        max_size=12,
    )
)
def test_odd_values_never_crash_summary_or_collector(events: list[tuple[float, str, dict[str, Any]]]) -> None:
    """Any JSON in any key (null, lists, wrong types, ids reused across kinds) is tolerated."""
    records = [Record(ts, event, details, "h") for ts, event, details in sorted(events, key=lambda e: e[0])]
    Summary().add_all(records).finish()
    for wanted in ("X", "Y"):
        Collector(wanted).add_all(records).result()
    latest_flow(records)
