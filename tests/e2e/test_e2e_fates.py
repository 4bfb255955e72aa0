"""End to end: a message's fate outside an attempt, on a real prefork worker (Redis and RabbitMQ).

Revoked before it started or terminated while it ran, expired while queued, rejected (an unregistered
task name, an undecodable body, no task message at all), and a pool process that died: each message
gets exactly one fate event, from the worker's main process, with the keys a reader needs.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from typing import Any

import pytest
from celery import states
from kombu import Connection

from tests.e2e.support import EXECUTION_KEYS, Publisher, names, parse_time

pytestmark = pytest.mark.e2e

# Events of the worker's main process are handed to a thread: wait this long for a duplicate.
SETTLE = 1.5


def check_message(
    event: dict[str, Any], e2e: Publisher, task_id: str, task_name: str, args: Any, queue: str = ""
) -> None:
    """The task keys a fate event carries, as the message told them, reported by the main process."""
    details = event["details"]
    assert {key: details[key] for key in MESSAGE_KEYS} == {
        "task_name": task_name,
        "task_id": task_id,
        "queue": queue or e2e.layout.one,
        "parent": None,
        "dispatcher_id": None,
        "flow_name": None,
        "node_args": args,
        "retried_count": 0,
        "hostname": e2e.worker.node_name,
        "pid": e2e.worker.pid,
    }
    parse_time(event["time"])


MESSAGE_KEYS = tuple(sorted(EXECUTION_KEYS))


def lost_processes(e2e: Publisher, process_pid: int) -> list[dict[str, Any]]:
    """The WORKER_PROCESS_LOST events of one pool process."""
    return [
        record["details"]
        for record in e2e.trace.records()
        if record["event"] == "WORKER_PROCESS_LOST" and record["details"]["process_pid"] == process_pid
    ]


def test_revoked_before_start_is_one_revoked_and_never_starts(e2e: Publisher) -> None:
    """``revoke(id)`` of a waiting task: TASK_SCHEDULE, then one TASK_REVOKED (started: false), no START."""
    result = e2e.app.send_task("e2e.add", args=[2, 3], countdown=2)
    e2e.app.control.revoke(result.id)
    seen = e2e.trace.wait({result.id: ["TASK_REVOKED"]}, settle=SETTLE + 2)[result.id]

    assert names(seen) == ["TASK_SCHEDULE", "TASK_REVOKED"]
    revoked = seen[1]
    check_message(revoked, e2e, result.id, "e2e.add", {"args": [2, 3], "kwargs": {}})
    assert {key: revoked["details"][key] for key in ("started", "terminated", "signum", "signal")} == {
        "started": False,
        "terminated": False,
        "signum": None,
        "signal": None,
    }
    assert revoked["details"]["reason"] == "revoked by task id"
    assert result.state == states.REVOKED


def test_revoked_by_stamped_header_says_which(e2e: Publisher) -> None:
    """``revoke_by_stamped_headers``: the reason names the stamp that matched."""
    batch = f"b-{uuid.uuid4().hex[:8]}"
    result = e2e.app.send_task("e2e.add", args=[1, 1], countdown=2, stamped_headers=["batch"], batch=batch)
    e2e.app.control.revoke_by_stamped_headers({"batch": batch})
    seen = e2e.trace.wait({result.id: ["TASK_REVOKED"]}, settle=SETTLE + 2)[result.id]

    assert names(seen) == ["TASK_SCHEDULE", "TASK_REVOKED"]
    assert seen[1]["details"]["reason"] == f"revoked by stamped header batch={batch!r}"
    assert seen[1]["details"]["started"] is False


def test_revoke_with_terminate_ends_the_running_attempt(e2e: Publisher) -> None:
    """``revoke(id, terminate=True)`` of a running task: START, then TASK_REVOKED as its only end.

    The killed pool process is no lost process, and Celery's ``Terminated`` is no TASK_FAILURE.
    """
    task_id = e2e.send("e2e.nap", 30)
    start = e2e.trace.wait({task_id: ["TASK_START"]})[task_id][1]
    e2e.app.control.revoke(task_id, terminate=True)
    seen = e2e.trace.wait({task_id: ["TASK_REVOKED"]}, settle=SETTLE + 1)[task_id]

    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_REVOKED"]
    revoked = seen[2]
    check_message(revoked, e2e, task_id, "e2e.nap", {"args": [30], "kwargs": {}}, e2e.layout.two)
    details = revoked["details"]
    assert (details["started"], details["terminated"]) == (True, True)
    assert (details["signum"], details["signal"]) == (signal.SIGTERM.value, "SIGTERM")
    assert details["reason"] == "revoked by task id"
    assert parse_time(start["time"]) <= parse_time(revoked["time"])
    assert lost_processes(e2e, start["details"]["pid"]) == []
    assert e2e.app.AsyncResult(task_id).state == states.REVOKED


def test_expired_while_queued_is_one_expired(e2e: Publisher) -> None:
    """A task whose ``expires`` passes while it waits (for its ETA): SCHEDULE (with ``expires``), EXPIRED."""
    result = e2e.app.send_task("e2e.add", args=[4, 4], countdown=2, expires=1)
    seen = e2e.trace.wait({result.id: ["TASK_EXPIRED"]}, settle=SETTLE)[result.id]

    assert names(seen) == ["TASK_SCHEDULE", "TASK_EXPIRED"]
    schedule, expired = seen[0]["details"], seen[1]
    check_message(expired, e2e, result.id, "e2e.add", {"args": [4, 4], "kwargs": {}})
    deadline = parse_time(schedule["expires"])
    assert parse_time(expired["details"]["expires"]) == deadline
    assert (deadline - parse_time(seen[0]["time"])).total_seconds() == pytest.approx(1, abs=0.05)
    # Found when its ETA came, a second after the deadline.
    assert 0.5 <= expired["details"]["late"] < 10
    assert parse_time(expired["time"]) > deadline
    assert result.state == states.REVOKED


def test_schedule_without_expires_has_no_expires_key(e2e: Publisher) -> None:
    """``expires`` is only there when the task was given one."""
    result = e2e.app.send_task("e2e.add", args=[1, 2])
    assert result.get(timeout=30) == 3
    seen = e2e.trace.wait({result.id: ["TASK_END"]})[result.id]
    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
    assert "expires" not in seen[0]["details"] and "periodic" not in seen[0]["details"]


def test_unregistered_task_is_one_rejected(e2e: Publisher) -> None:
    """A message for a task name the worker does not know: SCHEDULE, then one TASK_REJECTED (unregistered)."""
    result = e2e.app.send_task("e2e.not_registered", args=[7])
    seen = e2e.trace.wait({result.id: ["TASK_REJECTED"]}, settle=SETTLE)[result.id]

    assert names(seen) == ["TASK_SCHEDULE", "TASK_REJECTED"]
    rejected = seen[1]
    check_message(rejected, e2e, result.id, "e2e.not_registered", {"args": [7], "kwargs": {}})
    details = rejected["details"]
    assert details["kind"] == "unregistered"
    assert details["exc_type"] == "NotRegistered"
    assert details["reason"] == "task 'e2e.not_registered' is not registered in this worker"
    assert (details["content_type"], details["content_encoding"]) == ("application/json", "utf-8")
    assert result.state == states.FAILURE


def _publish_raw(url: str, queue: str, body: bytes, headers: dict[str, Any]) -> None:
    with Connection(url, connect_timeout=5) as connection:
        connection.Producer().publish(
            body,
            exchange="",
            routing_key=queue,
            content_type="application/json",
            content_encoding="utf-8",
            headers=headers,
            retry=True,
        )


def test_undecodable_and_foreign_messages_are_rejected_once_each(e2e: Publisher) -> None:
    """Raw messages: an undecodable body with task headers, one with none, and a body that is no task."""
    task_id = f"raw-{uuid.uuid4()}"
    marker = uuid.uuid4().hex
    url, queue = e2e.worker.broker.url, e2e.layout.one
    _publish_raw(url, queue, b"\x00not json{", {"task": "e2e.add", "id": task_id, "root_id": task_id})
    _publish_raw(url, queue, b"{not json either", {"marker": marker})
    _publish_raw(url, queue, b'{"hello": "world"}', {"marker": marker})

    seen = e2e.trace.wait({task_id: ["TASK_REJECTED"]}, settle=SETTLE)[task_id]
    assert names(seen) == ["TASK_REJECTED"]
    check_message(seen[0], e2e, task_id, "e2e.add", None)  # never decoded: no arguments
    details = seen[0]["details"]
    assert (details["kind"], details["exc_type"]) == ("undecodable", "DecodeError")
    assert details["reason"].startswith("Expecting value")
    assert (details["content_type"], details["content_encoding"]) == ("application/json", "utf-8")

    anonymous = e2e.trace.matching(
        lambda r: r["event"] == "TASK_REJECTED" and r["details"]["task_id"] is None, count=2, settle=SETTLE
    )
    assert sorted(r["details"]["kind"] for r in anonymous) == ["not_a_task", "undecodable"]
    for record in anonymous:
        assert record["details"]["queue"] == queue
        assert record["details"]["task_name"] is None
        assert record["details"]["pid"] == e2e.worker.pid


def test_pool_process_killed_mid_task_is_reported_once(e2e: Publisher) -> None:
    """SIGKILL of the pool process running a task: WORKER_PROCESS_LOST with the task, its TASK_FAILURE."""
    task_id = e2e.send("e2e.nap", 30)
    start = e2e.trace.wait({task_id: ["TASK_START"]})[task_id][1]
    process_pid = start["details"]["pid"]
    os.kill(process_pid, signal.SIGKILL)
    seen = e2e.trace.wait({task_id: ["TASK_FAILURE", "WORKER_PROCESS_LOST"]}, settle=SETTLE)[task_id]

    assert names(seen)[:2] == ["TASK_SCHEDULE", "TASK_START"]
    assert sorted(names(seen)[2:]) == ["TASK_FAILURE", "WORKER_PROCESS_LOST"]
    (failure,) = (event["details"] for event in seen if event["event"] == "TASK_FAILURE")
    assert failure["exc_type"] == "WorkerLostError"
    assert lost_processes(e2e, process_pid) == [
        {
            "hostname": e2e.worker.node_name,
            "pid": e2e.worker.pid,
            "process_pid": process_pid,
            "exitcode": -signal.SIGKILL.value,
            "signal": "SIGKILL",
            "task_name": "e2e.nap",
            "task_id": task_id,
        }
    ]


def _pool_children(worker_pid: int) -> list[int]:
    with open(f"/proc/{worker_pid}/task/{worker_pid}/children", encoding="ascii") as handle:
        return [int(pid) for pid in handle.read().split()]


def test_idle_pool_process_killed_is_reported_without_a_task(e2e: Publisher) -> None:
    """SIGKILL of an idle pool process: one WORKER_PROCESS_LOST, with no task."""
    assert e2e.app.send_task("e2e.add", args=[1, 1]).get(timeout=30) == 2  # the pool is up and idle
    victim = _pool_children(e2e.worker.pid)[0]
    os.kill(victim, signal.SIGKILL)
    found = e2e.trace.matching(
        lambda r: r["event"] == "WORKER_PROCESS_LOST" and r["details"]["process_pid"] == victim,
        settle=SETTLE,
    )
    assert [record["details"] for record in found] == [
        {
            "hostname": e2e.worker.node_name,
            "pid": e2e.worker.pid,
            "process_pid": victim,
            "exitcode": -signal.SIGKILL.value,
            "signal": "SIGKILL",
            "task_name": None,
            "task_id": None,
        }
    ]
    # The pool replaced it: the worker still runs tasks.
    deadline = time.monotonic() + 30
    while victim in _pool_children(e2e.worker.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert e2e.app.send_task("e2e.add", args=[2, 2]).get(timeout=30) == 4


def test_hard_time_limit_kill_is_no_lost_process(e2e: Publisher) -> None:
    """A pool process killed for a hard time limit is the task's TASK_FAILURE, not a lost process."""
    task_id = e2e.send("e2e.sleepy", 5)
    seen = e2e.trace.wait({task_id: ["TASK_FAILURE"]}, settle=SETTLE + 1)[task_id]
    assert names(seen) == ["TASK_SCHEDULE", "TASK_START", "TASK_FAILURE"]
    assert seen[2]["details"]["exc_type"] == "TimeLimitExceeded"
    assert lost_processes(e2e, seen[1]["details"]["pid"]) == []
