"""Durations, error lines and the real-world event orders the views must read right."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from selinon_celery_trace.cli.model.collector import Collector
from selinon_celery_trace.cli.model.runs import TaskRun
from selinon_celery_trace.cli.model.summary import Summary
from selinon_celery_trace.cli.reading.fields import error_line, task_name
from selinon_celery_trace.cli.reading.lines import Record
from selinon_celery_trace.cli.views.formatting import UNKNOWN, format_duration
from selinon_celery_trace.cli.views.summary_view import summary_view

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/tasks.py", line 9, in fetch\n'
    "    raise SourceTimeout(url)\n"
    "example_project.tasks.SourceTimeout: GET https://example.com: read timed out\n"
)


def test_durations_keep_three_significant_digits_so_a_column_reads_alike() -> None:
    """3.00s stands next to 3.02s (never 3s), and unit boundaries round up into the next unit."""
    assert [format_duration(s) for s in (3.0, 3.02, 0.012, 0.3021, 12.34, 0.9996, 59.97, 185)] == [
        "3.00s",
        "3.02s",
        "12.0ms",
        "302ms",
        "12.3s",
        "1.00s",
        "1m00s",
        "3m05s",
    ]
    assert format_duration(None) == UNKNOWN and format_duration(-0.5) == "-500ms"


def test_an_error_line_is_type_and_message_without_the_module_path() -> None:
    """A traceback gives its exception line unqualified; exc_type names a bare message or stands alone."""
    assert error_line(TRACEBACK, "SourceTimeout") == "SourceTimeout: GET https://example.com: read timed out"
    assert error_line("connection reset", "ConnectionError") == "ConnectionError: connection reset"
    assert error_line(None, "WorkerLostError") == "WorkerLostError"
    assert error_line("node(s) failed: parse") == "node(s) failed: parse"


def _task(ts: float, event: str, number: int, **details: Any) -> Record:
    base = {"task_id": "t-1", "task_name": "fetch", "retried_count": number, "dispatcher_id": "f-1"}
    return Record(ts, event, {**base, **details}, "h")


OVERLAPPING = [
    # Attempt 2 starts and ends (another process) before attempt 1's TASK_RETRY is written.
    Record(0.0, "DISPATCHER_WAKEUP", {"dispatcher_id": "f-1", "flow_name": "f"}, "h"),
    _task(0.1, "TASK_START", 0, pid=1),
    _task(0.7, "TASK_START", 1, pid=2),
    _task(0.9, "TASK_END", 1, pid=2, runtime=0.2),
    _task(1.0, "TASK_RETRY", 0, pid=1, runtime=0.5, what=TRACEBACK, exc_type="SourceTimeout"),
]


def test_attempts_are_grouped_by_their_number_not_by_the_order_of_the_lines() -> None:
    """The retry belongs to attempt 1 and the success to attempt 2, though the lines say otherwise."""
    task = Collector("t-1").add_all(OVERLAPPING).result()
    assert isinstance(task, TaskRun)
    assert [(a.number, a.outcome, a.pid, a.start) for a in task.attempts] == [
        (0, "retry", "1", 0.1),
        (1, "success", "2", 0.7),
    ]
    assert task.outcome == "success"
    assert task.attempts[0].error == "SourceTimeout: GET https://example.com: read timed out"
    tally = Summary().add_all(OVERLAPPING).finish().tasks["fetch"]
    assert (tally.runs, tally.successes, tally.retries, tally.unfinished) == (2, 1, 1, 0)


def test_an_end_merged_before_its_start_is_one_attempt() -> None:
    """Files merged from two hosts with a little clock skew: the END line comes first, still one attempt."""
    task = Collector("t-1").add_all([_task(1.0, "TASK_END", 0, runtime=0.5), _task(1.01, "TASK_START", 0)])
    run = task.result()
    assert isinstance(run, TaskRun) and len(run.attempts) == 1 and run.outcome == "success"


def test_a_flow_submitted_by_a_client_is_not_a_task() -> None:
    """TASK_SCHEDULE of a dispatcher (task_id == dispatcher_id) is the flow's submission, not a task run."""
    records = [
        Record(
            0.0,
            "TASK_SCHEDULE",
            {
                "task_name": "proj.flow",
                "task_id": "f-1",
                "dispatcher_id": "f-1",
                "flow_name": "f",
                "queue": "q",
            },
            "client",
        ),
        Record(0.25, "DISPATCHER_WAKEUP", {"dispatcher_id": "f-1", "flow_name": "f", "queue": "q"}, "h"),
        Record(0.25, "FLOW_START", {"dispatcher_id": "f-1", "flow_name": "f", "queue": "q"}, "h"),
        Record(0.30, "FLOW_END", {"dispatcher_id": "f-1", "flow_name": "f"}, "h"),
    ]
    summary = Summary().add_all(records).finish()
    assert summary.tasks == {} and summary.flows["f"].runs == 1
    flow = Collector("f-1").add_all(records).result()
    assert flow is not None and not isinstance(flow, TaskRun)
    assert flow.scheduled == 0.0 and flow.tasks == {} and flow.wakeups[0].ts == 0.25


def test_the_summary_fits_80_columns_with_long_errors_and_names() -> None:
    """No line is wider than the terminal and no column is folded into one character per line."""
    what = "x" * 300
    records = []
    for i in range(3):
        ident = {"task_id": f"id-{i}", "task_name": f"a.very.long.module.path.task_{i}"}
        records.append(_task(float(i), "TASK_START", 0, **ident))
        records.append(_task(i + 0.5, "TASK_FAILURE", 0, what=what, exc_type="ValueError", **ident))
    for width in (80, 120):
        out = io.StringIO()
        console = Console(file=out, width=width, no_color=True)
        console.print(summary_view(Summary().add_all(records).finish(), 1, width=width))
        lines = out.getvalue().splitlines()
        assert max(len(line) for line in lines) <= width
        assert any("ValueError: xxxxxxxxxx" in line for line in lines)
        assert not any(line.strip() == "x" for line in lines)


def test_a_map_or_starmap_is_named_with_its_task_whatever_its_arguments_became() -> None:
    """celery.starmap(proj.add) when the arguments name the task; the plain name when they do not."""
    wrapped = {"task": {"task": "proj.add", "args": []}, "it": [[1, 2]]}
    assert task_name({"task_name": "celery.starmap", "node_args": {"args": [], "kwargs": wrapped}}) == (
        "celery.starmap(proj.add)"
    )
    assert task_name({"task_name": "celery.map", "node_args": {"kwargs": wrapped}}) == "celery.map(proj.add)"
    for odd in (
        None,
        "[redacted]",
        {"kwargs": "...[truncated 9 chars]"},
        {"kwargs": {"task": {"task": ["x"]}}},
    ):
        assert task_name({"task_name": "celery.map", "node_args": odd}) == "celery.map"
    assert task_name({"task_name": "proj.add", "node_args": {"kwargs": wrapped}}) == "proj.add"
    assert task_name({"task_name": None}) is None
