"""The Trace facade: the reference API's meaning, sink management and error isolation."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
import sys
from datetime import datetime

import pytest

from selinon_celery_trace import Trace
from selinon_celery_trace.core import registry
from selinon_celery_trace.testing import capture_events


def test_log_merges_dicts_left_to_right_then_kwargs() -> None:
    """Later dicts override earlier ones and keyword arguments override both."""
    with capture_events() as events:
        Trace.log(Trace.TASK_START, {"a": 1, "b": 1}, {"b": 2, "c": 2}, c=3)
    assert events == [("TASK_START", {"a": 1, "b": 2, "c": 3})]


def test_every_sink_gets_every_event_in_registration_order() -> None:
    """Sinks are called in the order they were registered, for each event."""
    calls: list[tuple[str, int]] = []
    Trace.trace_by_func(lambda event, details: calls.append(("first", event)))
    Trace.trace_by_func(lambda event, details: calls.append(("second", event)))
    Trace.log(Trace.FLOW_START, flow_name="f")
    Trace.log(Trace.FLOW_END, flow_name="f")
    assert calls == [("first", 1), ("second", 1), ("first", 15), ("second", 15)]


@pytest.mark.tracer_errors
def test_a_raising_sink_is_reported_once_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    """A failing sink never reaches the caller, is logged once, counted every time, and later sinks run."""
    received: list[int] = []

    def broken(event: int, details: object) -> None:
        raise RuntimeError("sink is down")

    Trace.trace_by_func(broken)
    Trace.trace_by_func(lambda event, details: received.append(event))
    with caplog.at_level(logging.ERROR, logger="selinon_celery_trace.errors"):
        for _ in range(5):
            Trace.log(Trace.TASK_START, task_name="t")
    assert received == [Trace.TASK_START] * 5
    reports = [r for r in caplog.records if r.name == "selinon_celery_trace.errors"]
    assert len(reports) == 1 and "sink is down" in reports[0].getMessage()
    assert list(Trace.errors().values()) == [5]


def test_same_builtin_sink_twice_does_not_double_output(capfd: pytest.CaptureFixture[str]) -> None:
    """trace_by_json and trace_by_logging registered twice still print each event once."""
    Trace.trace_by_json()
    Trace.trace_by_json()
    Trace.trace_by_logging()
    Trace.trace_by_logging()
    assert len(Trace.sinks()) == 2
    Trace.log(Trace.TASK_START, task_name="t")
    assert len(capfd.readouterr().out.splitlines()) == 1


def test_remove_sink_and_reset() -> None:
    """A removed sink receives nothing more; reset removes all sinks."""
    received: list[int] = []
    sink = Trace.trace_by_func(lambda event, details: received.append(event))
    Trace.log(Trace.TASK_START)
    assert Trace.remove_sink(sink) is True
    assert Trace.remove_sink(sink) is False
    Trace.log(Trace.TASK_START)
    Trace.trace_by_json()
    Trace.reset()
    assert Trace.sinks() == ()
    assert received == [Trace.TASK_START]


def test_muted_events_reach_no_sink() -> None:
    """Muted events are dropped before the sinks; wants() says so."""
    with capture_events() as events:
        Trace.mute([Trace.TASK_START])
        assert not Trace.wants(Trace.TASK_START) and Trace.wants(Trace.TASK_END)
        Trace.log(Trace.TASK_START)
        Trace.log(Trace.TASK_END)
    assert events.names() == ["TASK_END"]


def test_log_without_sinks_does_nothing() -> None:
    """With no sink, log() returns without touching its arguments."""

    class Exploding(dict):  # type: ignore[type-arg]
        def keys(self):  # type: ignore[no-untyped-def]
            raise AssertionError("details were read")

    Trace.log(Trace.TASK_START, Exploding(), Exploding())
    assert not Trace.wants(Trace.TASK_START)


def test_event2str() -> None:
    """event2str names known events and rejects unknown numbers clearly."""
    assert Trace.event2str(0) == "DISPATCHER_WAKEUP"
    assert Trace.event2str(49) == "EAGER_FAILURE"
    assert Trace.event2str(50) == "FLOW_SCHEDULE"
    assert Trace.event2str(100) == "TASK_REVOKED"
    for unknown in (53, 99, -1):
        with pytest.raises(ValueError, match=f"unknown trace event {unknown}"):
            Trace.event2str(unknown)


def test_json_trace_func_uses_stdout_and_stderr_like_the_reference(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """WARN_EVENTS go to stderr, the rest to stdout, as one JSON object each with the reference's keys."""
    Trace.json_trace_func(Trace.TASK_START, {"task_name": "t"})
    Trace.json_trace_func(Trace.TASK_FAILURE, {"task_name": "t"})
    out, err = capfd.readouterr()
    start, failure = json.loads(out), json.loads(err)
    assert start["event"] == "TASK_START" and failure["event"] == "TASK_FAILURE"
    assert set(start) == {"event", "time", "details", "node"}
    assert start["details"] == {"task_name": "t"}
    assert start["time"].endswith("+00:00")


def test_logging_trace_func_levels_and_message(caplog: pytest.LogCaptureFixture) -> None:
    """Levels and message form are Selinon's; the details also travel as structured extra."""
    logger = logging.getLogger("test.trace")
    with caplog.at_level(logging.DEBUG, logger="test.trace"):
        Trace.logging_trace_func(Trace.TASK_START, {"task_name": "t", "b": {"z": 1, "a": 2}}, logger=logger)
        Trace.logging_trace_func(Trace.TASK_RETRY, {}, logger=logger)
        Trace.logging_trace_func(Trace.DISPATCHER_FAILURE, {}, logger=logger)
    levels = [r.levelno for r in caplog.records]
    assert levels == [logging.INFO, logging.WARNING, logging.ERROR]
    first = caplog.records[0]
    # Selinon's: "SELINON %10s - %s : %s" % (node, event, json.dumps(report, sort_keys=True))
    prefix = f"SELINON {platform.node():>10} - TASK_START : "
    message = first.getMessage()
    assert message.startswith(prefix), message
    text = message[len(prefix) :]
    report = json.loads(text)
    assert text == json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert list(report) == ["details", "event", "time"] and list(report["details"]["b"]) == ["a", "z"]
    assert report["event"] == "TASK_START" and report["details"] == {"task_name": "t", "b": {"z": 1, "a": 2}}
    assert datetime.fromisoformat(report["time"]) == first.selinon_time  # type: ignore[attr-defined]
    assert first.selinon_event == "TASK_START" and first.selinon_details["task_name"] == "t"  # type: ignore[attr-defined]


def test_trace_by_logging_uses_the_given_logger(caplog: pytest.LogCaptureFixture) -> None:
    """trace_by_logging(logger) sends events to that logger, and logging_trace_func reuses it."""
    with caplog.at_level(logging.INFO, logger="my.app"):
        Trace.trace_by_logging(logging.getLogger("my.app"))
        Trace.log(Trace.FLOW_END, flow_name="f")
        Trace.logging_trace_func(Trace.FLOW_START, {})
    assert [r.name for r in caplog.records] == ["my.app", "my.app"]


def test_trace_by_sentry_without_sentry_sdk_names_the_extra() -> None:
    """Without sentry-sdk installed, trace_by_sentry fails with an error naming the sentry extra."""
    code = (
        "import sys; sys.modules['sentry_sdk'] = None\n"
        "from selinon_celery_trace import Trace\n"
        "try:\n    Trace.trace_by_sentry('https://k@localhost/1')\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "selinon-celery-trace[sentry]" in out


def test_the_core_does_not_import_celery() -> None:
    """Importing the package, Trace and the sinks loads no Celery module."""
    code = (
        "import sys, selinon_celery_trace, selinon_celery_trace.testing\n"
        "from selinon_celery_trace import Trace; Trace.trace_by_json(); Trace.log(0)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('celery', 'kombu')], 'celery imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


class ControlFlow(Exception):
    """Stands for an exception that belongs to the caller (as Celery's SoftTimeLimitExceeded)."""


@pytest.mark.tracer_errors
def test_registered_control_flow_exceptions_pass_through() -> None:
    """An exception registered with let_through reaches the caller; other sink errors never do."""

    def sink(event: int, details: object) -> None:
        raise ControlFlow("soft time limit")

    Trace.trace_by_func(sink)
    Trace.log(Trace.TASK_START)  # reported and swallowed
    registry.let_through(ControlFlow)
    with pytest.raises(ControlFlow):
        Trace.log(Trace.TASK_START)
