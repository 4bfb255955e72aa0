"""The Sentry sink in a real prefork worker on Redis, sending to the local envelope server."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.support import Broker
from tests.sinks.sentry.envelopes import EnvelopeServer, SilentServer, closed_port
from tests.sinks.sentry.workers import SentryWorker, started

pytestmark = pytest.mark.e2e

RESULT_TIMEOUT = 30.0
SETTLE = 1.5  # seconds a late duplicate has to arrive before a test counts events


def _tag(event: dict[str, Any], key: str) -> Any:
    return (event.get("tags") or {}).get(key)


def _tagged(**tags: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: all(_tag(event, key) == value for key, value in tags.items())


def _mentions(text: str) -> Callable[[dict[str, Any]], bool]:
    # Any event about this failure, tagged or not: its exception value or message names it.
    def where(event: dict[str, Any]) -> bool:
        values = (event.get("exception") or {}).get("values") or []
        found = any(text in str(value.get("value")) for value in values)
        return found or text in str(event.get("message") or event.get("logentry") or "")

    return where


def _exception(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event["exception"]["values"][-1])


def _crumbs(event: dict[str, Any]) -> list[dict[str, Any]]:
    return list((event.get("breadcrumbs") or {}).get("values") or [])


def _trace_crumbs(event: dict[str, Any]) -> list[str]:
    return [crumb["message"] for crumb in _crumbs(event) if crumb.get("category") == "selinon_trace"]


def _fail_task(worker: SentryWorker, message: str) -> str:
    result = worker.app.send_task("sentry.boom", args=[message])
    result.get(timeout=RESULT_TIMEOUT, propagate=False)
    return str(result.id)


def _one_failure_event(server: EnvelopeServer, task_id: str, message: str) -> dict[str, Any]:
    tagged = server.wait_events(1, _tagged(task_id=task_id), settle=SETTLE)
    about = server.events(_mentions(message))
    assert len(tagged) == 1, tagged
    assert len(about) == 1, [(e.get("tags"), e.get("logger")) for e in about]
    return tagged[0]


def test_failing_task_gives_one_tagged_event_with_its_history(
    sink_worker: SentryWorker, envelope_server: EnvelopeServer
) -> None:
    """A failing task with our sink alone gives one event: tags, the real exception, and its breadcrumbs."""
    message = f"boom-{uuid.uuid4().hex}"
    task_id = _fail_task(sink_worker, message)
    event = _one_failure_event(envelope_server, task_id, message)

    tags = event["tags"]
    assert tags["event"] == "TASK_FAILURE"
    assert tags["task_name"] == "sentry.boom"
    assert tags["queue"] == sink_worker.queue
    assert tags["hostname"] == sink_worker.node_name
    assert _exception(event)["type"] == "ValueError" and _exception(event)["value"] == message
    assert _exception(event)["stacktrace"]["frames"], "the real exception, with its frames"
    assert "TASK_START" in _trace_crumbs(event)
    # Sentry's own breadcrumbs of the task (the logging integration's) are kept beside ours.
    assert any("about to fail" in str(crumb.get("message")) for crumb in _crumbs(event))
    assert event["contexts"]["selinon_trace"]["task_id"] == task_id


def test_failing_flow_gives_flow_failure_with_the_flows_history(
    sink_worker: SentryWorker, envelope_server: EnvelopeServer
) -> None:
    """A flow whose node fails gives one FLOW_FAILURE event carrying the dispatcher's view of the flow."""
    message = f"flow-{uuid.uuid4().hex}"
    result = sink_worker.app.send_task("sentry.flow", args=[message])
    result.get(timeout=RESULT_TIMEOUT, propagate=False)
    flow_id = str(result.id)

    flow_events = envelope_server.wait_events(
        1, _tagged(dispatcher_id=flow_id, event="FLOW_FAILURE"), settle=SETTLE
    )
    assert len(flow_events) == 1, flow_events
    event = flow_events[0]
    assert event["tags"]["flow_name"] == "sentry.flow"
    assert _exception(event)["type"] == "FlowFailed"
    history = _trace_crumbs(event)
    assert "DISPATCHER_WAKEUP" in history and "NODE_FAILURE" in history, history
    failed = event["contexts"]["selinon_trace"]["state"]["failed_nodes"]
    assert [node["name"] for node in failed] == ["parse"]
    # The failing node itself: one TASK_FAILURE (its process) and one NODE_FAILURE (the dispatcher's).
    by_name = [_tag(e, "event") for e in envelope_server.events(_tagged(dispatcher_id=flow_id))]
    assert sorted(by_name) == ["FLOW_FAILURE", "NODE_FAILURE", "TASK_FAILURE"], by_name


def test_user_sentry_init_with_celery_integration_gives_one_enriched_event(
    user_worker: SentryWorker, envelope_server: EnvelopeServer
) -> None:
    """With the app's own sentry_sdk.init (Celery integration on) a failing task is one event, ours-tagged."""
    message = f"user-{uuid.uuid4().hex}"
    task_id = _fail_task(user_worker, message)
    event = _one_failure_event(envelope_server, task_id, message)
    assert event["tags"]["event"] == "TASK_FAILURE"
    assert event["tags"]["task_name"] == "sentry.boom"
    assert _exception(event)["mechanism"]["type"] == "celery", "Sentry's own capture, enriched"
    assert "TASK_START" in _trace_crumbs(event)


def test_logging_sink_beside_sentry_adds_no_event(
    logging_worker: SentryWorker, envelope_server: EnvelopeServer
) -> None:
    """With our logging sink active too, a failing task is one event and its log records only breadcrumbs."""
    message = f"logged-{uuid.uuid4().hex}"
    task_id = _fail_task(logging_worker, message)
    event = _one_failure_event(envelope_server, task_id, message)
    assert event["tags"]["event"] == "TASK_FAILURE"
    assert not envelope_server.events(lambda e: "SELINON" in str(e.get("logentry") or e.get("message")))
    # The logging sink's records are not repeated as breadcrumbs: ours are the structured form.
    assert not [c for c in _crumbs(event) if "SELINON" in str(c.get("message"))]


def test_dispatcher_failure_is_one_event_with_logging_sink(
    logging_worker: SentryWorker, envelope_server: EnvelopeServer
) -> None:
    """A dispatcher's own error (logged at ERROR by our logging sink) is one event: DISPATCHER_FAILURE."""
    message = f"broken-{uuid.uuid4().hex}"
    result = logging_worker.app.send_task("sentry.broken_flow", args=[message])
    result.get(timeout=RESULT_TIMEOUT, propagate=False)
    flow_id = str(result.id)
    events = envelope_server.wait_events(1, _tagged(dispatcher_id=flow_id), settle=SETTLE)
    assert [_tag(e, "event") for e in events] == ["DISPATCHER_FAILURE"]
    assert _exception(events[0])["type"] == "KeyError"
    assert len(envelope_server.events(_mentions(message))) == 1


def test_recycled_children_lose_nothing(
    recycling_worker: SentryWorker, envelope_server: EnvelopeServer
) -> None:
    """With worker_max_tasks_per_child=1 each failing task's event arrives once, though its process exits."""
    messages = [f"recycled-{uuid.uuid4().hex}" for _ in range(4)]
    results = [recycling_worker.app.send_task("sentry.boom", args=[m]) for m in messages]
    for result in results:
        result.get(timeout=RESULT_TIMEOUT, propagate=False)
    ids = {str(result.id) for result in results}
    envelope_server.wait_events(len(ids), lambda e: _tag(e, "task_id") in ids, settle=SETTLE)
    for result, message in zip(results, messages, strict=True):
        assert len(envelope_server.events(_tagged(task_id=str(result.id)))) == 1, message
        assert len(envelope_server.events(_mentions(message))) == 1, message


def _latencies(worker: SentryWorker, runs: int) -> list[float]:
    worker.app.send_task("sentry.ok", args=[1]).get(timeout=RESULT_TIMEOUT)  # warm the pool
    found = []
    for run in range(runs):
        started_at = time.perf_counter()
        worker.app.send_task("sentry.boom", args=[f"latency-{run}"]).get(
            timeout=RESULT_TIMEOUT, propagate=False
        )
        found.append(time.perf_counter() - started_at)
    return found


LATENCY_BOUND = 0.25  # seconds of median task latency an unreachable Sentry may add
SHUTDOWN_BOUND = 6.0  # seconds of warm shutdown an unreachable Sentry may add


def test_unreachable_sentry_never_slows_tasks_or_shutdown(
    sentry_broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With Sentry on a closed port or hung, failing tasks and warm shutdown stay close to no Sentry."""
    silent = SilentServer().start()
    try:
        workers = {
            "none": SentryWorker(sentry_broker, tmp_path_factory.mktemp("w"), {"SENTRY_E2E_MODE": "none"}),
            "closed": SentryWorker(
                sentry_broker,
                tmp_path_factory.mktemp("w"),
                {"SENTRY_E2E_MODE": "sink", "SENTRY_E2E_DSN": f"http://public@127.0.0.1:{closed_port()}/1"},
            ),
            "silent": SentryWorker(
                sentry_broker,
                tmp_path_factory.mktemp("w"),
                {"SENTRY_E2E_MODE": "sink", "SENTRY_E2E_DSN": silent.dsn},
            ),
        }
        medians: dict[str, float] = {}
        stops: dict[str, float] = {}
        with started(*workers.values()):
            for name, worker in workers.items():
                medians[name] = statistics.median(_latencies(worker, 6))
            for name, worker in workers.items():
                worker.stop()
                assert worker.stop_seconds is not None
                stops[name] = worker.stop_seconds
        print(f"median failing-task latency: {medians}; warm shutdown: {stops}")
        assert silent.connections > 0, "the hung server was really tried"
        for name in ("closed", "silent"):
            assert medians[name] - medians["none"] < LATENCY_BOUND, (name, medians)
            assert stops[name] - stops["none"] < SHUTDOWN_BOUND, (name, stops)
    finally:
        silent.stop()
