"""Trace files of a message's fates, beat and a worker's life, with the keys the Celery adapters write.

For the CLI's unit tests (the real-worker tests read traces of real workers: ``tests/e2e``). Each
event's details are the adapters' (``selinon_celery_trace.celery``: revocations, rejections, beat,
lifecycle, processes), encoded by the package's own writer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.cli.tracegen import T0, TraceBuilder

WORKER = "celery@host-a"
DROPPED = "d0d0d0d0-1111-4000-8000-000000000001"  # revoked before it started
TERMINATED = "7e7e7e7e-2222-4000-8000-000000000002"  # revoked with terminate=True while running
EXPIRED = "e0e0e0e0-3333-4000-8000-000000000003"  # its expires passed while it waited
UNKNOWN = "0b0b0b0b-4444-4000-8000-000000000004"  # an unregistered task name
KILLED = "c1c1c1c1-5555-4000-8000-000000000005"  # its pool process was SIGKILLed
CHAIN_FIRST = "cafe0001-6666-4000-8000-000000000006"  # a chain's first step, revoked
CHAIN_SECOND = "cafe0002-6666-4000-8000-000000000007"
CHAIN_THIRD = "cafe0003-6666-4000-8000-000000000008"


def _message(name: str, task_id: str, **more: Any) -> dict[str, Any]:
    return {
        "task_name": name,
        "task_id": task_id,
        "queue": "celery",
        "parent": None,
        "dispatcher_id": None,
        "flow_name": None,
        "node_args": {"args": [3], "kwargs": {}},
        "retried_count": 0,
        "hostname": WORKER,
        "pid": 100,
        **more,
    }


def _schedule(b: TraceBuilder, at: float, name: str, task_id: str, **more: Any) -> None:
    details = _message(name, task_id, countdown=None, eta=None, **more)
    for key in ("retried_count", "hostname", "pid"):
        details.pop(key)
    b.add(at, "client", "TASK_SCHEDULE", **details)


def fates() -> TraceBuilder:
    """A worker's run: online, revokes, an expiry, an unknown task, a killed process, a revoked chain."""
    b = TraceBuilder()
    software = {"python": "3.11.7", "celery": "5.7.0", "kombu": "5.7.0", "billiard": "4.2.4"}
    b.add(
        0.0,
        "host-a",
        "WORKER_ONLINE",
        hostname=WORKER,
        pid=100,
        pool="prefork",
        concurrency=2,
        queues=["celery"],
        software=software,
    )
    _schedule(b, 1.0, "proj.nap", TERMINATED)
    b.add(1.1, "host-a", "TASK_START", **_message("proj.nap", TERMINATED, pid=101))
    _schedule(b, 1.2, "proj.nap", DROPPED)
    b.add(
        3.2,
        "host-a",
        "TASK_REVOKED",
        **_message("proj.nap", DROPPED),
        started=False,
        terminated=False,
        signum=None,
        signal=None,
        reason="revoked by task id",
    )
    b.add(
        3.1,
        "host-a",
        "TASK_REVOKED",
        **_message("proj.nap", TERMINATED),
        started=True,
        terminated=True,
        signum=15,
        signal="SIGTERM",
        reason="revoked by task id",
    )
    expires = (T0 + timedelta(seconds=1.8)).isoformat()
    _schedule(b, 1.3, "proj.add", EXPIRED, expires=expires)
    b.add(4.3, "host-a", "TASK_EXPIRED", **_message("proj.add", EXPIRED), expires=expires, late=2.5)
    b.add(
        1.4,
        "host-a",
        "TASK_REJECTED",
        **_message("proj.nope", UNKNOWN, node_args={"args": [1], "kwargs": {}}),
        reason="task 'proj.nope' is not registered in this worker",
        kind="unregistered",
        exc_type="NotRegistered",
        content_type="application/json",
        content_encoding="utf-8",
    )
    _schedule(b, 5.0, "proj.nap", KILLED)
    b.add(5.1, "host-a", "TASK_START", **_message("proj.nap", KILLED, pid=102))
    b.add(
        6.0,
        "host-a",
        "TASK_FAILURE",
        **_message("proj.nap", KILLED),
        what="billiard.exceptions.WorkerLostError: Worker exited prematurely: signal 9 (SIGKILL) Job: 3.",
        exc_type="WorkerLostError",
        max_retry=3,
    )
    b.add(
        6.0,
        "host-a",
        "WORKER_PROCESS_LOST",
        hostname=WORKER,
        pid=100,
        process_pid=102,
        exitcode=-9,
        signal="SIGKILL",
        task_name="proj.nap",
        task_id=KILLED,
    )
    # The steps after it, in the order they would run, as the adapter writes them.
    chain = [
        {"task_name": "proj.add", "task_id": CHAIN_SECOND},
        {"task_name": "proj.add", "task_id": CHAIN_THIRD},
    ]
    _schedule(b, 7.0, "proj.nap", CHAIN_FIRST, root_id=CHAIN_FIRST, chain=chain)
    b.add(
        8.0,
        "host-a",
        "TASK_REVOKED",
        **_message("proj.nap", CHAIN_FIRST, root_id=CHAIN_FIRST),
        started=False,
        terminated=False,
        signum=None,
        signal=None,
        reason="revoked by task id",
    )
    b.add(
        9.0,
        "host-a",
        "WORKER_OFFLINE",
        hostname=WORKER,
        pid=100,
        reason="warm",
        signal="SIGTERM",
        exitcode=0,
        uptime=9.0,
    )
    return b


def beat(
    every: float = 2.0, sends: tuple[float, ...] = (1, 3, 5, 7, 15, 17, 19), late: bool = True
) -> TraceBuilder:
    """Beat sending an interval entry, stopped for a while (a gap), started again, its tasks all ok.

    Beat starts at 0.5 s and again at 9 s; with ``late``, the send at 15 s was 6 s late (BEAT_LATE).
    """
    b = TraceBuilder()
    entry = {"entry": "tick", "schedule": f"every {every:g}s", "interval": every}
    b.add(
        0.5,
        "beat",
        "BEAT_START",
        hostname="beat",
        pid=7,
        scheduler="celery.beat.PersistentScheduler",
        max_interval=300,
        entries=[{**entry, "task": "proj.add", "last_run_at": None, "total_run_count": 0}],
    )
    for number, at in enumerate(sends):
        task_id = f"beat{number:04d}-0000-4000-8000-000000000000"
        _schedule(b, at, "proj.add", task_id, periodic=entry)
        b.add(at + 0.1, "host-a", "TASK_START", **_message("proj.add", task_id, pid=101))
        b.add(at + 0.2, "host-a", "TASK_END", **_message("proj.add", task_id, pid=101), runtime=0.1)
    b.add(
        9.0,
        "beat",
        "BEAT_START",
        hostname="beat",
        pid=8,
        scheduler="celery.beat.PersistentScheduler",
        max_interval=300,
        entries=[{**entry, "task": "proj.add", "last_run_at": None, "total_run_count": 4}],
    )
    if late:
        b.add(
            15.0,
            "beat",
            "BEAT_LATE",
            entry="tick",
            task_name="proj.add",
            task_id="beat0004-0000-4000-8000-000000000000",
            schedule=entry["schedule"],
            due="2026-11-28T11:46:23.238884+00:00",
            late=6.0,
            hostname="beat",
            pid=8,
        )
    return b
