"""The metrics sink in real prefork workers on Redis, scraped over HTTP from the worker's main process."""

from __future__ import annotations

import time
from typing import Any

import pytest

import selinon_celery_trace
from tests.sinks.metrics.scrape import Samples, scrape, value
from tests.sinks.otel.workers import AppWorker

pytestmark = pytest.mark.e2e

RESULT_TIMEOUT = 30.0


def _scrape(worker: AppWorker) -> Samples:
    return scrape(worker.metrics_url)  # type: ignore[attr-defined]


_value = value


def _mixed_run(worker: AppWorker) -> None:
    """Three successes, two failures, a retried task, an ignored one, a flow that ends and one that fails."""
    # Queue waits need the publish time in the message: the publishing process is traced too.
    selinon_celery_trace.install(worker.app)
    try:
        _publish(worker)
    finally:
        selinon_celery_trace.uninstall(worker.app)


def _publish(worker: AppWorker) -> None:
    send = worker.app.send_task
    results: list[Any] = [send("metrics.ok", args=[n]) for n in range(3)]
    results += [send("metrics.boom", args=[f"boom {n}"]) for n in range(2)]
    results += [
        send("metrics.flaky", args=[1]),
        send("metrics.flow", args=[False]),
        send("metrics.flow", args=[True]),
    ]
    send("metrics.skipped")  # Ignore: no result is stored, so nothing to wait for (its count is)
    for result in results:
        result.get(timeout=RESULT_TIMEOUT, propagate=False)


def _wait_counted(worker: AppWorker, total: float) -> Samples:
    deadline = time.monotonic() + RESULT_TIMEOUT
    while True:
        samples = _scrape(worker)
        counted = sum(v for (name, _), v in samples.items() if name == "selinon_task_attempts_total")
        flows = sum(v for (name, _), v in samples.items() if name == "selinon_flows_total")
        if (counted >= total and flows >= 2) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


@pytest.mark.parametrize("fixture", ["metrics_worker", "recycling_worker"])
def test_attempts_and_flows_are_counted_by_outcome(fixture: str, request: pytest.FixtureRequest) -> None:
    """After a mixed run, /metrics counts each attempt by outcome, runtimes, queue waits and flows."""
    worker: AppWorker = request.getfixturevalue(fixture)
    _mixed_run(worker)
    # 3 ok + 2 boom + 2 flaky attempts + 1 ignored + 2 flow nodes = 10 attempts.
    samples = _wait_counted(worker, 10)
    queue = worker.queue
    attempts = "selinon_task_attempts_total"
    assert _value(samples, attempts, task_name="metrics.ok", queue=queue, outcome="succeeded") == 4
    assert _value(samples, attempts, task_name="metrics.boom", queue=queue, outcome="failed") == 3
    assert _value(samples, attempts, task_name="metrics.flaky", queue=queue, outcome="retried") == 1
    assert _value(samples, attempts, task_name="metrics.flaky", queue=queue, outcome="succeeded") == 1
    assert _value(samples, attempts, task_name="metrics.skipped", queue=queue, outcome="ignored") == 1
    assert sum(v for (name, _), v in samples.items() if name == attempts) == 10
    # Runtimes of the successful attempts, queue waits of every attempt.
    assert _value(samples, "selinon_task_runtime_seconds_count", task_name="metrics.ok", queue=queue) == 4
    waits = sum(v for (name, _), v in samples.items() if name == "selinon_task_queue_wait_seconds_count")
    assert waits == 10
    assert _value(samples, "selinon_flows_total", flow_name="metrics.flow", outcome="succeeded") == 1
    assert _value(samples, "selinon_flows_total", flow_name="metrics.flow", outcome="failed") == 1
    # The flow's start is known to whichever pool process ends it (shared by the worker's processes).
    for outcome in ("succeeded", "failed"):
        count = "selinon_flow_duration_seconds_count"
        assert _value(samples, count, flow_name="metrics.flow", outcome=outcome) == 1, outcome
        duration = _value(
            samples, "selinon_flow_duration_seconds_sum", flow_name="metrics.flow", outcome=outcome
        )
        assert 0 < duration < RESULT_TIMEOUT, outcome


def _waits(worker: AppWorker) -> float:
    samples = _scrape(worker)
    return sum(v for (name, _), v in samples.items() if name == "selinon_task_queue_wait_seconds_count")


def test_a_client_without_a_metrics_sink_still_feeds_the_queue_waits(metrics_worker: AppWorker) -> None:
    """A client that installed tracing without a metrics sink stamps its messages: their waits count."""
    before = _waits(metrics_worker)
    app = metrics_worker.app
    configured = app.conf.selinon_trace
    app.conf.selinon_trace = []  # the client traces nothing itself (a web process, say)
    selinon_celery_trace.install(app)
    try:
        results = [app.send_task("metrics.ok", args=[n]) for n in range(3)]
        for result in results:
            assert result.get(timeout=RESULT_TIMEOUT) is not None
    finally:
        selinon_celery_trace.uninstall(app)
        app.conf.selinon_trace = configured
    deadline = time.monotonic() + RESULT_TIMEOUT
    while _waits(metrics_worker) < before + 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _waits(metrics_worker) == before + 3


def test_the_worker_log_says_where_metrics_are_served(metrics_worker: AppWorker) -> None:
    """The worker's log has one INFO line naming the metrics sink and its URL."""
    log = metrics_worker.log_path.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in log.splitlines() if "selinon_celery_trace: tracing to" in line]
    assert len(lines) == 1, log[-3000:]
    assert "INFO" in lines[0] and f"Prometheus metrics at {metrics_worker.metrics_url}" in lines[0]  # type: ignore[attr-defined]
