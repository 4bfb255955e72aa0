"""Load: 10,000 mixed tasks through a real prefork worker on Redis, traced to one shared JSON-lines file."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import selinon_celery_trace
from tests.e2e.support import running
from tests.reliability.conftest import Workers
from tests.reliability.support import attempts_of, check_attempts, wait_until, whole_lines

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TASKS = 10_000
FLOWS = 20  # each schedules two nodes
RETRIED = 1_000  # each retries once, then succeeds
FAILED = 1_000
SUCCEEDED = TASKS - FLOWS - RETRIED - FAILED
LOAD_TIMEOUT = 420.0


def _plan() -> list[tuple[str, int]]:
    plan = (
        [("rel.ok", n) for n in range(SUCCEEDED)]
        + [("rel.flaky", n) for n in range(RETRIED)]
        + [("rel.boom", n) for n in range(FAILED)]
        + [("rel.flow", n * 10) for n in range(FLOWS)]
    )
    random.Random(8).shuffle(plan)
    return plan


def _count(data: bytes, event: str) -> int:
    return data.count(f'"event":"{event}"'.encode())


@pytest.mark.timeout(600)
def test_ten_thousand_mixed_tasks_lose_nothing(workers: Workers, tmp_path: Path) -> None:
    """Every attempt of 10,000 tasks has one START and one terminal event; every line is one whole event."""
    worker = workers.make(env={"REL_PREFETCH": "32"})
    with running(worker):
        app = worker.app
        selinon_celery_trace.install(app)  # the client's TASK_SCHEDULE events go to the same file
        try:
            plan = _plan()
            sent: dict[str, list[str]] = {name: [] for name in {name for name, _ in plan}}
            started = time.monotonic()
            with app.producer_or_acquire() as producer:
                for name, number in plan:
                    sent[name].append(str(app.send_task(name, args=[number], producer=producer).id))
            published = time.monotonic() - started
        finally:
            selinon_celery_trace.uninstall(app)

        ends = SUCCEEDED + RETRIED + 2 * FLOWS

        def done() -> bool:
            data = worker.trace.path.read_bytes()
            return (
                _count(data, "TASK_END") >= ends
                and _count(data, "TASK_FAILURE") >= FAILED
                and _count(data, "FLOW_END") >= FLOWS
            )

        wait_until(done, LOAD_TIMEOUT, "the worker did not finish the 10,000 tasks", interval=0.25)
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # a duplicate arriving late is seen too
        data = worker.trace.path.read_bytes()

    records = whole_lines(data)  # every line is one whole JSON event: none interleaved or cut
    events = Counter(record["event"] for record in records)
    attempts = attempts_of(records)
    terminal = check_attempts(attempts)

    ids = {name: set(task_ids) for name, task_ids in sent.items()}
    by_task: dict[str, list[str]] = {}
    for (task_id, _attempt), seen in attempts.items():
        by_task.setdefault(task_id, []).extend(seen)
    assert {
        task_id for task_id in ids["rel.ok"] if by_task.get(task_id) != ["TASK_START", "TASK_END"]
    } == set()
    assert {
        task_id
        for task_id in ids["rel.flaky"]
        if by_task.get(task_id, []).count("TASK_RETRY") != 1 or by_task[task_id].count("TASK_END") != 1
    } == set()
    assert {
        task_id for task_id in ids["rel.boom"] if by_task.get(task_id) != ["TASK_START", "TASK_FAILURE"]
    } == set()
    scheduled = Counter(r["details"]["task_id"] for r in records if r["event"] == "TASK_SCHEDULE")
    assert all(scheduled[task_id] == 1 for names in ids.values() for task_id in names), "one SCHEDULE each"
    flow_ends = Counter(r["details"]["dispatcher_id"] for r in records if r["event"] == "FLOW_END")
    assert flow_ends == Counter(ids["rel.flow"])

    assert terminal == {"TASK_END": ends, "TASK_RETRY": RETRIED, "TASK_FAILURE": FAILED}
    assert events["TASK_SCHEDULE"] == TASKS + 2 * FLOWS  # the client's, and the dispatchers' nodes
    assert events["TASK_START"] == ends + RETRIED + FAILED
    assert events["FLOW_START"] == FLOWS

    pids = {r["details"]["pid"] for r in records if r["event"] == "TASK_START"}
    assert len(pids) == 2, "both pool processes appended to the file"
    times = sorted(record["time"] for record in records)
    figures: dict[str, Any] = {
        "tasks": TASKS,
        "attempts": len(attempts),
        "events": len(records),
        "lines": data.count(b"\n"),
        "bytes": len(data),
        "max_line_bytes": max(len(line) for line in data.split(b"\n")),
        "publish_seconds": round(published, 2),
        "seconds": round(elapsed, 2),
        "tasks_per_second": round(TASKS / elapsed, 1),
        "events_per_second": round(len(records) / elapsed, 1),
        "first_event": times[0],
        "last_event": times[-1],
        "by_event": dict(sorted(events.items())),
    }
    (tmp_path / "load-figures.json").write_text(json.dumps(figures, indent=2))
    print(f"\nload figures ({tmp_path / 'load-figures.json'}):\n{json.dumps(figures, indent=2)}")
