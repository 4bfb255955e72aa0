"""A message's fate in its OpenTelemetry trace, from a real prefork worker on Redis and RabbitMQ.

The publish's trace ends with a zero-length CONSUMER span that says what became of the message:
``revoked/<task>`` (before it started, or its attempt terminated), ``expired/<task>``,
``rejected/<task>``; a pool process killed under a task is a span under that attempt's failure.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from tests.sinks.otel.collector import CONSUMER, ERROR, INTERNAL, PRODUCER, Collector, Span
from tests.sinks.otel.test_otel_worker import _published
from tests.sinks.otel.workers import AppWorker

pytestmark = pytest.mark.e2e

TIMEOUT = 30.0
SETTLE = 1.0
UNSET = 0


def _of(task_id: str) -> Callable[[Span], bool]:
    return lambda span: span.attributes.get("messaging.message.id") == task_id


def _publish(spans: list[Span], task_id: str) -> Span:
    (found,) = [s for s in spans if _of(task_id)(s) and s.kind == PRODUCER]
    return found


def _fate(spans: list[Span], task_id: str) -> Span:
    found = [s for s in spans if _of(task_id)(s) and s.attributes.get("selinon.fate")]
    assert len(found) == 1, f"one fate span per message, not {[s.name for s in found]}"
    return found[0]


def test_each_fate_ends_its_publish_trace(fates_worker: AppWorker, collector: Collector) -> None:
    """Revoked (dropped, terminated), expired, rejected: each a CONSUMER span under its publish."""
    app = fates_worker.app
    with _published(fates_worker):
        first = app.send_task("otel.slow", args=[6])
        second = app.send_task("otel.slow", args=[6])
        fates_worker.active(2)  # the pool is busy: what follows waits in the worker
        expiring = app.send_task("otel.ok", args=[1], expires=0.5)
        dropped = app.send_task("otel.slow", args=[0.1])
        app.control.revoke(dropped.id)
        unknown = app.send_task("otel.nope", args=[1])
        time.sleep(1.0)  # the expiring message's deadline passes while it waits
        app.control.revoke(first.id, terminate=True, signal="SIGTERM")
        second.get(timeout=TIMEOUT)
    ids = {"terminated": first.id, "expired": expiring.id, "dropped": dropped.id, "unknown": unknown.id}

    def done(spans: list[Span]) -> bool:
        return all(any(_of(i)(s) and s.attributes.get("selinon.fate") for s in spans) for i in ids.values())

    spans = collector.wait(done, timeout=TIMEOUT, settle=SETTLE)
    for what, task_id in ids.items():
        fate, publish = _fate(spans, task_id), _publish(spans, task_id)
        assert (fate.trace_id, fate.parent_id) == (publish.trace_id, publish.span_id), what
        assert fate.kind == CONSUMER and fate.start == fate.end, what
        assert fate.attributes["messaging.operation.type"] == "settle", what
        assert fate.attributes["messaging.destination.name"] == fates_worker.queue, what
        assert fate.event_names() == [fate.attributes["selinon.event"]], what

    terminated = _fate(spans, first.id)
    assert terminated.name == "revoked/otel.slow" and terminated.status == UNSET  # someone chose it
    assert terminated.attributes["selinon.terminated"] is True
    assert terminated.attributes["selinon.signal"] == "SIGTERM"
    dropped_span = _fate(spans, dropped.id)
    assert dropped_span.name == "revoked/otel.slow" and dropped_span.status == UNSET
    assert dropped_span.attributes["selinon.terminated"] is False
    assert dropped_span.attributes["selinon.reason"] == "revoked by task id"
    expired = _fate(spans, expiring.id)
    assert expired.name == "expired/otel.ok" and expired.status == ERROR
    assert expired.attributes["selinon.late"] >= 0.5 and expired.attributes["selinon.expires"]
    rejected = _fate(spans, unknown.id)
    assert rejected.name == "rejected/otel.nope" and rejected.status == ERROR
    assert rejected.attributes["selinon.kind"] == "unregistered"
    # Nothing ran for the dropped, expired and rejected messages.
    for task_id in (dropped.id, expiring.id, unknown.id):
        assert not [s for s in spans if _of(task_id)(s) and s.name.startswith("run/")]


def test_a_killed_pool_process_is_a_span_under_its_failure(
    fates_worker: AppWorker, collector: Collector
) -> None:
    """SIGKILL of the pool process running a task: the failure span, and worker_process_lost under it."""
    app = fates_worker.app
    with _published(fates_worker):
        result = app.send_task("otel.slow", args=[8])
        (running,) = [t for t in fates_worker.active(1) if t["id"] == result.id]
        os.kill(running["worker_pid"], signal.SIGKILL)
        result.get(timeout=TIMEOUT, propagate=False)

    def done(spans: list[Span]) -> bool:
        return any(
            s.name == "worker_process_lost" for s in spans if s.attributes.get("selinon.task_id") == result.id
        )

    spans = collector.wait(done, timeout=TIMEOUT, settle=SETTLE)
    (failure,) = [s for s in spans if _of(result.id)(s) and s.kind == CONSUMER and s.status == ERROR]
    assert failure.attributes["selinon.exc_type"] == "WorkerLostError"
    (lost,) = [
        s
        for s in spans
        if s.name == "worker_process_lost" and s.attributes.get("selinon.task_id") == result.id
    ]
    assert lost.kind == INTERNAL and (lost.trace_id, lost.parent_id) == (failure.trace_id, failure.span_id)
    assert lost.attributes["selinon.process_pid"] == running["worker_pid"]
    assert lost.attributes["selinon.signal"] == "SIGKILL"
