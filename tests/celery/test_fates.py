"""A message's fate outside an attempt, from a real in-process worker (solo pool, memory broker).

The same Celery consumer code as in a prefork worker decides these fates; the e2e suite runs them on
real brokers and pool processes. Fate events are handed off by the worker's main process, so each test
waits for them.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from kombu import Connection

from selinon_celery_trace.testing import CapturedEvents

from .conftest import wait_for


def of_task(events: CapturedEvents, task_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The events of one task id, in order."""
    return [(name, details) for name, details in events if details.get("task_id") == task_id]


def test_revoked_before_start(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """``revoke(id)`` of a task waiting for its ETA: SCHEDULE, then one TASK_REVOKED, never a START."""
    result = tasks.add.apply_async((1, 2), countdown=1)
    result.revoke()
    assert wait_for(lambda: [n for n, _ in of_task(traced, result.id)] == ["TASK_SCHEDULE", "TASK_REVOKED"])
    wait_for(lambda: False, timeout=1.5)  # past the ETA: nothing else comes
    assert [name for name, _ in of_task(traced, result.id)] == ["TASK_SCHEDULE", "TASK_REVOKED"]
    (_, revoked) = of_task(traced, result.id)[1]
    assert revoked["task_name"] == "tests.add" and revoked["queue"] == "celery"
    assert revoked["node_args"] == {"args": [1, 2], "kwargs": {}}
    assert revoked["hostname"] == worker.hostname
    assert (revoked["started"], revoked["terminated"], revoked["signal"]) == (False, False, None)
    assert revoked["reason"] == "revoked by task id"


def test_expired_before_start(traced: CapturedEvents, tasks: SimpleNamespace, worker: Any) -> None:
    """A task whose ``expires`` passes before its ETA: SCHEDULE with ``expires``, then TASK_EXPIRED."""
    result = tasks.add.apply_async((2, 2), countdown=1, expires=0.5)
    assert wait_for(lambda: [n for n, _ in of_task(traced, result.id)] == ["TASK_SCHEDULE", "TASK_EXPIRED"])
    (_, schedule), (_, expired) = of_task(traced, result.id)
    assert expired["expires"] == schedule["expires"]
    assert 0.3 < expired["late"] < 5
    assert "started" not in expired and "reason" not in expired


def test_unregistered_task(traced: CapturedEvents, celery_session_app: Any, worker: Any) -> None:
    """A task name the worker does not know: TASK_REJECTED (unregistered), with the message's keys."""
    result = celery_session_app.send_task("tests.nobody_has_me", args=[1], kwargs={"x": 2})
    assert wait_for(lambda: [n for n, _ in of_task(traced, result.id)] == ["TASK_SCHEDULE", "TASK_REJECTED"])
    (_, rejected) = of_task(traced, result.id)[1]
    assert rejected["kind"] == "unregistered" and rejected["exc_type"] == "NotRegistered"
    assert rejected["task_name"] == "tests.nobody_has_me" and rejected["queue"] == "celery"
    assert rejected["node_args"] == {"args": [1], "kwargs": {"x": 2}}


def test_undecodable_message(traced: CapturedEvents, celery_session_app: Any, worker: Any) -> None:
    """A body that cannot be decoded (no signal in Celery): TASK_REJECTED (undecodable), once."""
    task_id = f"raw-{uuid.uuid4()}"
    with Connection(celery_session_app.conf.broker_url) as connection:
        connection.Producer().publish(
            b"{oops",
            exchange="celery",
            routing_key="celery",
            content_type="application/json",
            content_encoding="utf-8",
            headers={"task": "tests.add", "id": task_id, "retries": 2},
        )
    assert wait_for(lambda: [n for n, _ in of_task(traced, task_id)] == ["TASK_REJECTED"])
    (_, rejected) = of_task(traced, task_id)[0]
    assert (rejected["kind"], rejected["exc_type"]) == ("undecodable", "DecodeError")
    assert rejected["task_name"] == "tests.add" and rejected["retried_count"] == 2
    assert rejected["node_args"] is None and rejected["content_type"] == "application/json"


def test_revoked_canvas_member_keeps_its_canvas_keys(
    traced: CapturedEvents, tasks: SimpleNamespace, worker: Any
) -> None:
    """A group member revoked before it ran: its TASK_REVOKED has the member's canvas keys."""
    from celery import group

    result = group(tasks.add.s(1, 1), tasks.add.s(2, 2)).apply_async(countdown=1)
    kept, dropped = result.results
    dropped.revoke()
    assert kept.get(timeout=10) == 2
    assert wait_for(lambda: [n for n, _ in of_task(traced, dropped.id)] == ["TASK_SCHEDULE", "TASK_REVOKED"])
    (_, schedule), (_, revoked) = of_task(traced, dropped.id)
    canvas = ("root_id", "group_id", "group_index", "chord_id", "callback_of", "errback_of")
    assert {key: revoked[key] for key in canvas} == {key: schedule[key] for key in canvas}
    assert revoked["group_id"] == result.id and revoked["group_index"] == 1


def test_a_revoked_replacement_is_told_as_the_replacement(
    traced: CapturedEvents, tasks: SimpleNamespace, worker: Any
) -> None:
    """``Task.replace`` then a revoke before the replacement starts: its TASK_REVOKED names the replaced
    task and the replacement's nesting, as its TASK_START would (the CLI and OpenTelemetry key on them)."""
    result = tasks.replace_later.delay(1)
    assert wait_for(lambda: ("TASK_END", "tests.add") in [(n, d.get("replaced_by")) for n, d in traced])
    result.revoke()
    assert wait_for(lambda: [n for n, _ in of_task(traced, result.id)][-1] == "TASK_REVOKED")
    names = [name for name, _ in of_task(traced, result.id)]
    # The replacement is published from inside the replaced attempt, before that attempt's end.
    assert names == ["TASK_SCHEDULE", "TASK_START", "TASK_SCHEDULE", "TASK_END", "TASK_REVOKED"]
    (_, revoked) = of_task(traced, result.id)[-1]
    assert revoked["task_name"] == "tests.add" and revoked["started"] is False
    assert (revoked["replaces"], revoked["replacement"]) == ("tests.replace_later", 1)
