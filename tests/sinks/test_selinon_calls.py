"""Selinon's own ``Trace.log`` calls, replayed through every built-in sink: each writes what Selinon meant.

``tests/data/selinon_calls.json`` holds the call shape of every ``Trace.log`` call site in Selinon's
sources (one dict, dict + dict, dict + keyword arguments, keyword arguments only), with the keys
Selinon passes. All sinks are registered at once behind a function sink that changes everything it is
given, as a careless user sink might: the later sinks, and the caller's own data, must not see it.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import platform
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from selinon_celery_trace import Trace
from selinon_celery_trace.cli.reading.broker import Watcher
from selinon_celery_trace.sinks import JsonFileSink, JsonStreamSink
from selinon_celery_trace.sinks.events import CeleryEventSink
from selinon_celery_trace.sinks.metrics import MetricsSink
from selinon_celery_trace.sinks.otel import OtelSink
from selinon_celery_trace.sinks.sentry import SentrySink
from tests import brokers
from tests.sinks.otel.collector import ERROR, Collector
from tests.sinks.sentry.conftest import reset_sentry
from tests.sinks.sentry.envelopes import EnvelopeServer

CALLS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "selinon_calls.json").read_text(encoding="utf-8")
)["calls"]
SENTRY_EVENTS = ["TASK_FAILURE", "NODE_FAILURE", "FLOW_FAILURE", "DISPATCHER_FAILURE"]  # the default ones


def _merged(call: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for part in call["dicts"]:
        details.update(part)
    details.update(call["kwargs"])
    return details


EXPECTED = [(call["event"], _merged(call)) for call in CALLS]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def envelopes() -> Iterator[EnvelopeServer]:
    """A local envelope endpoint, and the application's Sentry client sending to it.

    The client is the application's, without sentry-sdk's default integrations: a client the sink made
    would enable Sentry's Celery integration, which patches Celery's tracer for the rest of the session.
    """
    import sentry_sdk

    server = EnvelopeServer().start()
    sentry_sdk.init(dsn=server.dsn, default_integrations=False)
    yield server
    reset_sentry()
    server.stop()


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector().start()
    yield server
    server.stop()


@pytest.fixture
def watched() -> Iterator[tuple[Celery, str, list[dict[str, Any]]]]:
    """A Celery app on Redis and a Watcher receiving its trace events (``selinon-trace watch``)."""
    app = Celery("selinon_calls", broker=brokers.redis_url(), set_as_current=False)
    event_type = f"selinon-calls-{time.monotonic_ns()}"
    received: list[dict[str, Any]] = []
    ready = threading.Event()
    watcher = Watcher(
        app,
        received.append,
        lambda event, count: None,
        lambda message: ready.set() if "watching" in message else None,
        event_type,
    )
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    assert ready.wait(15)
    yield app, event_type, received
    watcher.should_stop = True
    thread.join(timeout=10)


def test_selinon_call_sites_through_every_sink(
    tmp_path: Path,
    envelopes: EnvelopeServer,
    collector: Collector,
    watched: tuple[Celery, str, list[dict[str, Any]]],
) -> None:
    """Every Selinon call shape reaches every sink with Selinon's details, untouched by a mutating sink."""
    pristine = copy.deepcopy(CALLS)
    called: list[tuple[str, dict[str, Any]]] = []

    def careless(event: int, details: dict[str, Any]) -> None:
        called.append((Trace.event2str(event), copy.deepcopy(details)))
        for value in details.values():  # change everything it was given, at any depth
            if isinstance(value, (dict, list)):
                value.clear()
        details.clear()
        details["changed"] = True

    logger = logging.getLogger("tests.selinon_calls")
    handler = _Records()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    stdout, stderr = io.StringIO(), io.StringIO()
    app, event_type, watched_events = watched
    events_sink = CeleryEventSink(app, event_type=event_type)
    otel = OtelSink(endpoint=collector.endpoint)
    metrics = MetricsSink(port=None)
    try:
        Trace.trace_by_func(careless)
        Trace.trace_by_logging(logger)
        Trace.add_sink(JsonStreamSink(stdout=stdout, stderr=stderr))
        Trace.add_sink(JsonFileSink(tmp_path / "trace.jsonl"))
        Trace.add_sink(events_sink)
        Trace.add_sink(SentrySink(None))  # the application's client
        Trace.add_sink(otel)
        Trace.add_sink(metrics)
        for call in CALLS:
            Trace.log(getattr(Trace, call["event"]), *call["dicts"], **call["kwargs"])
        assert events_sink.flush(timeout=10)
        otel.flush(10)
    finally:
        logger.removeHandler(handler)

    # The function sink got Selinon's merged details, each time a copy of its own: the caller's data
    # and the sinks after it never saw its changes.
    assert called == EXPECTED
    assert pristine == CALLS

    lines = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["event"], r["details"]) for r in lines] == EXPECTED
    assert all(r["node"] == platform.node() and r["time"].endswith("+00:00") for r in lines)

    warned = set(Trace.WARN_EVENTS)
    out = [json.loads(line) for line in stdout.getvalue().splitlines()]
    err = [json.loads(line) for line in stderr.getvalue().splitlines()]
    assert [(r["event"], r["details"]) for r in out] == [
        e for e in EXPECTED if getattr(Trace, e[0]) not in warned
    ]
    assert [(r["event"], r["details"]) for r in err] == [
        e for e in EXPECTED if getattr(Trace, e[0]) in warned
    ]

    prefix = f"SELINON {platform.node():>10} - "
    logged = []
    for record in handler.records:
        message = record.getMessage()
        name, _, text = message[len(prefix) :].partition(" : ")
        assert message.startswith(prefix), message
        report = json.loads(text)
        assert list(report) == ["details", "event", "time"] and report["event"] == name
        event = getattr(Trace, name)
        level = (
            logging.ERROR
            if name == "DISPATCHER_FAILURE"
            else logging.WARNING
            if event in warned
            else logging.INFO
        )
        assert record.levelno == level, name
        logged.append((name, report["details"]))
    assert logged == EXPECTED

    deadline = time.monotonic() + 15
    while len(watched_events) < len(CALLS) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(e["event"], e["details"]) for e in watched_events] == EXPECTED

    sent = envelopes.wait_events(len(SENTRY_EVENTS), timeout=15, settle=0.3)
    assert [event["tags"]["event"] for event in sent] == SENTRY_EVENTS
    failure = dict(EXPECTED)["TASK_FAILURE"]
    assert sent[0]["tags"]["task_id"] == failure["task_id"] == "t-task2-1"
    assert sent[0]["contexts"]["selinon_trace"]["what"] == failure["what"]

    spans = collector.wait(
        lambda found: any(s.name.startswith("flow/") for s in found), timeout=15, settle=0.5
    )
    (run,) = [s for s in spans if s.name == "run/Task1"]
    assert run.attributes["messaging.message.id"] == "t-task1-1"
    assert {"STORAGE_STORE", "TASK_DISCARD_RESULT"} <= set(run.event_names())
    assert [s.name for s in spans if s.name.startswith("apply_async/")] == [
        "apply_async/Task1",
        "apply_async/flow2",
    ]
    failed = [s for s in spans if s.name == "run/Task2" and s.status == ERROR]
    assert failed and failed[-1].attributes["selinon.event"] == "TASK_FAILURE"

    sample = metrics.serving.registry.get_sample_value
    attempts = "selinon_task_attempts_total"
    assert sample(attempts, {"task_name": "Task1", "queue": "Task1_v0", "outcome": "succeeded"}) == 1
    assert sample(attempts, {"task_name": "Task2", "queue": "Task2_v0", "outcome": "retried"}) == 1
    assert sample(attempts, {"task_name": "Task2", "queue": "Task2_v0", "outcome": "failed"}) == 1
    assert sample("selinon_flows_total", {"flow_name": "flow1", "outcome": "failed"}) == 1
    assert sample("selinon_flows_total", {"flow_name": "flow1", "outcome": "succeeded"}) == 1
