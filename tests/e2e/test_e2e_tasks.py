"""End to end: a real prefork worker (concurrency 2) on Redis and on RabbitMQ, traced by configuration only.

Every test publishes its own tasks to the module's worker (see ``conftest.py``), waits until their
terminal events are in the JSON-lines file and checks each task's complete event sequence, field by field.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery import states

from selinon_celery_trace.core.redact import REDACTED
from tests.e2e.proj import DIRECT_ROUTING_KEY, TOPIC_ROUTING_KEY
from tests.e2e.support import EXECUTION_KEYS, Publisher, by_attempt, names, parse_time

pytestmark = pytest.mark.e2e

# Failures reported from the worker's main process could be reported twice; wait this long after the
# first one before checking that it was not.
SETTLE = 1.5


@dataclass(frozen=True)
class Expected:
    """What every event of one task must say about it."""

    task_id: str
    task_name: str
    queue: str
    parent: str | None
    args: list[Any]


def check_schedule(event: dict[str, Any], task: Expected) -> None:
    """A TASK_SCHEDULE of a task published with no countdown, outside any flow."""
    assert event["event"] == "TASK_SCHEDULE"
    assert event["node"] == platform.node()
    parse_time(event["time"])
    assert event["details"] == {
        "task_name": task.task_name,
        "task_id": task.task_id,
        "queue": task.queue,
        "countdown": None,
        "eta": None,
        "parent": task.parent,
        "dispatcher_id": None,
        "flow_name": None,
        "node_args": {"args": task.args, "kwargs": {}},
        "condition_str": None,
        "foreach_str": None,
        "selective": False,
        "selective_edge": False,
    }


def check_execution(
    event: dict[str, Any], e2e: Publisher, task: Expected, retried_count: int = 0
) -> dict[str, Any]:
    """The fields every TASK_START / END / RETRY / FAILURE of an attempt carries; returns the rest."""
    assert event["node"] == platform.node()
    parse_time(event["time"])
    details = event["details"]
    assert set(details) >= EXECUTION_KEYS, event
    assert {key: details[key] for key in EXECUTION_KEYS - {"pid"}} == {
        "task_name": task.task_name,
        "task_id": task.task_id,
        "queue": task.queue,
        "parent": task.parent,
        "dispatcher_id": None,
        "flow_name": None,
        "node_args": {"args": task.args, "kwargs": {}},
        "retried_count": retried_count,
        "hostname": e2e.worker.node_name,
    }
    assert isinstance(details["pid"], int)
    return {key: value for key, value in details.items() if key not in EXECUTION_KEYS}


def test_success_is_schedule_start_end(e2e: Publisher) -> None:
    """A successful task: TASK_SCHEDULE from the client, then TASK_START and TASK_END in one pool process."""
    result = e2e.app.send_task("e2e.add", args=[2, 3])
    delayed = e2e.app.send_task("e2e.add", args=[4, 5], countdown=1)
    assert result.get(timeout=30) == 5
    assert delayed.get(timeout=30) == 9
    events = e2e.trace.wait({result.id: ["TASK_END"], delayed.id: ["TASK_END"]})

    plain = events[result.id]
    assert names(plain) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    one = e2e.layout.one
    task = Expected(task_id=result.id, task_name="e2e.add", queue=one, parent=None, args=[2, 3])
    check_schedule(plain[0], task)
    assert check_execution(plain[1], e2e, task) == {}
    end = check_execution(plain[2], e2e, task)
    assert set(end) == {"runtime"} and 0 <= end["runtime"] < 5
    start_pid, end_pid = plain[1]["details"]["pid"], plain[2]["details"]["pid"]
    assert start_pid == end_pid != e2e.worker.pid  # run in a pool child, not the main process
    assert parse_time(plain[0]["time"]) <= parse_time(plain[1]["time"]) <= parse_time(plain[2]["time"])

    later = events[delayed.id]
    assert names(later) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    schedule = later[0]["details"]
    assert 0 < schedule["countdown"] <= 1
    assert parse_time(schedule["eta"]) > parse_time(later[0]["time"])
    assert schedule["queue"] == one and later[1]["details"]["queue"] == one


def test_retry_then_success(e2e: Publisher) -> None:
    """``self.retry()`` twice, then success: one SCHEDULE, (START, RETRY) per retry, (START, END)."""
    top = e2e.send("e2e.flaky", 2)
    spawner = e2e.app.send_task("e2e.parent", args=["e2e.flaky", [2]])
    child = spawner.get(timeout=30)
    # An attempt's retry can be written after the next attempt (in the other pool process) ended:
    # wait for every terminal event, not only the last attempt's.
    terminals = ["TASK_RETRY", "TASK_RETRY", "TASK_END"]
    events = e2e.trace.wait({top: terminals, child: terminals})
    assert e2e.app.AsyncResult(top).get(timeout=30) == "done after 2 retries"

    for task_id, parent in ((top, None), (child, spawner.id)):
        seen = events[task_id]
        assert names(seen).count("TASK_SCHEDULE") == 1, "a retry is not a new schedule"
        assert seen[0]["event"] == "TASK_SCHEDULE"
        # parent: never the task itself, on any attempt.
        task = Expected(task_id=task_id, task_name="e2e.flaky", queue=e2e.layout.two, parent=parent, args=[2])
        check_schedule(seen[0], task)
        # The next attempt can start in the other pool process before this one's retry is traced:
        # compare per attempt.
        assert by_attempt(seen) == {
            0: ["TASK_START", "TASK_RETRY"],
            1: ["TASK_START", "TASK_RETRY"],
            2: ["TASK_START", "TASK_END"],
        }
        for event in seen[1:]:
            rest = check_execution(event, e2e, task, retried_count=event["details"]["retried_count"])
            if event["event"] == "TASK_RETRY":
                assert rest["reason"] == "Retry in 0s"
                assert rest["retry_countdown"] == 0
                assert rest["max_retry"] == 5
                assert "raise self.retry(countdown=0)" in rest["what"]
                assert rest["exc_type"] is None  # retry() without an exception
                assert rest["runtime"] >= 0


def test_next_attempt_starting_before_the_retry_is_traced(e2e: Publisher) -> None:
    """The next attempt starts in the other pool process before the retry is traced; both are reported."""
    result = e2e.app.send_task("e2e.slow_retry", args=[1])
    assert result.get(timeout=30) == 1

    # The overlap really happened: the second attempt even ended before the first one's retry was traced.
    seen = e2e.trace.wait({result.id: ["TASK_RETRY", "TASK_END"]})[result.id]
    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_START", "TASK_END", "TASK_RETRY"]
    first_start, second_start, end, retry = seen[1:]
    assert [e["details"]["retried_count"] for e in (first_start, second_start, end, retry)] == [0, 1, 1, 0]
    assert first_start["details"]["pid"] == retry["details"]["pid"] != second_start["details"]["pid"]
    assert second_start["details"]["pid"] == end["details"]["pid"]
    task = Expected(
        task_id=result.id, task_name="e2e.slow_retry", queue=e2e.layout.two, parent=None, args=[1]
    )
    for event in seen[1:]:
        check_execution(event, e2e, task, retried_count=event["details"]["retried_count"])
    assert retry["details"]["runtime"] >= 1.5


def test_autoretry_for(e2e: Publisher) -> None:
    """``autoretry_for``: each retry is a TASK_RETRY naming the exception and the countdown, then TASK_END."""
    result = e2e.app.send_task("e2e.auto_flaky", args=[2])
    assert result.get(timeout=30) == 2
    seen = e2e.trace.wait({result.id: ["TASK_END"]})[result.id]

    assert seen[0]["event"] == "TASK_SCHEDULE" and names(seen).count("TASK_SCHEDULE") == 1
    assert by_attempt(seen) == {
        0: ["TASK_START", "TASK_RETRY"],
        1: ["TASK_START", "TASK_RETRY"],
        2: ["TASK_START", "TASK_END"],
    }
    task = Expected(
        task_id=result.id, task_name="e2e.auto_flaky", queue=e2e.layout.two, parent=None, args=[2]
    )
    retries = [event for event in seen if event["event"] == "TASK_RETRY"]
    for count, event in enumerate(retries):
        rest = check_execution(event, e2e, task, retried_count=count)
        assert rest["exc_type"] == "KeyError"
        assert rest["reason"] == f"Retry in 0.2s: KeyError('attempt {count}')"
        assert rest["retry_countdown"] == 0.2
        assert rest["max_retry"] == 3
        assert f"KeyError: 'attempt {count}'" in rest["what"]


def test_failure_is_start_then_failure(e2e: Publisher) -> None:
    """A task that raises: START, then one TASK_FAILURE with the exception type and traceback, and no END."""
    result = e2e.app.send_task("e2e.boom", args=["kaboom"])
    seen = e2e.trace.wait({result.id: ["TASK_FAILURE"]}, settle=SETTLE)[result.id]
    assert result.state == states.FAILURE

    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_FAILURE"]
    task = Expected(
        task_id=result.id, task_name="e2e.boom", queue=e2e.layout.one, parent=None, args=["kaboom"]
    )
    check_execution(seen[1], e2e, task)
    rest = check_execution(seen[2], e2e, task)
    assert rest["exc_type"] == "ValueError"
    assert rest["what"].startswith("Traceback (most recent call last):")
    assert rest["what"].rstrip().endswith("ValueError: kaboom")
    assert "raise ValueError(message)" in rest["what"]
    assert rest["max_retry"] == 3
    assert seen[2]["details"]["pid"] == seen[1]["details"]["pid"]  # reported where it ran


def test_child_published_from_a_task(e2e: Publisher) -> None:
    """A task publishing a task: the child's SCHEDULE (in the worker) and START name it as parent."""
    spawner = e2e.app.send_task("e2e.parent", args=["e2e.add", [20, 22]])
    child = spawner.get(timeout=30)
    assert e2e.app.AsyncResult(child).get(timeout=30) == 42
    events = e2e.trace.wait({spawner.id: ["TASK_END"], child: ["TASK_END"]})

    assert names(events[spawner.id]) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    seen = events[child]
    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    task = Expected(
        task_id=child, task_name="e2e.add", queue=e2e.layout.one, parent=spawner.id, args=[20, 22]
    )
    check_schedule(seen[0], task)
    check_execution(seen[1], e2e, task)
    check_execution(seen[2], e2e, task)
    # Published from inside the parent, in the pool process that ran it.
    parent_start = events[spawner.id][1]
    assert parse_time(parent_start["time"]) <= parse_time(seen[0]["time"])


def test_hard_time_limit_is_one_failure(e2e: Publisher) -> None:
    """A hard time limit: START in the pool process, then exactly one TASK_FAILURE from the main process."""
    top = e2e.send("e2e.sleepy", 5)
    spawner = e2e.app.send_task("e2e.parent", args=["e2e.sleepy", [5]])
    child = spawner.get(timeout=30)
    events = e2e.trace.wait({top: ["TASK_FAILURE"], child: ["TASK_FAILURE"]}, settle=SETTLE)

    for task_id, parent in ((top, None), (child, spawner.id)):
        seen = events[task_id]
        assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_FAILURE"], "reported once, never an END"
        task = Expected(
            task_id=task_id, task_name="e2e.sleepy", queue=e2e.layout.two, parent=parent, args=[5]
        )
        check_execution(seen[1], e2e, task)
        rest = check_execution(seen[2], e2e, task)
        assert rest["exc_type"] == "TimeLimitExceeded"
        assert "TimeLimitExceeded" in rest["what"]
        assert rest["max_retry"] == 3
        assert seen[1]["details"]["pid"] != e2e.worker.pid
        assert seen[2]["details"]["pid"] == e2e.worker.pid  # the pool process was killed
        assert e2e.app.AsyncResult(task_id).state == states.FAILURE


def test_hard_time_limit_of_a_retried_attempt(e2e: Publisher) -> None:
    """A retried attempt killed by the time limit: one FAILURE, from the main process, true parent."""
    top = e2e.send("e2e.retry_then_hang")
    spawner = e2e.app.send_task("e2e.parent", args=["e2e.retry_then_hang", []])
    child = spawner.get(timeout=30)
    events = e2e.trace.wait({top: ["TASK_FAILURE"], child: ["TASK_FAILURE"]}, settle=SETTLE)

    for task_id, parent in ((top, None), (child, spawner.id)):
        seen = events[task_id]
        assert names(seen).count("TASK_SCHEDULE") == 1
        assert by_attempt(seen) == {0: ["TASK_START", "TASK_RETRY"], 1: ["TASK_START", "TASK_FAILURE"]}
        # parent: Celery's parent_id of the retry message is the task itself; ours is the true parent.
        task = Expected(
            task_id=task_id, task_name="e2e.retry_then_hang", queue=e2e.layout.two, parent=parent, args=[]
        )
        for event in seen[1:]:
            check_execution(event, e2e, task, retried_count=event["details"]["retried_count"])
        (failure,) = (event["details"] for event in seen if event["event"] == "TASK_FAILURE")
        assert failure["exc_type"] == "TimeLimitExceeded"
        assert failure["pid"] == e2e.worker.pid


def test_lost_worker_is_one_failure(e2e: Publisher) -> None:
    """A pool process dying mid-task: START, then one TASK_FAILURE (WorkerLostError) from the main process.

    The process itself is reported too, once: WORKER_PROCESS_LOST names the task it ran (both events are
    handed off by the main process, so their order in the file is not fixed).
    """
    task_id = e2e.send("e2e.die")
    seen = e2e.trace.wait({task_id: ["TASK_FAILURE", "WORKER_PROCESS_LOST"]}, settle=SETTLE)[task_id]

    assert names(seen)[:2] == ["TASK_SCHEDULE", "TASK_START"]
    assert sorted(names(seen)[2:]) == ["TASK_FAILURE", "WORKER_PROCESS_LOST"]
    task = Expected(task_id=task_id, task_name="e2e.die", queue=e2e.layout.one, parent=None, args=[])
    check_execution(seen[1], e2e, task)
    (failure,) = (event for event in seen if event["event"] == "TASK_FAILURE")
    rest = check_execution(failure, e2e, task)
    assert rest["exc_type"] == "WorkerLostError"
    assert "exitcode 13" in rest["what"]
    assert failure["details"]["pid"] == e2e.worker.pid
    (lost,) = (event["details"] for event in seen if event["event"] == "WORKER_PROCESS_LOST")
    assert lost == {
        "hostname": e2e.worker.node_name,
        "pid": e2e.worker.pid,
        "process_pid": seen[1]["details"]["pid"],
        "exitcode": 13,
        "signal": None,
        "task_name": "e2e.die",
        "task_id": task_id,
    }


def test_reject_without_requeue_is_one_failure(e2e: Publisher) -> None:
    """``Reject(requeue=False)``: START, then one TASK_FAILURE (from the main process), no END or RETRY."""
    task_id = e2e.send("e2e.reject", "not for us")
    seen = e2e.trace.wait({task_id: ["TASK_FAILURE"]}, settle=SETTLE)[task_id]

    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_FAILURE"]
    task = Expected(
        task_id=task_id, task_name="e2e.reject", queue=e2e.layout.one, parent=None, args=["not for us"]
    )
    check_execution(seen[1], e2e, task)
    rest = check_execution(seen[2], e2e, task)
    assert rest["exc_type"] == "Reject"
    assert "not for us" in rest["what"]
    assert seen[2]["details"]["pid"] == e2e.worker.pid


def test_reject_with_requeue_is_a_retry(e2e: Publisher, tmp_path: Path) -> None:
    """``Reject(requeue=True)``: START, TASK_RETRY (no END or FAILURE), then the redelivery's START, END."""
    marker = str(tmp_path / "rejected-once")
    result = e2e.app.send_task("e2e.reject_once", args=[marker])
    assert result.get(timeout=30) == "second delivery"
    seen = e2e.trace.wait({result.id: ["TASK_END"]}, settle=SETTLE)[result.id]

    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_RETRY", "TASK_START", "TASK_END"]
    task = Expected(
        task_id=result.id, task_name="e2e.reject_once", queue=e2e.layout.one, parent=None, args=[marker]
    )
    check_schedule(seen[0], task)
    for event in seen[1:]:
        check_execution(event, e2e, task)  # a redelivery is not a retry: retried_count stays 0
    retry = seen[2]["details"]
    assert retry["exc_type"] == "Reject"
    assert "requeue" in retry["reason"]


def test_secrets_in_arguments_never_reach_the_file(e2e: Publisher) -> None:
    """A ``password`` keyword argument is masked by the default redaction, in the client and in the worker."""
    result = e2e.app.send_task("e2e.login", kwargs={"user": "ada", "password": "hunter2-e2e"})
    assert result.get(timeout=30) == "ada logged in"
    seen = e2e.trace.wait({result.id: ["TASK_END"]})[result.id]

    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    for event in seen:
        kwargs = event["details"]["node_args"]["kwargs"]
        assert kwargs["user"] == "ada"
        assert kwargs["password"] == REDACTED
    assert "hunter2-e2e" not in e2e.trace.text()


def test_ignore_result_reports_the_discarded_result(e2e: Publisher) -> None:
    """An ``ignore_result`` task returning a value: TASK_DISCARD_RESULT with the value, then TASK_END."""
    task_id = e2e.send("e2e.discard", "precious")
    seen = e2e.trace.wait({task_id: ["TASK_END"]})[task_id]

    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_DISCARD_RESULT", "TASK_END"]
    task = Expected(
        task_id=task_id, task_name="e2e.discard", queue=e2e.layout.two, parent=None, args=["precious"]
    )
    discard = check_execution(seen[2], e2e, task)
    assert discard["result"] == {"kept": "precious"}
    end = check_execution(seen[3], e2e, task)
    assert set(end) == {"runtime"}


@pytest.mark.parametrize(
    ("task_name", "routing_key", "queue_attr"),
    [("e2e.topic_job", TOPIC_ROUTING_KEY, "topic"), ("e2e.direct_job", DIRECT_ROUTING_KEY, "direct")],
    ids=["topic-exchange", "direct-exchange"],
)
def test_queue_is_the_queue_name_not_the_routing_key(
    e2e: Publisher, task_name: str, routing_key: str, queue_attr: str
) -> None:
    """Routed through an exchange of its own with another routing key, ``queue`` is still the queue's name."""
    queue = getattr(e2e.layout, queue_attr)
    assert routing_key != queue
    result = e2e.app.send_task(task_name, args=["2024-01-01"])
    result.get(timeout=30)
    seen = e2e.trace.wait({result.id: ["TASK_END"]})[result.id]

    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    task = Expected(task_id=result.id, task_name=task_name, queue=queue, parent=None, args=["2024-01-01"])
    check_schedule(seen[0], task)
    check_execution(seen[1], e2e, task)
    check_execution(seen[2], e2e, task)


def test_both_pool_processes_trace_to_one_file(e2e: Publisher) -> None:
    """With two pool processes busy at once, both append to the file; each attempt ends where it started."""
    results = [e2e.app.send_task("e2e.nap", args=[0.4]) for _ in range(6)]
    pids = {result.get(timeout=30) for result in results}
    events = e2e.trace.wait({result.id: ["TASK_END"] for result in results})

    assert len(pids) == 2, "both pool processes ran tasks"
    for result in results:
        seen = events[result.id]
        assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
        assert seen[1]["details"]["pid"] == seen[2]["details"]["pid"] == result.get(timeout=1)
    assert {events[result.id][1]["details"]["pid"] for result in results} == pids


def test_every_line_is_one_whole_event(e2e: Publisher) -> None:
    """Long events written by two processes at once never interleave: every line of the file is one event."""
    # Below the truncation limit, so each line is several kilobytes; with characters that are line
    # breaks to some readers (U+2028, U+0085) but must stay inside their JSON string.
    value = "x" * 1800 + "\u2028é\x85ü"
    ids = [e2e.send("e2e.discard", f"{number:04d}{value}") for number in range(24)]
    events = e2e.trace.wait({task_id: ["TASK_END"] for task_id in ids})

    for number, task_id in enumerate(ids):
        seen = events[task_id]
        assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_DISCARD_RESULT", "TASK_END"]
        assert seen[2]["details"]["result"] == {"kept": f"{number:04d}{value}"}
    assert e2e.trace.text().endswith("\n"), "the last line is whole"
    records = e2e.trace.records()  # every line parses as one event with exactly the four keys
    assert len(records) == e2e.trace.text().count("\n")
    for record in records:
        parse_time(record["time"])
