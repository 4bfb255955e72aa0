"""Celery canvas in the OpenTelemetry sink: each workflow is one trace with its members under its root."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from celery import chain, chord, group

import selinon_celery_trace
from tests.sinks.otel.collector import CONSUMER, PRODUCER, Collector, Span
from tests.sinks.otel.workers import AppWorker

pytestmark = pytest.mark.e2e

RESULT_TIMEOUT = 30.0
SETTLE = 1.0


def _workflow_spans(collector: Collector, ids: set[str], count: int) -> list[Span]:
    """Once every task of ``ids`` has its attempt span: the spans of every trace they are in."""

    def attempts(spans: list[Span]) -> list[Span]:
        return [s for s in spans if s.kind == CONSUMER and s.attributes.get("messaging.message.id") in ids]

    spans = collector.wait(lambda spans: len(attempts(spans)) >= count, settle=SETTLE)
    traces = {s.trace_id for s in spans if s.attributes.get("messaging.message.id") in ids}
    return [s for s in spans if s.trace_id in traces]


def _assert_one_tree(spans: list[Span], ids: set[str]) -> Span:
    """One trace; every span's parent is in it; the one root; each task a publish and an attempt under it."""
    assert len({s.trace_id for s in spans}) == 1, sorted({(s.trace_id, s.name) for s in spans})
    by_id = {s.span_id: s for s in spans}
    roots = [s for s in spans if not s.parent_id]
    assert len(roots) == 1, [s.name for s in roots]
    assert all(s.parent_id in by_id for s in spans if s.parent_id), "a parent that was never exported"
    for task_id in ids:
        mine = _of(task_id)
        (publish,) = [s for s in spans if s.kind == PRODUCER and mine(s)]
        (attempt,) = [s for s in spans if s.kind == CONSUMER and mine(s)]
        assert attempt.parent_id == publish.span_id
    return roots[0]


def _of(task_id: str) -> Callable[[Span], bool]:
    return lambda span: span.attributes.get("messaging.message.id") == task_id


@pytest.fixture
def traced_client(sink_worker: AppWorker) -> Iterator[AppWorker]:
    """The test process traces its publishes too, as a client would (flushed by ``_flushed``)."""
    selinon_celery_trace.install(sink_worker.app)
    yield sink_worker
    selinon_celery_trace.uninstall(sink_worker.app)


def _flushed(worker: AppWorker) -> None:
    """The client's spans exported now (its batch processor would wait seconds)."""
    selinon_celery_trace.uninstall(worker.app)
    selinon_celery_trace.install(worker.app)


def test_chain_is_one_trace(traced_client: AppWorker, collector: Collector) -> None:
    """A chain of 3: each step's publish is a child of the step before it, in the first step's trace."""
    add = traced_client.app.signature("otel.add")
    result = chain(add.clone((1, 1)), add.clone((2,)), add.clone((3,))).apply_async()
    assert result.get(timeout=RESULT_TIMEOUT) == 7
    ids = {str(result.id), str(result.parent.id), str(result.parent.parent.id)}
    _flushed(traced_client)
    spans = _workflow_spans(collector, ids, 3)
    root = _assert_one_tree(spans, ids)
    assert _of(str(result.parent.parent.id))(root) and root.kind == PRODUCER


def test_group_is_one_trace(traced_client: AppWorker, collector: Collector) -> None:
    """A group of 4 from a client with no trace of its own: one trace, the members side by side."""
    add = traced_client.app.signature("otel.add")
    result = group(add.clone((n, n)) for n in range(4)).apply_async()
    assert result.get(timeout=RESULT_TIMEOUT) == [0, 2, 4, 6]
    ids = {str(r.id) for r in result.results}
    _flushed(traced_client)
    spans = _workflow_spans(collector, ids, 4)
    root = _assert_one_tree(spans, ids)
    assert root.attributes.get("selinon.group_id") == str(result.id)
    publishes = [s for s in spans if s.kind == PRODUCER]
    assert {s.parent_id for s in publishes} == {root.span_id}


def test_chord_is_one_trace(traced_client: AppWorker, collector: Collector) -> None:
    """A chord of 3+1: its header members and its body in one trace."""
    add, total = traced_client.app.signature("otel.add"), traced_client.app.signature("otel.total")
    result = chord(add.clone((n, 1)) for n in range(3))(total)
    assert result.get(timeout=RESULT_TIMEOUT) == 6
    header = {str(r.id) for r in result.parent.results}
    ids = {*header, str(result.id)}
    _flushed(traced_client)
    spans = _workflow_spans(collector, ids, 4)
    _assert_one_tree(spans, ids)
