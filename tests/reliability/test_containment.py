"""Nothing a sink does reaches a worker, and every attempt is told once: real prefork workers, both brokers.

- sinks that exit (``sys.exit``, ``KeyboardInterrupt``): contained, reported once, disabled; the worker's
  own shutdown and a ``revoke(terminate=True)`` still work while a sink runs;
- a result the pool process cannot store (its backend connection is down, the main process's is not):
  Celery fails the request in both processes; one terminal event.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter

import pytest

from tests.e2e.support import Broker, names, running
from tests.reliability.backends import child_failing
from tests.reliability.conftest import Workers
from tests.reliability.sinks import HANG_FOREVER, SLOW_REJECT_SECONDS
from tests.reliability.support import attempts_of, check_attempts, wait_until

pytestmark = pytest.mark.e2e

RESULT_TIMEOUT = 30.0
SETTLE = 1.0

_REPORT = re.compile(
    r"(?P<level>ERROR|WARNING)/(?P<process>[^\]]+)\] selinon_celery_trace: "
    r"sink <function (?P<name>\w+)[^>]*> "
    r"(?:failed \((?P<exc>\w+)|disabled in this process after \d+ exits \((?P<disabled>\w+)\))"
)


def _sink(name: str) -> dict[str, dict[str, str]]:
    return {"function": {"import": "tests.reliability.sinks", "name": name}}


@pytest.mark.tracer_errors
def test_sinks_that_exit_never_stop_the_worker(broker_workers: Workers) -> None:
    """sys.exit(3) and KeyboardInterrupt in sinks at every event: tasks run as written, one report each.

    A pool process killed meanwhile is reported by the main process through the same sinks: the worker
    goes on (it exited there before), and SIGTERM still shuts it down warm.
    """
    worker = broker_workers.make()
    worker.configure(
        REL_SINKS=json.dumps(
            [_sink("exiting"), _sink("interrupting"), {"json": {"path": str(worker.trace.path)}}]
        )
    )
    with running(worker):
        pool = worker.pool_pids()
        ok = [worker.app.send_task("rel.nap", args=[0.01]) for _ in range(30)]
        failing = [worker.app.send_task("rel.fail_with", args=[f"expected {n}"]) for n in range(6)]
        ran_in = {result.get(timeout=RESULT_TIMEOUT) for result in ok}
        for number, result in enumerate(failing):
            with pytest.raises(RuntimeError, match=f"expected {number}"):
                result.get(timeout=RESULT_TIMEOUT)
        seen = worker.trace.wait(
            {**{r.id: ["TASK_END"] for r in ok}, **{r.id: ["TASK_FAILURE"] for r in failing}}, settle=SETTLE
        )
        assert worker.pool_pids() == pool, "no pool process died"
        assert ran_in <= pool

        lost = worker.app.send_task("rel.nap", args=[60])
        victim = worker.trace.wait({lost.id: ["TASK_START"]})[lost.id][-1]["details"]["pid"]
        os.kill(victim, signal.SIGKILL)
        told = worker.trace.wait({lost.id: ["TASK_FAILURE", "WORKER_PROCESS_LOST"]}, settle=SETTLE)[lost.id]
        after = [worker.app.send_task("rel.nap", args=[0.01]) for _ in range(6)]
        assert all(result.get(timeout=RESULT_TIMEOUT) != victim for result in after)
        worker.stop()  # SIGTERM: the warm shutdown still works
    assert worker.process is not None and worker.process.returncode == 0, worker.log_tail()
    log = worker.log_text()
    assert "Warm shutdown" in log

    assert all(names(seen[r.id]) == ["TASK_START", "TASK_END"] for r in ok)
    assert all(names(seen[r.id]) == ["TASK_START", "TASK_FAILURE"] for r in failing)
    # The lost process is told twice by the main process: its task's failure, and WORKER_PROCESS_LOST.
    assert names(told)[0] == "TASK_START"
    assert sorted(names(told)[1:]) == ["TASK_FAILURE", "WORKER_PROCESS_LOST"]
    (failure,) = (event["details"] for event in told if event["event"] == "TASK_FAILURE")
    assert failure["exc_type"] == "WorkerLostError" and failure["pid"] == worker.pid
    check_attempts(attempts_of(worker.trace.records()))
    found = list(_REPORT.finditer(log))
    errors = Counter((m["process"], m["name"], m["exc"]) for m in found if m["level"] == "ERROR")
    disabled = Counter((m["process"], m["name"], m["disabled"]) for m in found if m["level"] == "WARNING")
    processes = {process for process, _name, _exc in errors}
    assert "MainProcess" in processes, "the main process told the lost pool process through the sinks"
    assert all(p == "MainProcess" or p.startswith("ForkPoolWorker-") for p in processes), processes
    expected = {(p, "exiting", "SystemExit") for p in processes} | {
        (p, "interrupting", "KeyboardInterrupt") for p in processes
    }
    assert set(errors) == expected and set(errors.values()) == {1}, (
        f"one report per process and sink: {errors}"
    )
    # The main process's own events (WORKER_ONLINE, then the lost process's TASK_FAILURE and
    # WORKER_PROCESS_LOST) are three exits there too: it disables both sinks, as a pool process does.
    main = {("MainProcess", "exiting", "SystemExit"), ("MainProcess", "interrupting", "KeyboardInterrupt")}
    assert disabled and main <= set(disabled) <= expected and set(disabled.values()) == {1}, disabled
    assert log.count("selinon_celery_trace: sink") == len(errors) + len(disabled), "nothing else reported"
    print(f"\nexiting sinks: {len(ok) + len(failing) + 7} tasks, reports {dict(errors)}")


def test_a_terminate_signal_still_ends_a_task_whose_sink_is_running(broker_workers: Workers) -> None:
    """revoke(terminate=True) while a sink hangs in the task's START: the pool process's SIGTERM wins."""
    worker = broker_workers.make(concurrency=1)
    worker.configure(REL_SINKS=json.dumps([{"json": {"path": str(worker.trace.path)}}, _sink("hang")]))
    with running(worker):
        stuck = worker.app.send_task("rel.echo", args=[HANG_FOREVER])
        victim = worker.trace.wait({stuck.id: ["TASK_START"]})[stuck.id][-1]["details"]["pid"]
        assert victim in worker.pool_pids()
        began = time.monotonic()
        worker.app.control.revoke(stuck.id, terminate=True)
        wait_until(lambda: victim not in worker.pool_pids(), 20, "the pool process did not exit")
        ended_after = time.monotonic() - began
        after = worker.app.send_task("rel.nap", args=[0])
        assert after.get(timeout=RESULT_TIMEOUT) != victim
        log = worker.log_text()
    assert stuck.state == "REVOKED"
    assert "selinon_celery_trace: sink" not in log, "the process's SystemExit was not taken for the sink's"
    print(f"\nrevoke(terminate=True) with a hung sink: the pool process was gone after {ended_after:.2f}s")


def test_a_result_the_pool_process_cannot_store_is_one_terminal_event(
    any_broker: Broker, broker_workers: Workers
) -> None:
    """Storing fails in the pool process, works in the main process: one TASK_START, one TASK_FAILURE."""
    broker = Broker(any_broker.name, any_broker.url, child_failing(any_broker.result_backend))
    worker = broker_workers.make(broker=broker)
    with running(worker):
        pool = worker.pool_pids()
        succeeding = [worker.app.send_task("rel.nap", args=[0.01]) for _ in range(3)]
        failing = [worker.app.send_task("rel.fail_with", args=[f"expected {n}"]) for n in range(3)]
        for result in succeeding + failing:
            # The main process stores the failure its pool process could not: the backend's error.
            with pytest.raises(Exception, match="fault injected in pool processes"):
                result.get(timeout=RESULT_TIMEOUT)
        seen = worker.trace.wait({r.id: ["TASK_FAILURE"] for r in succeeding + failing}, settle=SETTLE)
        log = worker.log_text()

    for result in succeeding + failing:
        assert names(seen[result.id]) == ["TASK_START", "TASK_FAILURE"], result.id
        failure = seen[result.id][1]["details"]
        assert failure["pid"] in pool, "reported by the pool process that ran the attempt"
        assert failure["exc_type"] == "ConnectionError"
    for result in failing:  # the task's own error is in the traceback, under the backend's
        assert "RuntimeError: expected" in seen[result.id][1]["details"]["what"]
    check_attempts(attempts_of(worker.trace.records()))
    assert "Task handler raised error" in log, "Celery did fail the requests in the main process too"


def test_a_slow_sink_never_holds_the_workers_main_process(broker_workers: Workers) -> None:
    """Four Rejects whose failures (the main process tells them) take a sink 5 s each: other tasks run."""
    worker = broker_workers.make()
    worker.configure(
        REL_SINKS=json.dumps([{"json": {"path": str(worker.trace.path)}}, _sink("slow_on_reject")])
    )
    with running(worker):
        rejected = [worker.app.send_task("rel.reject", args=[f"not for us {n}"]) for n in range(4)]
        first = worker.trace.wait({r.id: ["TASK_START"] for r in rejected})
        worker.trace.wait({rejected[0].id: ["TASK_FAILURE"]})  # the slow sink is busy from here on
        began = time.monotonic()
        others = [worker.app.send_task("rel.nap", args=[0]) for _ in range(10)]
        for result in others:
            result.get(timeout=RESULT_TIMEOUT)
        elapsed = time.monotonic() - began
        seen = worker.trace.wait(
            {r.id: ["TASK_START", "TASK_FAILURE"] for r in rejected}, timeout=4 * SLOW_REJECT_SECONDS + 30
        )
        log = worker.log_text()

    assert elapsed < SLOW_REJECT_SECONDS, f"10 tasks took {elapsed:.1f}s beside a busy slow sink"
    for result in rejected:
        assert names(seen[result.id]) == ["TASK_START", "TASK_FAILURE"]
        failure = seen[result.id][1]["details"]
        assert failure["exc_type"] == "Reject" and failure["pid"] == worker.pid, "told by the main process"
        assert failure["pid"] != first[result.id][0]["details"]["pid"]
    assert "was not delivered" not in log, "nothing dropped or failed"
    print(f"\n4 Rejects with a 5 s sink: 10 other tasks done in {elapsed:.2f}s")
