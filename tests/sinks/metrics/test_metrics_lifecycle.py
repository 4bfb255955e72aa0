"""The metrics sink on a real prefork worker, Redis and RabbitMQ: fates, the worker, its queue's length.

What a celery-exporter user charts: revoked, expired and rejected messages next to the attempts that
ran, whether the worker is up and how many pool processes it runs, pool processes lost, and how many
messages wait in the queue it consumes. The worker's values are read the way Prometheus reads them
(``/metrics``), and after its warm shutdown from its multiprocess directory.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.sinks.metrics.scrape import Samples, children, scrape, total, value, wait_for
from tests.sinks.otel.workers import AppWorker

pytestmark = pytest.mark.e2e

TIMEOUT = 30.0
ATTEMPTS = "selinon_task_attempts_total"


def _url(worker: AppWorker) -> str:
    return worker.metrics_url  # type: ignore[attr-defined, no-any-return]


def test_worker_is_up_with_its_pool(sampling_worker: AppWorker) -> None:
    """Once online, worker_up is 1 and the pool's two processes are counted, under the worker's name."""
    node = sampling_worker.node_name
    samples = wait_for(_url(sampling_worker), lambda s: value(s, "selinon_worker_up", hostname=node) == 1)
    assert value(samples, "selinon_worker_up", hostname=node) == 1
    assert value(samples, "selinon_worker_pool_processes", hostname=node) == 2
    assert total(samples, "selinon_worker_processes_lost_total") == 0


def test_revoked_expired_and_rejected_messages_are_counted(sampling_worker: AppWorker) -> None:
    """A revoke before start, an expiry, an unknown task and a terminated attempt: one outcome each."""
    app, queue = sampling_worker.app, sampling_worker.queue
    first = app.send_task("metrics.slow", args=[6])
    second = app.send_task("metrics.slow", args=[6])
    sampling_worker.active(2)  # the pool is busy: what follows waits in the worker
    expiring = app.send_task("metrics.ok", args=[1], expires=0.5)
    dropped = app.send_task("metrics.slow", args=[0.1])
    app.control.revoke(dropped.id)
    app.send_task("metrics.nope", args=[1])  # no such task in the worker
    time.sleep(1.0)  # the expiring message's deadline passes while it waits
    app.control.revoke(first.id, terminate=True, signal="SIGTERM")

    def counted(samples: Samples) -> bool:
        return (
            value(samples, ATTEMPTS, task_name="metrics.slow", queue=queue, outcome="revoked") >= 2
            and value(samples, ATTEMPTS, task_name="metrics.ok", queue=queue, outcome="expired") >= 1
            and value(samples, ATTEMPTS, task_name="metrics.nope", queue=queue, outcome="rejected") >= 1
            and value(samples, ATTEMPTS, task_name="metrics.slow", queue=queue, outcome="succeeded") >= 1
        )

    second.get(timeout=TIMEOUT)
    samples = wait_for(_url(sampling_worker), counted)
    slow = {"task_name": "metrics.slow", "queue": queue}
    assert value(samples, ATTEMPTS, **slow, outcome="revoked") == 2  # dropped, and the terminated one
    assert value(samples, ATTEMPTS, **slow, outcome="succeeded") == 1  # the second
    assert value(samples, ATTEMPTS, **slow, outcome="failed") == 0  # a terminated attempt is no failure
    assert value(samples, ATTEMPTS, task_name="metrics.ok", queue=queue, outcome="expired") == 1
    assert value(samples, ATTEMPTS, task_name="metrics.ok", queue=queue, outcome="succeeded") == 0
    assert value(samples, ATTEMPTS, task_name="metrics.nope", queue=queue, outcome="rejected") == 1
    assert expiring.state == "REVOKED" and dropped.state == "REVOKED"


def test_queue_length_follows_the_backlog(sampling_worker: AppWorker) -> None:
    """While the pool is busy the queue's length is sampled above 0 (priorities included); then 0."""
    app, queue = sampling_worker.app, sampling_worker.queue
    busy = [app.send_task("metrics.slow", args=[3]) for _ in range(2)]
    sampling_worker.active(2)
    # On Redis a priority puts a message in its own list ("<queue>\x06\x163"): counted too.
    options = {"priority": 5} if sampling_worker.broker.name == "redis" else {}
    backlog = [app.send_task("metrics.ok", args=[n], **options) for n in range(30)]
    seen: list[float] = []

    def waiting(samples: Samples) -> bool:
        seen.append(value(samples, "selinon_queue_length", queue=queue))
        return seen[-1] > 0

    wait_for(_url(sampling_worker), waiting, timeout=10)
    assert 0 < max(seen) <= 30, seen  # the rest is prefetched by the worker, not in the queue
    for result in busy + backlog:
        result.get(timeout=TIMEOUT)
    samples = wait_for(_url(sampling_worker), lambda s: value(s, "selinon_queue_length", queue=queue) == 0)
    assert value(samples, "selinon_queue_length", queue=queue) == 0


def test_a_killed_pool_process_is_counted_lost(sampling_worker: AppWorker) -> None:
    """SIGKILL of the pool process running a task: one process lost, the attempt failed (worker lost)."""
    app, queue, node = sampling_worker.app, sampling_worker.queue, sampling_worker.node_name
    before = scrape(_url(sampling_worker))
    failed = {"task_name": "metrics.slow", "queue": queue, "outcome": "failed"}
    result = app.send_task("metrics.slow", args=[8])
    (running,) = [task for task in sampling_worker.active(1) if task["id"] == result.id]
    assert running["worker_pid"] in children(sampling_worker.pid)
    os.kill(running["worker_pid"], signal.SIGKILL)
    samples = wait_for(
        _url(sampling_worker),
        lambda s: (
            value(s, "selinon_worker_processes_lost_total", hostname=node) >= 1
            and value(s, ATTEMPTS, **failed) > value(before, ATTEMPTS, **failed)
        ),
    )
    assert value(samples, "selinon_worker_processes_lost_total", hostname=node) == 1
    assert value(samples, ATTEMPTS, **failed) == value(before, ATTEMPTS, **failed) + 1
    # The pool replaced it: still two processes.
    assert value(samples, "selinon_worker_pool_processes", hostname=node) == 2


def test_after_a_warm_shutdown_the_worker_reads_down(sampling_worker: AppWorker) -> None:
    """The values left in the multiprocess directory say the worker went offline (an exporter's view)."""
    node = sampling_worker.node_name
    sampling_worker.stop()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=sampling_worker.env["METRICS_E2E_DIR"])
    text = generate_latest(registry).decode()
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert value(samples, "selinon_worker_up", hostname=node) == 0
    assert value(samples, "selinon_worker_pool_processes", hostname=node) == 0
    assert value(samples, "selinon_worker_processes_lost_total", hostname=node) == 1
