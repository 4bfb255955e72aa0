"""Outputs as they live in production, with a real prefork worker on both brokers.

- the JSON file rotated by rename-and-create (logrotate's default) and its directory deleted: the worker's
  processes follow the path; no event of a task published a second later is lost;
- ``{"json": True}`` under Celery's stdout redirection (``worker_redirect_stdouts``, on by default): the
  lines reach the process's real stdout and stderr, whole, not Celery's logger.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from celery.result import AsyncResult

from selinon_celery_trace.sinks.jsonl import CHECK_INTERVAL
from tests.e2e.support import TraceFile, names, running
from tests.reliability.conftest import Workers
from tests.reliability.support import RelWorker

pytestmark = pytest.mark.e2e

RESULT_TIMEOUT = 30.0
AFTER_CHECK = CHECK_INTERVAL + 0.3  # every process has looked at the path again by its next event


def _run(worker: RelWorker, count: int) -> list[AsyncResult]:
    results = [worker.app.send_task("rel.nap", args=[0]) for _ in range(count)]
    for result in results:
        result.get(timeout=RESULT_TIMEOUT)
    return results


def _events(files: list[Path], results: list[AsyncResult]) -> dict[str, list[str]]:
    """The events of each task in the union of ``files`` (each line must parse)."""
    found: dict[str, list[str]] = {r.id: [] for r in results}
    for path in files:
        for record in TraceFile(path).records():
            if record["details"].get("task_id") in found:
                found[record["details"]["task_id"]].append(record["event"])
    return found


def test_rotation_and_a_deleted_directory_lose_no_event_after_a_second(
    broker_workers: Workers, tmp_path: Path
) -> None:
    """Rename-and-create, then the directory removed: every event is kept, in the new file after 1 s."""
    folder = tmp_path / "logs"
    folder.mkdir()
    path = folder / "trace.jsonl"
    worker = broker_workers.make()
    worker.configure(REL_SINKS=json.dumps([{"json": {"path": str(path)}}]))
    with running(worker):
        before = _run(worker, 10)
        path.rename(folder / "trace.jsonl.1")  # logrotate's default: rename, then create
        path.touch()
        within = _run(worker, 10)  # the first second: the renamed file (still open) gets them
        time.sleep(AFTER_CHECK)
        after = _run(worker, 10)
        TraceFile(path).wait({r.id: ["TASK_START", "TASK_END"] for r in after})

        rotated = _events([folder / "trace.jsonl.1", path], before + within + after)
        followed = _events([path], after)
        shutil.rmtree(folder)  # a clean-up job, a volume remounted
        time.sleep(AFTER_CHECK)
        recreated = _run(worker, 10)
        last = TraceFile(path).wait({r.id: ["TASK_START", "TASK_END"] for r in recreated}, settle=0.5)

    assert all(seen == ["TASK_START", "TASK_END"] for seen in rotated.values()), "none lost, none twice"
    assert all(seen == ["TASK_START", "TASK_END"] for seen in followed.values()), (
        "a second later: the new file"
    )
    assert all(names(last[r.id]) == ["TASK_START", "TASK_END"] for r in recreated), "the directory made again"


def test_json_true_writes_whole_lines_to_the_real_stdout_and_stderr(broker_workers: Workers) -> None:
    """A default worker redirects sys.stdout to its logger; our lines still reach fds 1 and 2, whole."""
    worker = broker_workers.make()
    worker.stdout_path = worker.log_path.with_name("stdout.txt")
    worker.configure(REL_SINKS=json.dumps([{"json": True}, {"json": {"path": str(worker.trace.path)}}]))
    with running(worker):
        ok = _run(worker, 10)
        failing = [worker.app.send_task("rel.fail_with", args=[f"expected {n}"]) for n in range(3)]
        for result in failing:
            result.get(timeout=RESULT_TIMEOUT, propagate=False)
        worker.trace.wait({**{r.id: ["TASK_END"] for r in ok}, **{r.id: ["TASK_FAILURE"] for r in failing}})
        time.sleep(0.5)
        stdout = worker.stdout_path.read_text(encoding="utf-8")
        stderr = worker.log_text()

    def ours(text: str) -> list[dict[str, object]]:
        return [json.loads(line) for line in text.splitlines() if line.startswith('{"event":')]

    out, err = ours(stdout), ours(stderr)
    # The tasks' events (the worker's own WORKER_ONLINE, on stdout too, has no task id).
    out_ids = [(r["event"], r["details"].get("task_id")) for r in out]  # type: ignore[attr-defined]
    err_ids = [(r["event"], r["details"].get("task_id")) for r in err]  # type: ignore[attr-defined]
    assert out_ids.count(("WORKER_ONLINE", None)) == 1, "the worker's main process writes there too"
    for result in ok:
        assert out_ids.count(("TASK_START", result.id)) == 1 and out_ids.count(("TASK_END", result.id)) == 1
    for result in failing:
        assert out_ids.count(("TASK_START", result.id)) == 1
        assert err_ids.count(("TASK_FAILURE", result.id)) == 1, "WARN_EVENTS on stderr"
    redirected = [line for line in stderr.splitlines() if "/ForkPoolWorker" in line and '"event":' in line]
    assert not redirected, f"events went through Celery's logger: {redirected[:2]}"
