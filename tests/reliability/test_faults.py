"""Faults: a killed pool process, a Redis restart, sinks that raise, hang, hit a full disk or a closed pipe.

Covered elsewhere and not repeated here: a pool process that exits by itself mid-task (``os._exit``), a
hard time limit and ``Reject`` in ``tests/e2e/test_e2e_tasks.py``; ``/dev/full`` and a raising sink in
one process in ``tests/sinks/test_sinks.py`` and ``tests/core/test_trace.py``; an unreachable or hung
Sentry in ``tests/sinks/sentry/test_sentry_worker.py::test_unreachable_sentry_never_slows_tasks_or_shutdown``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from celery.result import AsyncResult

import selinon_celery_trace
from tests.brokers import RestartableRedis
from tests.e2e.support import Broker, names, running
from tests.reliability.conftest import Workers
from tests.reliability.sinks import HANG_FOREVER, SLOW_END, SLOW_END_SECONDS
from tests.reliability.support import RelWorker, attempts_of, check_attempts, wait_until

pytestmark = pytest.mark.e2e

RESULT_TIMEOUT = 30.0
SETTLE = 0.5


@pytest.fixture(scope="module")
def fault_worker(rel_broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelWorker]:
    """A prefork worker (concurrency 2) tracing to a JSON-lines file only."""
    with running(RelWorker(rel_broker, tmp_path_factory.mktemp("fault-worker"))) as worker:
        yield worker


@pytest.fixture
def traced(fault_worker: RelWorker) -> Iterator[RelWorker]:
    """The module's worker, with the test process's TASK_SCHEDULE events going to its file too."""
    selinon_celery_trace.install(fault_worker.app)
    try:
        yield fault_worker
    finally:
        selinon_celery_trace.uninstall(fault_worker.app)


def _started(worker: RelWorker, task_id: str) -> dict[str, Any]:
    return worker.trace.wait({task_id: ["TASK_START"]})[task_id][-1]["details"]


def test_sigkilled_pool_process_is_one_failure_from_the_main_process(traced: RelWorker) -> None:
    """A pool process killed by SIGKILL mid-task: its START is kept, the main process reports one FAILURE.

    And the process itself, once: WORKER_PROCESS_LOST naming the task (both handed off, in either order).
    """
    result = traced.app.send_task("rel.nap", args=[60])
    victim = _started(traced, result.id)["pid"]
    assert victim in traced.pool_pids()
    os.kill(victim, signal.SIGKILL)

    seen = traced.trace.wait({result.id: ["TASK_FAILURE", "WORKER_PROCESS_LOST"]}, settle=SETTLE)[result.id]
    assert names(seen)[:2] == ["TASK_SCHEDULE", "TASK_START"]
    assert sorted(names(seen)[2:]) == ["TASK_FAILURE", "WORKER_PROCESS_LOST"]
    (lost,) = (event["details"] for event in seen if event["event"] == "WORKER_PROCESS_LOST")
    assert (lost["process_pid"], lost["signal"], lost["pid"]) == (victim, "SIGKILL", traced.pid)
    (failure,) = (event["details"] for event in seen if event["event"] == "TASK_FAILURE")
    assert failure["exc_type"] == "WorkerLostError"
    assert "signal 9" in failure["what"]
    assert failure["pid"] == traced.pid, "reported by the worker's main process"
    assert failure["task_name"] == "rel.nap" and failure["queue"] == traced.queue
    assert failure["node_args"] == {"args": [60], "kwargs": {}}
    with pytest.raises(Exception, match="signal 9"):
        result.get(timeout=RESULT_TIMEOUT)

    after = traced.app.send_task("rel.nap", args=[0])  # the pool replaced the process and goes on
    assert after.get(timeout=RESULT_TIMEOUT) != victim
    assert names(traced.trace.wait({after.id: ["TASK_END"]})[after.id]) == [
        "TASK_SCHEDULE",
        "TASK_START",
        "TASK_END",
    ]


def test_redis_restart_mid_run_loses_no_event_of_a_completed_task(workers: Workers) -> None:
    """Redis stopped and started again while tasks run: the worker reconnects, every task is fully traced."""
    redis = RestartableRedis()
    results: list[AsyncResult] = []
    try:
        redis.start()
        worker = workers.make(broker=Broker("redis", redis.url, redis.url))
        with running(worker):
            app = worker.app
            selinon_celery_trace.install(app)
            try:
                before = [app.send_task("rel.nap", args=[0.01]) for _ in range(10)]
                results += before
                for result in before:
                    result.get(timeout=RESULT_TIMEOUT)
                in_flight = [app.send_task("rel.nap", args=[2.0]) for _ in range(2)]
                results += in_flight
                for result in in_flight:
                    _started(worker, result.id)

                redis.stop()  # while both pool processes are busy
                time.sleep(1.0)
                redis.start()
                restarted = time.monotonic()

                def answers() -> bool:
                    try:
                        return any(worker.node_name in reply for reply in app.control.ping(timeout=0.5))
                    except Exception:
                        return False

                wait_until(answers, 60, "the worker did not answer again after Redis came back")
                back = time.monotonic() - restarted
                print(f"\nRedis restart: the worker answered {back:.2f}s after Redis was back")
                after = [app.send_task("rel.nap", args=[0.01]) for _ in range(10)]
                results += after
                for result in after:
                    result.get(timeout=RESULT_TIMEOUT)
            finally:
                selinon_celery_trace.uninstall(app)

            completed = before + after
            seen = worker.trace.wait(
                {result.id: ["TASK_SCHEDULE", "TASK_START", "TASK_END"] for result in completed},
                settle=SETTLE,
            )
            for result in completed:
                assert names(seen[result.id]) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"], result.id
            # The tasks running across the restart were not lost either: one START and one terminal event.
            running_across = worker.trace.wait({result.id: ["TASK_END"] for result in in_flight})
            for result in in_flight:
                assert names(running_across[result.id]) == ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
            check_attempts(attempts_of(worker.trace.records()))
            assert worker.process is not None and worker.process.poll() is None
            assert "Connection to broker lost" in worker.log_text(), "the worker noticed the restart"
            assert redis.starts == 2
    finally:
        _release(results)
        redis.close()


def _release(results: list[AsyncResult]) -> None:
    """Unsubscribe results from their backend while its Redis is up, and unbind them from it.

    A result's ``__del__`` unsubscribes it: once this Redis is gone, each would retry for 20 s in
    whichever later test the garbage collector happens to run it.
    """
    for result in results:
        try:
            if result.backend is not None:
                result.backend.remove_pending_result(result)
        except Exception:
            pass
        result.backend = None


_REPORT = re.compile(
    r"ERROR/(?P<process>[^\]]+)\] selinon_celery_trace: sink (?P<sink>.+?) failed \((?P<exc>\w+)"
)


@pytest.mark.tracer_errors
def test_raising_sink_and_full_disk_never_reach_tasks_and_are_reported_once(workers: Workers) -> None:
    """A raising sink and a JSON file on /dev/full: tasks succeed, other sinks get all, one report each."""
    worker = workers.make()
    worker.configure(
        REL_SINKS=json.dumps(
            [
                {"function": {"import": "tests.reliability.sinks", "name": "raising"}},
                {"json": {"path": "/dev/full"}},
                {"json": {"path": str(worker.trace.path)}},
            ]
        )
    )
    with running(worker):
        ok = [worker.app.send_task("rel.nap", args=[0.01]) for _ in range(40)]
        failing = [worker.app.send_task("rel.fail_with", args=[f"expected {n}"]) for n in range(10)]
        pids = {result.get(timeout=RESULT_TIMEOUT) for result in ok}
        for number, result in enumerate(failing):
            with pytest.raises(RuntimeError, match=f"expected {number}"):
                result.get(timeout=RESULT_TIMEOUT)
        seen = worker.trace.wait(
            {**{r.id: ["TASK_END"] for r in ok}, **{r.id: ["TASK_FAILURE"] for r in failing}}, settle=SETTLE
        )
        log = worker.log_text()

    assert all(names(seen[r.id]) == ["TASK_START", "TASK_END"] for r in ok)
    assert all(names(seen[r.id]) == ["TASK_START", "TASK_FAILURE"] for r in failing)
    reports = Counter((m["process"], m["sink"], m["exc"]) for m in _REPORT.finditer(log))
    sinks = {sink for _process, sink, _exc in reports}
    assert any("raising" in sink for sink in sinks) and "JsonFileSink('/dev/full')" in sinks, reports
    assert set(reports.values()) == {1}, f"one report per process and problem, not per event: {reports}"
    # The main process delivers its own events (WORKER_ONLINE) to the same sinks, and reports them once too.
    processes = {f"ForkPoolWorker-{n}" for n in range(1, 3)} | {"MainProcess"}
    assert {process for process, _sink, _exc in reports} <= processes, reports
    assert len(pids) == 2 and len(reports) == 6, "each problem reported once by each process"
    assert log.count("selinon_celery_trace: sink") == 6, "and nothing else reported (100 events per sink)"


def test_slow_sink_blocks_only_its_pool_process_after_the_result_is_stored(workers: Workers) -> None:
    """A sink taking 2 s at TASK_END: the caller has its result at once; that pool process waits for it."""
    worker = workers.make(concurrency=1)
    worker.configure(
        REL_SINKS=json.dumps(
            [
                {"json": {"path": str(worker.trace.path)}},
                {"function": {"import": "tests.reliability.sinks", "name": "hang"}},
            ]
        )
    )
    with running(worker):
        started = time.monotonic()
        slow = worker.app.send_task("rel.echo", args=[SLOW_END])
        assert slow.get(timeout=RESULT_TIMEOUT) == "str:0"
        waited = time.monotonic() - started
        following = worker.app.send_task("rel.nap", args=[0])
        following.get(timeout=RESULT_TIMEOUT)
        queued = time.monotonic() - started
        seen = worker.trace.wait({slow.id: ["TASK_END"], following.id: ["TASK_END"]})

    end = seen[slow.id][-1]
    assert end["details"]["runtime"] < SLOW_END_SECONDS, "the sink's time is not the task's runtime"
    assert waited < SLOW_END_SECONDS, "the result was stored before the slow sink ran"
    assert queued >= SLOW_END_SECONDS, "the next task waited for the sink (one pool process)"
    print(f"\nslow sink: result after {waited:.2f}s, next task done after {queued:.2f}s")


def test_hanging_sink_is_bounded_by_celerys_hard_time_limit(workers: Workers) -> None:
    """A sink that never returns at TASK_START: the task's hard time limit kills it, one FAILURE reported."""
    worker = workers.make(concurrency=1)
    worker.configure(
        REL_SINKS=json.dumps(
            [
                {"json": {"path": str(worker.trace.path)}},
                {"function": {"import": "tests.reliability.sinks", "name": "hang"}},
            ]
        )
    )
    with running(worker):
        started = time.monotonic()
        stuck = worker.app.send_task("rel.limited", args=[HANG_FOREVER])  # time_limit=2
        with pytest.raises(Exception, match=r"TimeLimitExceeded|Time limit"):
            stuck.get(timeout=RESULT_TIMEOUT)
        killed_after = time.monotonic() - started
        after = worker.app.send_task("rel.limited", args=["fine"])
        assert after.get(timeout=RESULT_TIMEOUT) == "fine"
        seen = worker.trace.wait({stuck.id: ["TASK_FAILURE"], after.id: ["TASK_END"]}, settle=SETTLE)

    assert names(seen[stuck.id]) == ["TASK_START", "TASK_FAILURE"]
    failure = seen[stuck.id][1]["details"]
    assert failure["exc_type"] == "TimeLimitExceeded" and failure["pid"] == worker.pid
    assert names(seen[after.id]) == ["TASK_START", "TASK_END"]
    assert killed_after < 2 + 10
    print(f"\nhung sink: task killed by its hard time limit after {killed_after:.2f}s")


BROKEN_PIPE = """
import sys, time
from celery import Celery
import selinon_celery_trace
from selinon_celery_trace import Trace

app = Celery("broken_pipe")
app.conf.selinon_trace = [{"json": True}]

@app.task(name="bp.add")
def add(x, y):
    return x + y

selinon_celery_trace.install(app)
Trace.log(Trace.FLOW_START, flow_name="before")
sys.stdin.readline()  # the reader closed its end of stdout: every write now fails with EPIPE
results = [add.apply(args=(n, 1)).get() for n in range(200)]
for n in range(200):
    Trace.log(Trace.FLOW_END, flow_name="after", n=n)
print("RESULTS", results == [n + 1 for n in range(200)], sum(Trace.errors().values()), file=sys.stderr)
"""


def test_closed_stdout_is_reported_once_and_tasks_still_succeed() -> None:
    """JSON to a stdout whose reader went away: Trace.log and eager tasks carry on, one report, exit 0."""
    process = subprocess.Popen(
        [sys.executable, "-c", BROKEN_PIPE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    first = json.loads(process.stdout.readline())
    assert first["event"] == "FLOW_START"
    process.stdout.close()
    process.stdin.write(b"go\n")
    process.stdin.close()
    stderr = process.stderr.read().decode("utf-8", "replace")
    process.wait(timeout=60)

    assert process.returncode == 0, stderr
    # 200 tasks x (TASK_START + TASK_END) + 200 FLOW_END, all to stdout: every write failed, none raised.
    assert "RESULTS True 600" in stderr
    assert stderr.count("selinon_celery_trace: sink JsonStreamSink() failed (BrokenPipeError") == 1, stderr
    assert stderr.count("Traceback") == 1, "nothing else was reported"
