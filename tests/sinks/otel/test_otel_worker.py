"""The OpenTelemetry sink in a real prefork worker on Redis, exporting through the real OTLP/HTTP exporter."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import selinon_celery_trace
from tests.sinks.otel import proj
from tests.sinks.otel.collector import (
    CONSUMER,
    ERROR,
    INTERNAL,
    PRODUCER,
    STALLED_EXPORT_TIMEOUT,
    Collector,
    Span,
)
from tests.sinks.otel.workers import AppWorker

pytestmark = pytest.mark.e2e

RESULT_TIMEOUT = 30.0
SETTLE = 1.0  # seconds a late duplicate has to arrive before a test counts spans
OURS = "selinon_celery_trace"
INSTRUMENTATION = "opentelemetry.instrumentation.celery"


def _attr(key: str, value: Any) -> Callable[[Span], bool]:
    return lambda span: span.attributes.get(key) == value


def _ancestors(span: Span, spans: list[Span]) -> list[str]:
    by_id = {s.span_id: s for s in spans}
    found, parent = [], span.parent_id
    while parent and parent not in found:
        found.append(parent)
        parent = by_id[parent].parent_id if parent in by_id else ""
    return found


@contextmanager
def _published(worker: AppWorker) -> Iterator[None]:
    """Our sink in the test process too (TASK_SCHEDULE), as a client would install it."""
    selinon_celery_trace.install(worker.app)
    try:
        yield
    finally:
        selinon_celery_trace.uninstall(worker.app)  # flushes and shuts down its provider


def _run_flow(worker: AppWorker) -> str:
    result = worker.app.send_task("otel.flow", args=[f"flow-{uuid.uuid4().hex}"])
    result.get(timeout=RESULT_TIMEOUT, propagate=False)
    assert result.state == "FAILURE"
    return str(result.id)


def _flow_done(flow_id: str) -> Callable[[list[Span]], bool]:
    # The flow's span, the failing node's attempt and the retried node's second attempt are all in.
    def done(spans: list[Span]) -> bool:
        mine = [s for s in spans if s.attributes.get("selinon.dispatcher_id") == flow_id]
        return (
            any(s.name == "flow/otel.flow" for s in mine)
            and any(s.name == "run/otel.boom" for s in mine)
            and any(
                s.name == "run/otel.flaky" and s.attributes.get("selinon.retried_count") == 1 for s in mine
            )
        )

    return done


def test_flow_is_one_trace_under_its_span(sink_worker: AppWorker, collector: Collector) -> None:
    """A flow with a retrying and a failing node is one trace: its span parents executions and nodes."""
    with _published(sink_worker):
        flow_id = _run_flow(sink_worker)
    spans = collector.wait(_flow_done(flow_id), settle=SETTLE)
    (flow,) = [s for s in spans if s.name == "flow/otel.flow" and _attr("selinon.dispatcher_id", flow_id)(s)]
    trace = [s for s in spans if s.trace_id == flow.trace_id]
    assert flow.kind == INTERNAL and flow.status == ERROR and flow.parent_id == ""
    assert dict(flow.events)["exception"]["exception.type"].endswith("FlowFailed")
    # Every span of the flow, the client's publish of it included, is in the flow's one trace.
    related = [s for s in spans if s.attributes.get("selinon.dispatcher_id") == flow_id]
    assert {s.trace_id for s in related} == {flow.trace_id}
    (submitted,) = [
        s for s in trace if s.kind == PRODUCER and s.attributes.get("messaging.message.id") == flow_id
    ]
    assert submitted.parent_id == flow.span_id and submitted.name == "apply_async/otel.flow"

    executions = sorted((s for s in trace if s.name == "run/otel.flow"), key=lambda s: s.start)
    assert len(executions) >= 2 and all(
        s.kind == CONSUMER and s.parent_id == flow.span_id for s in executions
    )
    assert executions[0].event_names()[:2] == ["DISPATCHER_WAKEUP", "FLOW_START"]
    assert executions[-1].attributes["selinon.event"] == "FLOW_FAILURE" and flow.end == executions[-1].end
    assert any("NODE_FAILURE" in s.event_names() for s in executions)
    if flow.attributes["selinon.start_exact"]:
        assert flow.start <= executions[0].start
    else:  # the process ending the flow did not see its start: no start earlier than its own execution
        assert flow.start == executions[-1].start

    attempts = sorted(
        (s for s in trace if s.name == "run/otel.flaky"), key=lambda s: s.attributes["selinon.retried_count"]
    )
    assert [a.attributes["selinon.event"] for a in attempts] == ["TASK_RETRY", "TASK_END"]
    assert "TASK_RETRY" in attempts[0].event_names() and attempts[1].status != ERROR
    (failed,) = [s for s in trace if s.name == "run/otel.boom"]
    assert failed.status == ERROR and failed.kind == CONSUMER
    exception = dict(failed.events)["exception"]
    assert exception["exception.type"] == "ValueError" and exception["exception.message"].startswith("flow-")
    assert failed.attributes["messaging.system"] == "celery"
    assert failed.attributes["messaging.destination.name"] == sink_worker.queue
    assert failed.attributes["selinon.node_name"] == "parse"
    for node in (*attempts, failed):
        assert flow.span_id in _ancestors(node, trace), node.name
    (publish,) = [s for s in trace if s.span_id == failed.parent_id]
    assert publish.kind == PRODUCER and publish.parent_id in {e.span_id for e in executions}


def test_failing_task_is_a_publish_and_a_failed_attempt(sink_worker: AppWorker, collector: Collector) -> None:
    """A failing task gives the client's PRODUCER span and the worker's CONSUMER span under it, in error."""
    message = f"boom-{uuid.uuid4().hex}"
    with _published(sink_worker):
        result = sink_worker.app.send_task("otel.boom", args=[message])
        result.get(timeout=RESULT_TIMEOUT, propagate=False)
    task_id = str(result.id)
    mine = _attr("messaging.message.id", task_id)
    spans = collector.wait(lambda spans: len([s for s in spans if mine(s)]) >= 2, settle=SETTLE)
    by_kind = {s.kind: s for s in spans if mine(s)}
    assert len([s for s in spans if mine(s)]) == 2, "one publish, one attempt"
    publish, attempt = by_kind[PRODUCER], by_kind[CONSUMER]
    assert publish.parent_id == "" and attempt.parent_id == publish.span_id
    assert attempt.trace_id == publish.trace_id and attempt.name == "run/otel.boom"
    assert attempt.status == ERROR and attempt.attributes["selinon.event"] == "TASK_FAILURE"
    exception = dict(attempt.events)["exception"]
    assert exception["exception.type"] == "ValueError" and exception["exception.message"] == message
    assert "Traceback" in exception["exception.stacktrace"]
    assert attempt.attributes["messaging.destination.name"] == sink_worker.queue
    assert attempt.service == "otel-e2e" and attempt.scope == OURS


def test_a_replacement_is_its_own_publish_and_attempt(sink_worker: AppWorker, collector: Collector) -> None:
    """Task.replace: the replacement (same task id) is published under the replaced attempt and runs in a
    span of its own, marked as the replacement; the replaced attempt's span says what replaced it."""
    with _published(sink_worker):
        result = sink_worker.app.send_task("otel.replaced", args=[41])
        assert result.get(timeout=RESULT_TIMEOUT) == 42
    task_id = str(result.id)
    mine = _attr("messaging.message.id", task_id)
    spans = collector.wait(lambda spans: len([s for s in spans if mine(s)]) >= 4, settle=SETTLE)
    ours = [s for s in spans if mine(s)]
    assert sorted((s.kind, s.name) for s in ours) == sorted(
        [
            (PRODUCER, "apply_async/otel.replaced"),
            (CONSUMER, "run/otel.replaced"),
            (PRODUCER, "apply_async/otel.add"),
            (CONSUMER, "run/otel.add"),
        ]
    ), [(s.kind, s.name) for s in ours]
    by_name = {s.name: s for s in ours}
    replaced, replacement = by_name["run/otel.replaced"], by_name["run/otel.add"]
    assert replaced.span_id != replacement.span_id and len({s.trace_id for s in ours}) == 1
    assert replaced.attributes["selinon.replaced_by"] == "otel.add"
    assert replaced.attributes["selinon.state"] == "IGNORED"
    republished = by_name["apply_async/otel.add"]
    assert republished.parent_id == replaced.span_id and replacement.parent_id == republished.span_id
    assert republished.attributes["selinon.replaces"] == "otel.replaced"
    assert replacement.attributes["selinon.replaces"] == "otel.replaced"
    assert replacement.attributes["selinon.replacement"] == 1
    assert replacement.attributes["selinon.event"] == "TASK_END"
    assert "selinon.replaces" not in replaced.attributes


def test_with_celery_instrumentation_one_trace_and_no_duplicate_spans(
    instrumented_worker: AppWorker, collector: Collector
) -> None:
    """With CeleryInstrumentor on both sides its spans carry our attributes; our flow span joins its trace."""
    provider = proj.instrument(collector.endpoint, "otel-e2e-publisher")
    try:
        flow_id = _run_flow(instrumented_worker)
    finally:
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        provider.force_flush(5000)
        CeleryInstrumentor().uninstrument()
        provider.shutdown()
    spans = collector.wait(_flow_done(flow_id), settle=SETTLE)
    publisher = [s for s in spans if s.service == "otel-e2e-publisher"]
    (submitted,) = [s for s in publisher if s.kind == PRODUCER and _attr("messaging.message.id", flow_id)(s)]
    trace = [s for s in spans if s.trace_id == submitted.trace_id]
    assert submitted.scope == INSTRUMENTATION and submitted.name == "apply_async/otel.flow"
    # Ours is the flow's span only: the task spans are the instrumentation's, one per attempt.
    (flow,) = [s for s in trace if s.scope == OURS]
    assert flow.name == "flow/otel.flow" and flow.status == ERROR and flow.attributes["selinon.start_exact"]
    executions = sorted((s for s in trace if s.name == "run/otel.flow"), key=lambda s: s.start)
    assert executions and all(s.scope == INSTRUMENTATION for s in executions)
    assert flow.parent_id == executions[0].span_id and flow.start <= executions[1].start
    assert "FLOW_START" in executions[0].event_names()
    assert executions[-1].attributes["selinon.dispatcher_id"] == flow_id
    flaky = sorted(
        (s for s in trace if s.name == "run/otel.flaky"), key=lambda s: s.attributes["selinon.retried_count"]
    )
    failed = [s for s in trace if s.name == "run/otel.boom"]
    assert len(flaky) == 2 and len(failed) == 1, [s.name for s in trace]
    for attempt in (*flaky, *failed):
        assert attempt.kind == CONSUMER and attempt.scope == INSTRUMENTATION
        assert attempt.attributes["selinon.flow_name"] == "otel.flow"
        assert attempt.attributes["messaging.destination.name"] == instrumented_worker.queue
        assert flow.span_id in _ancestors(attempt, trace), attempt.name
    assert "TASK_RETRY" in flaky[0].event_names() and flaky[0].attributes["selinon.event"] == "TASK_RETRY"
    assert failed[0].status == ERROR and "TASK_FAILURE" in failed[0].event_names()
    related = [s for s in spans if s.attributes.get("selinon.dispatcher_id") == flow_id]
    assert {s.trace_id for s in related} == {submitted.trace_id}


def test_recycled_pool_processes_lose_no_span(recycling_worker: AppWorker, collector: Collector) -> None:
    """With ``worker_max_tasks_per_child=1`` each attempt's span is flushed before its process exits."""
    count = 6
    with _published(recycling_worker):
        results = [recycling_worker.app.send_task("otel.ok", args=[n]) for n in range(count)]
        assert [r.get(timeout=RESULT_TIMEOUT) for r in results] == list(range(count))
    ids = {str(r.id) for r in results}

    def attempts(spans: list[Span]) -> list[Span]:
        return [s for s in spans if s.kind == CONSUMER and s.attributes.get("messaging.message.id") in ids]

    spans = attempts(collector.wait(lambda spans: len(attempts(spans)) >= count, settle=SETTLE))
    assert sorted(s.attributes["messaging.message.id"] for s in spans) == sorted(ids)
    assert all(s.attributes["selinon.event"] == "TASK_END" and s.parent_id for s in spans)


def test_a_collector_that_never_answers_holds_no_task(stalled_worker: AppWorker) -> None:
    """Exports that hang until their timeout run beside the tasks: every task is done long before one ends."""
    began = time.monotonic()
    results = [stalled_worker.app.send_task("otel.ok", args=[n]) for n in range(40)]
    assert [r.get(timeout=RESULT_TIMEOUT) for r in results] == list(range(40))
    elapsed = time.monotonic() - began
    # A task that waited for an export would wait STALLED_EXPORT_TIMEOUT; 40 tasks on 2 processes, 20 times.
    assert elapsed < STALLED_EXPORT_TIMEOUT / 2, f"40 tasks took {elapsed:.1f} s"
    # The worker still works afterwards: a failing task fails as usual.
    failing = stalled_worker.app.send_task("otel.boom", args=["still failing"])
    failing.get(timeout=RESULT_TIMEOUT, propagate=False)
    assert failing.state == "FAILURE" and str(failing.result) == "still failing"


def test_a_dead_collector_costs_a_recycled_pool_process_almost_nothing_at_exit(
    dead_collector_recycling_worker: AppWorker,
) -> None:
    """Refused exports, a fresh process per task: each exit waits for the collector ~0.1 s, not seconds."""
    worker = dead_collector_recycling_worker
    exits = Path(worker.env["OTEL_E2E_EXIT_LOG"])
    results = [worker.app.send_task("otel.ok", args=[n]) for n in range(6)]
    assert [r.get(timeout=RESULT_TIMEOUT) for r in results] == list(range(6))

    def costs() -> list[float]:
        lines = exits.read_text().split("\n") if exits.exists() else []
        return [float(line.split()[1]) for line in lines if line]

    deadline = time.monotonic() + RESULT_TIMEOUT
    while len(costs()) < 5 and time.monotonic() < deadline:  # the sixth may still be running its exit
        time.sleep(0.1)
    seen = costs()
    assert len(seen) >= 5, f"pool processes that exited: {seen}"
    assert max(seen) < 0.5, f"seconds each pool process's exit waited for the dead collector: {seen}"
    print(f"\ndead collector: exit waits {seen} s")
