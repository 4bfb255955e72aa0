"""TASK_* events from a real in-process Celery worker, for every outcome a task can have."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import MaxRetriesExceededError

from selinon_celery_trace import Trace
from selinon_celery_trace.celery.runtime import only_json
from selinon_celery_trace.core.record import current_message
from selinon_celery_trace.testing import CapturedEvents

from .conftest import wait_for

TERMINAL = ("TASK_END", "TASK_FAILURE", "TASK_RETRY")


def by_task(events: CapturedEvents, task_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The events of one task id, in order."""
    return [(name, details) for name, details in events if details.get("task_id") == task_id]


def names(events: CapturedEvents, task_id: str) -> list[str]:
    """The event names of one task id, in order."""
    return [name for name, _ in by_task(events, task_id)]


def settle(events: CapturedEvents, task_id: str, terminals: int = 1) -> list[str]:
    """Wait until the task has ``terminals`` terminal events, then return its event names."""
    wait_for(lambda: sum(n in TERMINAL for n in names(events, task_id)) >= terminals)
    return names(events, task_id)


def test_success(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """A successful task: SCHEDULE, START, END, with the SPEC's fields filled in."""
    result = tasks.add.delay(2, 3)
    assert result.get(timeout=10) == 5
    assert settle(traced, result.id) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    (_, schedule), (_, start), (_, end) = by_task(traced, result.id)
    assert schedule["task_name"] == "tests.add" and schedule["queue"] == "celery"
    assert schedule["parent"] is None and schedule["node_args"] == {"args": [2, 3], "kwargs": {}}
    assert start["queue"] == "celery" and start["parent"] is None and start["retried_count"] == 0
    assert start["flow_name"] is None and start["dispatcher_id"] is None
    assert start["hostname"] == worker.hostname
    assert end["runtime"] >= 0 and {k: end[k] for k in start} == start


def test_failure(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """A raising task: START then one FAILURE with the traceback and exception type; no END."""
    result = tasks.fail.delay()
    with pytest.raises(ValueError):
        result.get(timeout=10)
    assert settle(traced, result.id) == ["TASK_SCHEDULE", "TASK_START", "TASK_FAILURE"]
    failure = traced.of("TASK_FAILURE")[0]
    assert failure["exc_type"] == "ValueError" and "ValueError: boom" in failure["what"]
    assert failure["max_retry"] == 3 and failure["queue"] == "celery"


def test_retry_then_success(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """self.retry(): one terminal event per attempt, one SCHEDULE, and never the task as its own parent."""
    result = tasks.retry_once.delay()
    assert result.get(timeout=10) == "ok"
    assert settle(traced, result.id, terminals=2) == [
        "TASK_SCHEDULE",
        "TASK_START",
        "TASK_RETRY",
        "TASK_START",
        "TASK_END",
    ]
    events = by_task(traced, result.id)
    retry = events[2][1]
    assert (
        retry["exc_type"] == "KeyError" and "transient" in retry["reason"] and retry["retry_countdown"] == 0
    )
    assert [d["retried_count"] for n, d in events if n == "TASK_START"] == [0, 1]
    assert all(d["parent"] is None for _, d in events)


def test_autoretry_until_failure(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """autoretry_for: RETRY for each allowed retry, then the final FAILURE."""
    result = tasks.auto.delay()
    with pytest.raises(ValueError):
        result.get(timeout=10)
    assert settle(traced, result.id, terminals=3)[1:] == [
        "TASK_START",
        "TASK_RETRY",
        "TASK_START",
        "TASK_RETRY",
        "TASK_START",
        "TASK_FAILURE",
    ]
    assert traced.of("TASK_FAILURE")[0]["retried_count"] == 2


def test_max_retries_exceeded(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """Exceeding max_retries ends the last attempt with FAILURE, not RETRY."""
    result = tasks.exhaust.delay()
    with pytest.raises(MaxRetriesExceededError):
        result.get(timeout=10)
    assert settle(traced, result.id, terminals=2)[1:] == [
        "TASK_START",
        "TASK_RETRY",
        "TASK_START",
        "TASK_FAILURE",
    ]
    assert traced.of("TASK_FAILURE")[0]["exc_type"] == "MaxRetriesExceededError"


def test_ignore_is_not_a_failure(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """Ignore ends the attempt with one END marked IGNORED."""
    result = tasks.ignore.delay()
    assert settle(traced, result.id) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    assert traced.of("TASK_END")[0]["state"] == "IGNORED"


def test_reject_without_requeue_is_one_failure(
    traced: CapturedEvents, tasks: SimpleNamespace, worker: Any
) -> None:
    """Reject(requeue=False): the worker reports the failure once, with the task's context."""
    result = tasks.reject.delay()
    assert settle(traced, result.id) == ["TASK_SCHEDULE", "TASK_START", "TASK_FAILURE"]
    failure = traced.of("TASK_FAILURE")[0]
    assert (
        failure["exc_type"] == "Reject"
        and failure["queue"] == "celery"
        and failure["task_name"] == "tests.reject"
    )


def test_discarded_result(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """A non-None result of an ignore_result task is reported as DISCARD_RESULT before END."""
    result = tasks.unstored.delay()
    assert settle(traced, result.id) == ["TASK_SCHEDULE", "TASK_START", "TASK_DISCARD_RESULT", "TASK_END"]
    assert traced.of("TASK_DISCARD_RESULT")[0]["result"] == {"answer": 42}


def test_stored_result_is_not_discarded(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """A result the backend stores gives no DISCARD_RESULT."""
    result = tasks.add.delay(1, 1)
    result.get(timeout=10)
    assert "TASK_DISCARD_RESULT" not in settle(traced, result.id)


def test_child_published_from_a_task(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """A task published from inside a task has the publisher as parent, in SCHEDULE and START."""
    parent = tasks.parent.delay()
    child_id = parent.get(timeout=10)
    settle(traced, child_id)
    (_, schedule), (_, start), _ = by_task(traced, child_id)
    assert schedule["parent"] == parent.id and start["parent"] == parent.id


def test_routed_queue_name(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """A task routed through its own exchange and routing key is reported with its queue's name."""
    result = tasks.report.delay()
    assert settle(traced, result.id) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    assert [d["queue"] for _, d in by_task(traced, result.id)] == ["reports", "reports", "reports"]


def test_arguments_are_redacted_and_truncated(
    traced: CapturedEvents, tasks: SimpleNamespace, worker: Any
) -> None:
    """Secrets in task kwargs are masked at any depth and long values truncated, in every event."""
    result = tasks.report.delay(user="ann", password="hunter2", nested={"api_key": "k"}, blob="x" * 5000)
    settle(traced, result.id)
    for _, details in by_task(traced, result.id):
        kwargs = details["node_args"]["kwargs"]
        assert kwargs["password"] == "[redacted]" and kwargs["nested"] == {"api_key": "[redacted]"}
        assert kwargs["user"] == "ann" and kwargs["blob"].endswith("...[truncated 2952 chars]")
    assert "hunter2" not in repr(list(traced))


def test_arguments_from_a_json_message_are_redacted(
    traced: CapturedEvents, tasks: SimpleNamespace, worker: Any, celery_session_app: Any
) -> None:
    """Small arguments decoded from the worker's JSON message take the dict-only check: still masked."""
    assert only_json(celery_session_app), "Celery's default accepts JSON only"
    result = tasks.report.delay(
        options={"lang": "en", "db": {"Password": "p1"}}, tags=["a{", {"api_token": "t"}], user="ann"
    )
    settle(traced, result.id)
    for _, details in by_task(traced, result.id):
        assert details["node_args"] == {
            "args": [],
            "kwargs": {
                "options": {"lang": "en", "db": {"Password": "[redacted]"}},
                "tags": ["a{", {"api_token": "[redacted]"}],
                "user": "ann",
            },
        }
    assert "p1" not in repr(list(traced))


def test_user_headers_are_kept(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """A header the user set reaches the task unchanged, next to the flow context."""
    result = tasks.headers.apply_async(
        headers={"x_user_header": "mine", "selinon_trace": {"flow_name": "f", "dispatcher_id": "d1"}}
    )
    assert result.get(timeout=10) == "mine"
    start = dict(by_task(traced, result.id))["TASK_START"]
    assert start["flow_name"] == "f" and start["dispatcher_id"] == "d1"


def test_eager_mode_has_no_schedule_and_no_queue(traced: CapturedEvents, tasks: SimpleNamespace) -> None:
    """apply() runs in-process: START and END with queue None, and no SCHEDULE (nothing is published)."""
    result = tasks.add.apply((1, 2))
    assert names(traced, result.id) == ["TASK_START", "TASK_END"]
    assert traced.of("TASK_START")[0]["queue"] is None


def test_eager_failure_is_one_failure(traced: CapturedEvents, tasks: SimpleNamespace) -> None:
    """apply() of a raising task: START then one FAILURE with the task's own exception."""
    result = tasks.fail.apply()
    assert result.failed()
    assert names(traced, result.id) == ["TASK_START", "TASK_FAILURE"]
    assert traced.of("TASK_FAILURE")[0]["exc_type"] == "ValueError"


def test_eager_propagation_is_one_failure_and_the_task_error_is_raised(
    traced: CapturedEvents, tasks: SimpleNamespace
) -> None:
    """apply(throw=True) re-raises the task's exception unchanged, and the attempt still gets its FAILURE."""
    with pytest.raises(ValueError, match="boom"):
        tasks.fail.apply(task_id="eager-throw", throw=True)
    assert names(traced, "eager-throw") == ["TASK_START", "TASK_FAILURE"]
    failure = traced.of("TASK_FAILURE")[0]
    assert failure["exc_type"] == "ValueError" and "ValueError: boom" in failure["what"]


def test_eager_ignore_and_retry(traced: CapturedEvents, tasks: SimpleNamespace) -> None:
    """apply() of Ignore ends the attempt with state IGNORED; a retrying task's attempts each end once."""
    ignored = tasks.ignore.apply()
    assert names(traced, ignored.id) == ["TASK_START", "TASK_END"]
    assert traced.of("TASK_END")[0]["state"] == "IGNORED"
    retried = tasks.retry_once.apply()
    assert retried.get() is not None
    found = names(traced, retried.id)
    assert found.count("TASK_START") == sum(name in TERMINAL for name in found) == 2, found
    assert found[-1] == "TASK_END" and "TASK_RETRY" in found


class _QueueWaits:
    """A sink that uses queue waits: while it is registered, published messages carry their time."""

    wants_queue_wait = True

    def __call__(self, event: int, details: Any) -> None:
        pass


def test_queue_wait_while_a_sink_uses_it(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """With a sink that wants queue waits, TASK_START says how long the message waited; without, no key."""
    plain = tasks.add.delay(1, 1)
    assert plain.get(timeout=10) == 2
    settle(traced, plain.id)
    assert "queue_wait" not in by_task(traced, plain.id)[1][1]

    sink = Trace.add_sink(_QueueWaits())
    try:
        waited = tasks.add.delay(2, 2)
        assert waited.get(timeout=10) == 4
        settle(traced, waited.id)
    finally:
        Trace.remove_sink(sink)
    (_, start), (_, end) = by_task(traced, waited.id)[1:]
    assert 0 <= start["queue_wait"] < 10 and end["queue_wait"] == start["queue_wait"]


class _Carrier:
    """A sink that carries a value of its own across the broker, in the task message's headers."""

    uses_message = True

    def __init__(self) -> None:
        self.read: dict[str, Any] = {}

    def receive(self, event: int, record: Any) -> None:
        message = current_message()
        task_id = record["details"].get("task_id")
        if event == Trace.TASK_SCHEDULE and message is not None:
            message["x-carried"] = f"from-publish-{task_id}"
        elif event == Trace.TASK_START and message is not None:
            self.read[task_id] = message.get("x-carried")


def test_a_sink_can_carry_context_in_the_message(
    traced: CapturedEvents, tasks: SimpleNamespace, worker: Any
) -> None:
    """A sink with uses_message adds a header at TASK_SCHEDULE and reads it back at TASK_START."""
    carrier = _Carrier()
    sink = Trace.add_sink(carrier)
    try:
        result = tasks.add.delay(3, 4)
        assert result.get(timeout=10) == 7
        settle(traced, result.id)
    finally:
        Trace.remove_sink(sink)
    assert carrier.read == {result.id: f"from-publish-{result.id}"}
    assert current_message() is None
