"""End to end: a worker's life and celery beat's, as real subprocesses on Redis and RabbitMQ.

A worker started and stopped (warm and cold) says WORKER_ONLINE and WORKER_OFFLINE once each; a task
whose ``expires`` passed in the broker's queue before any worker took it is TASK_EXPIRED; a
``celery beat`` sending an interval entry, stopped for more than two periods and started again, gives
the events a reader needs to flag the run it missed.
"""

from __future__ import annotations

import itertools
import signal
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import billiard
import celery
import kombu
import pytest

import selinon_celery_trace
from tests.e2e.proj import BEAT_ENTRY
from tests.e2e.support import Beat, Broker, Worker, names, parse_time

pytestmark = pytest.mark.e2e

SETTLE = 1.5
EVERY = 1.0  # beat's interval entry, in seconds


def only(records: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    """The records of one event, in file order."""
    return [record for record in records if record["event"] == event]


@pytest.mark.parametrize("how", ["warm", "cold"])
def test_worker_online_then_offline(broker: Broker, tmp_path: Path, how: str) -> None:
    """A worker started, given a task, then stopped: one WORKER_ONLINE, one WORKER_OFFLINE, the last line.

    Before it started, a task whose ``expires`` passed waited in its queue. On Redis the worker drops it,
    once, as TASK_EXPIRED. On RabbitMQ Celery gave the message that TTL too, so the broker discarded it
    and no worker ever saw it: its TASK_SCHEDULE, whose ``expires`` has passed, is all there is.
    """
    worker = Worker(broker, tmp_path, {})
    selinon_celery_trace.install(worker.app)
    started = False
    try:
        stale = worker.app.send_task("e2e.add", args=[3, 3], expires=0.5)
        time.sleep(1.0)
        before = time.monotonic()
        worker.start()
        started = True
        assert worker.app.send_task("e2e.add", args=[1, 1]).get(timeout=30) == 2
        if broker.name == "redis":
            expired = worker.trace.wait({stale.id: ["TASK_EXPIRED"]}, settle=SETTLE)[stale.id]
            assert names(expired) == ["TASK_SCHEDULE", "TASK_EXPIRED"]
            assert expired[1]["details"]["expires"] == expired[0]["details"]["expires"]
            assert expired[1]["details"]["late"] >= 0.5
        else:
            time.sleep(SETTLE)
            expired = worker.trace.wait({stale.id: ["TASK_SCHEDULE"]})[stale.id]
            assert names(expired) == ["TASK_SCHEDULE"]
            assert parse_time(expired[0]["details"]["expires"]) < datetime.now(timezone.utc)
        running = time.monotonic() - before
        if how == "cold":
            assert worker.process is not None
            worker.process.send_signal(signal.SIGQUIT)
            worker.process.wait(timeout=30)
    finally:
        selinon_celery_trace.uninstall(worker.app)
        try:
            if started:
                worker.stop()
        finally:
            worker.delete_broker_objects()

    records = worker.trace.records()
    (online,) = only(records, "WORKER_ONLINE")
    (offline,) = only(records, "WORKER_OFFLINE")
    assert records[-1] is offline, "nothing of the worker is written after it went offline"
    assert online["details"] == {
        "hostname": worker.node_name,
        "pid": worker.pid,
        "pool": "prefork",
        "concurrency": 2,
        "queues": sorted(worker.layout.all),
        "software": {
            "python": online["details"]["software"]["python"],
            "celery": celery.__version__,
            "kombu": kombu.__version__,
            "billiard": billiard.__version__,
            "selinon_celery_trace": selinon_celery_trace.__version__,
        },
    }
    details = offline["details"]
    assert (details["hostname"], details["pid"]) == (worker.node_name, worker.pid)
    if how == "warm":
        assert (details["reason"], details["signal"], details["exitcode"]) == ("warm", "SIGTERM", 0)
    else:
        assert (details["reason"], details["signal"]) == ("cold", "SIGQUIT")
    assert 0 < details["uptime"] < running + 60
    assert parse_time(online["time"]) < parse_time(offline["time"])
    assert only(records, "WORKER_PROCESS_LOST") == [], "a stopping pool loses no process"


def _sends(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == "TASK_SCHEDULE" and "periodic" in r["details"]]


def _wait_sends(worker: Worker, count: int) -> None:
    worker.trace.matching(lambda r: r["event"] == "TASK_SCHEDULE" and "periodic" in r["details"], count)


def test_beat_stopped_for_two_periods_shows_the_missed_run(broker: Broker, tmp_path: Path) -> None:
    """Beat every 1 s, stopped for over two periods and restarted: BEAT_START twice, one BEAT_LATE.

    Every send carries ``periodic`` (entry, schedule, interval); the first send after the restart is
    late by the time beat was away, which is what flags the runs that never happened.
    """
    worker = Worker(broker, tmp_path, {})
    beat = Beat(worker, tmp_path, EVERY)
    try:
        worker.start()
        beat.start()
        _wait_sends(worker, 3)
        assert beat.stop() == 0
        stopped = time.monotonic()
        before_stop = len(_sends(worker.trace.records()))
        time.sleep(3.5 * EVERY)
        beat.start()
        _wait_sends(worker, before_stop + 2)
        away = time.monotonic() - stopped
        assert beat.stop() == 0
        sends = _sends(worker.trace.records())
        # The last send of each beat run can be cut short by beat's SIGTERM between the publish hook and
        # the broker (its TASK_SCHEDULE written, no message sent: seen on RabbitMQ); every other one ran.
        cut = {before_stop - 1, len(sends) - 1}
        ran = [send for index, send in enumerate(sends) if index not in cut]
        worker.trace.wait({send["details"]["task_id"]: ["TASK_END"] for send in ran})
    finally:
        try:
            if beat.process is not None:
                beat.stop()
            worker.stop()
        finally:
            worker.delete_broker_objects()

    records = worker.trace.records()
    starts = only(records, "BEAT_START")
    assert len(starts) == 2
    first_run, second_run = sends[:before_stop], sends[before_stop:]
    for start, entry_runs in ((starts[0], 0), (starts[1], before_stop)):
        details = start["details"]
        assert details["scheduler"] == "celery.beat.PersistentScheduler"
        assert details["max_interval"] == 1
        (entry,) = (e for e in details["entries"] if e["entry"] == BEAT_ENTRY)
        assert entry["task"] == "e2e.add"
        assert (entry["schedule"], entry["interval"]) == ("every 1s", EVERY)
        assert entry["total_run_count"] == entry_runs
    # The restarted beat remembers when the entry last ran: the last send before it stopped.
    last_before = parse_time(first_run[-1]["time"])
    remembered = parse_time(starts[1]["details"]["entries"][0]["last_run_at"])
    assert abs((remembered - last_before).total_seconds()) < 0.2
    assert starts[1]["details"]["pid"] != starts[0]["details"]["pid"]

    for send in sends:
        assert send["details"]["periodic"] == {"entry": BEAT_ENTRY, "schedule": "every 1s", "interval": EVERY}
        assert send["details"]["task_name"] == "e2e.add"
        assert send["details"]["queue"] == worker.layout.one
    # On time while beat runs, one period apart; then a gap of more than two periods.
    times = [parse_time(send["time"]) for send in sends]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    missed = gaps[len(first_run) - 1]
    assert missed > 2 * EVERY
    assert all(gap < 1.5 * EVERY for index, gap in enumerate(gaps) if index != len(first_run) - 1)

    (late,) = only(records, "BEAT_LATE")
    late_send = second_run[0]
    details = late["details"]
    assert details["entry"] == BEAT_ENTRY and details["task_name"] == "e2e.add"
    assert details["task_id"] == late_send["details"]["task_id"]
    assert details["schedule"] == "every 1s"
    due = parse_time(details["due"])
    assert abs((due - last_before).total_seconds() - EVERY) < 0.2  # one period after the last send
    assert details["late"] == pytest.approx((parse_time(late_send["time"]) - due).total_seconds(), abs=0.1)
    assert 2 * EVERY < details["late"] < away
