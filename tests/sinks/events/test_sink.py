"""The ``events`` sink in this process: configuration, never blocking, and a round trip through Redis."""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

import pytest
from celery import Celery

from selinon_celery_trace import Trace
from selinon_celery_trace.celery.config import TraceConfigError, build_sinks
from selinon_celery_trace.cli.reading.broker import Watcher, json_line_of, record_of
from selinon_celery_trace.sinks.events import CeleryEventSink
from tests import brokers


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_config_builds_the_events_sink_with_its_options() -> None:
    """``{"events": {...}}`` builds a sink with the event type, the events to send and the queue size."""
    (sink,) = build_sinks([{"events": {"type": "my-trace", "events": ["TASK_END"], "queue_size": 5}}])
    assert isinstance(sink, CeleryEventSink)
    assert sink.event_type == "my-trace" and sink.queue_size == 5
    assert sink.wanted == frozenset({Trace.TASK_END})
    (default,) = build_sinks([{"events": True}])
    assert isinstance(default, CeleryEventSink) and default.event_type == "selinon-trace"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"topic": "x"}, "unknown option 'topic'"),
        ({"type": ""}, "'type' must be"),
        ({"events": "TASK_END"}, "'events' must be a list"),
        ({"events": ["TASK_FINISHED"]}, "unknown event 'TASK_FINISHED'"),
        ({"queue_size": 0}, "'queue_size' must be a positive integer"),
    ],
)
def test_config_rejects_bad_events_options(options: dict[str, Any], message: str) -> None:
    """A bad option of the events sink fails with an error naming the entry."""
    with pytest.raises(TraceConfigError, match=re.escape("selinon_trace[0].events")) as error:
        build_sinks([{"events": options}])
    assert message in str(error.value)


def test_sink_never_blocks_and_counts_drops_when_the_broker_is_unreachable() -> None:
    """With no broker listening, 20,000 events cost the caller little, stay bounded and are all counted."""
    app = Celery("unreachable", broker=f"redis://127.0.0.1:{_closed_port()}/0", set_as_current=False)
    sink = CeleryEventSink(app, queue_size=100, connect_timeout=0.5)
    try:
        started = time.monotonic()
        for number in range(20_000):
            sink(Trace.TASK_START, {"task_name": "t", "number": number})
        elapsed = time.monotonic() - started
        assert elapsed < 5.0
        assert sink._queue.qsize() <= 100
        assert sink.flush(timeout=10.0)
        assert sink.dropped == 20_000 and sink.published == 0
    finally:
        sink.close()


def test_sink_skips_events_it_was_not_asked_to_send() -> None:
    """Events outside ``events`` are not queued at all."""
    app = Celery("unreachable", broker=f"redis://127.0.0.1:{_closed_port()}/0", set_as_current=False)
    sink = CeleryEventSink(app, events=["TASK_FAILURE"])
    try:
        sink(Trace.TASK_START, {})
        assert sink._thread is None and sink.dropped == 0
    finally:
        sink.close()


def test_events_round_trip_through_redis_to_a_watcher() -> None:
    """Events published by the sink reach a Watcher as trace records, in the trace-file line format."""
    url = brokers.redis_url()
    app = Celery("roundtrip", broker=url, set_as_current=False)
    event_type = f"selinon-test-{time.monotonic_ns()}"
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
    sink = CeleryEventSink(app, event_type=event_type)
    try:
        assert ready.wait(15)
        sink(Trace.TASK_END, {"task_name": "add", "task_id": "abc", "runtime": 0.5, "text": "caf\u00e9"})
        sink(Trace.FLOW_END, {"flow_name": "f", "dispatcher_id": "d1"})
        assert sink.flush(timeout=10)
        deadline = time.monotonic() + 15
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [event["event"] for event in received] == ["TASK_END", "FLOW_END"]
        record = record_of(received[0])
        assert record is not None and record.details["text"] == "caf\u00e9" and record.ts > 0
        line = json_line_of(received[0])
        assert line.endswith(b"\n") and line.startswith(b'{"event":"TASK_END","time":')
        assert received[0]["dropped"] == 0 and sink.published == 2
    finally:
        watcher.should_stop = True
        sink.close()
        thread.join(timeout=10)
