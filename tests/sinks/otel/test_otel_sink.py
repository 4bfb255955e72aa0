"""The OpenTelemetry sink's configuration errors and its bounds, in this process (no worker)."""

from __future__ import annotations

import contextvars
import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN

from selinon_celery_trace import Trace, TraceConfigError
from selinon_celery_trace.celery.config import build_sinks
from selinon_celery_trace.core.record import message_scope
from selinon_celery_trace.sinks.otel import OtelSink
from selinon_celery_trace.sinks.otel.provider import DEAD_COLLECTOR_WAIT
from selinon_celery_trace.sinks.otel.running import LIMIT


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"endpoint": 4318}, "'endpoint'"),
        ({"endpoint": "collector:4318"}, "'endpoint'"),
        ({"endpoint": "{SELINON_TEST_UNSET_OTLP}"}, "SELINON_TEST_UNSET_OTLP"),
        ({"service_name": ""}, "'service_name'"),
        ({"headers": {"x-api-key": 1}}, "'headers'"),
        ({"headers": "x-api-key=1"}, "'headers'"),
        ({"timeout": 0}, "'timeout'"),
        ({"timeout": True}, "'timeout'"),
        ({"shutdown_timeout": -1}, "'shutdown_timeout'"),
        ({"endpiont": "http://x:4318"}, "'endpiont'"),
    ],
)
def test_bad_option_names_the_key(options: dict[str, Any], named: str) -> None:
    """A wrong otel option fails at install with an error naming the entry and the option."""
    with pytest.raises(TraceConfigError) as error:
        build_sinks([{"otel": options}])
    assert "selinon_trace[0].otel" in str(error.value) and named in str(error.value)


def test_good_options_build_the_sink_with_placeholders_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Placeholders in the endpoint and header values come from the environment."""
    monkeypatch.setenv("SELINON_TEST_OTLP", "http://collector.example:4318")
    monkeypatch.setenv("SELINON_TEST_OTLP_KEY", "k3y")
    options = {"endpoint": "{SELINON_TEST_OTLP}", "headers": {"x-api-key": "{SELINON_TEST_OTLP_KEY}"}}
    (sink,) = build_sinks([{"otel": {**options, "service_name": "svc", "timeout": 1}}])
    assert isinstance(sink, OtelSink)
    assert sink.tracing.endpoint == "http://collector.example:4318"
    assert sink.tracing.headers == {"x-api-key": "k3y"} and sink.tracing.timeout == 1.0


def _start(task_id: str) -> None:
    details = {"task_name": "proj.lost", "task_id": task_id, "queue": "q", "retried_count": 0}
    with message_scope({"id": task_id}):
        Trace.log(Trace.TASK_START, details)


def test_open_spans_stay_bounded_and_end_with_their_attempts() -> None:
    """Attempts that end leave no open span behind; attempts that never end stay within the bound."""
    sink = OtelSink(endpoint="http://127.0.0.1:9")  # nothing listens: the export fails in the background
    Trace.add_sink(sink)
    try:
        for number in range(200):
            _start(f"done-{number}")
            Trace.log(Trace.TASK_END, {"task_name": "proj.lost", "task_id": f"done-{number}", "runtime": 0.1})
        assert len(sink.tasks) == 0
        for number in range(LIMIT + 50):
            # Each in a context of its own (threads of a pool), where its end never comes.
            contextvars.copy_context().run(_start, f"lost-{number}")
        assert len(sink.tasks) == LIMIT
        assert trace.get_current_span() is INVALID_SPAN, "nothing of theirs is current here"
        assert Trace.errors() == {}
    finally:
        Trace.remove_sink(sink)


def test_after_a_failed_export_the_exit_waits_no_more_for_that_collector(silent_collector: str) -> None:
    """A collector that takes connections but never answers: once an export failed, flush waits ~0.1 s."""
    sink = OtelSink(endpoint=silent_collector, timeout=0.5, shutdown_timeout=5.0)
    Trace.add_sink(sink)
    try:
        _start("first")
        Trace.log(Trace.TASK_END, {"task_name": "proj.lost", "task_id": "first", "queue": "q"})
        began = time.monotonic()
        sink.flush()  # the collector takes the connection: this flush waits for the export to fail
        first = time.monotonic() - began
        assert sink.tracing.exporter is not None and sink.tracing.exporter.failed
        _start("second")
        Trace.log(Trace.TASK_END, {"task_name": "proj.lost", "task_id": "second", "queue": "q"})
        began = time.monotonic()
        sink.flush()
        second = time.monotonic() - began
    finally:
        Trace.remove_sink(sink)
    assert 0.4 < first < 5.0, first
    assert second < DEAD_COLLECTOR_WAIT + 0.2, f"the second flush waited {second:.2f}s"
