"""``find`` on many tasks: the byte searches before parsing never lose an attempt.

A state alone is searched for by its events' names; more candidate tasks than can be searched for one
by one are picked by the value of each line's id keys. Lines another writer wrote (spaces after the
colons) are parsed whatever the search.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from selinon_celery_trace.cli import cli
from selinon_celery_trace.core.record import dumps

TASKS = 80  # more failing tasks than the 24 ids searched for one by one


def _task_id(number: int) -> str:
    return f"{number:08x}-0000-4000-8000-00000000abcd"


def _events(number: int) -> list[tuple[str, dict[str, object]]]:
    task = {"task_name": "shop.charge", "task_id": _task_id(number), "queue": "payments"}
    started = {**task, "retried_count": 0, "node_args": {"args": [number], "kwargs": {}}}
    end = ("TASK_FAILURE", {**task, "retried_count": 0, "what": "ValueError: no"})
    return [("TASK_SCHEDULE", task), ("TASK_START", started), end if number % 2 else ("TASK_END", task)]


def _trace(tmp_path: Path) -> Path:
    lines = []
    for number in range(2 * TASKS):
        for offset, (event, details) in enumerate(_events(number)):
            when = f"2026-12-01T10:{number // 60:02d}:{number % 60:02d}.{offset:03d}000+00:00"
            record = {"event": event, "time": when, "details": details, "node": "host-a"}
            # Every seventh task's lines as another writer spaces them: no search may skip them.
            lines.append(json.dumps(record).encode() + b"\n" if number % 7 == 0 else dumps(record) + b"\n")
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def _ids(*args: str) -> list[str]:
    result = CliRunner().invoke(cli, ["find", "--limit", "0", *args], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return [line.split()[5] for line in result.stdout.splitlines()[:-1]]


def test_find_by_state_lists_every_failed_task_of_many(tmp_path: Path) -> None:
    """--state failed (searched for by the event's name, then 80 ids by key): every failure, once, newest
    first; the same as a query that parses every line (a task pattern)."""
    trace = str(_trace(tmp_path))
    failed = _ids("--state", "failed", trace)
    assert failed == [_task_id(n)[:8] for n in reversed(range(2 * TASKS)) if n % 2]
    assert failed == _ids("--state", "failed", "--task", "shop.*", trace)
    since = _ids("--state", "failed", "--since", "2026-12-01T10:01:00", trace)
    assert since == [_task_id(n)[:8] for n in reversed(range(60, 2 * TASKS)) if n % 2]
    ok = _ids("--state", "ok", trace)
    assert len(ok) == TASKS and set(ok).isdisjoint(failed)
