"""Events handed to the hand-off thread: the caller never waits on a sink, and nothing is lost silently."""

from __future__ import annotations

import os
import threading

import pytest

from selinon_celery_trace import Trace
from selinon_celery_trace.core import handoff
from selinon_celery_trace.core.record import (
    current_exception,
    current_message,
    exception_scope,
    message_scope,
)

WAIT = 10.0  # seconds a test waits for something that should happen at once


def test_the_caller_returns_while_the_sink_is_still_running() -> None:
    """emit_in_background returns before a blocked sink finishes; the event arrives with the call's time."""
    release = threading.Event()
    delivered: list[tuple[str, object]] = []

    def blocked(event: int, details: object) -> None:
        assert release.wait(WAIT), "the caller never released the sink: it waited on the sink instead"
        delivered.append((Trace.event2str(event), details))

    Trace.trace_by_func(blocked)
    handoff.emit_in_background(Trace.WORKER_PROCESS_LOST, {"process_pid": 42})
    assert delivered == []  # a synchronous delivery would have blocked this test until the wait timed out
    release.set()
    assert handoff.flush(WAIT)
    assert delivered == [("WORKER_PROCESS_LOST", {"process_pid": 42})]
    assert handoff.pending() == 0


def test_events_keep_their_order_and_every_sink_gets_them() -> None:
    """Handed-off events reach each sink in the order they were raised."""
    first: list[int] = []
    second: list[int] = []
    Trace.trace_by_func(lambda event, details: first.append(details["n"]))
    Trace.trace_by_func(lambda event, details: second.append(details["n"]))
    for n in range(200):
        handoff.emit_in_background(Trace.TASK_REVOKED, {"n": n})
    assert handoff.flush(WAIT)
    assert first == second == list(range(200))


@pytest.mark.tracer_errors
def test_a_full_queue_drops_and_counts_instead_of_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the queue full, further events are dropped and counted in Trace.errors(), never waited for."""
    monkeypatch.setattr(handoff._state, "limit", 3)
    release = threading.Event()
    seen: list[int] = []

    def slow(event: int, details: dict[str, int]) -> None:
        release.wait(WAIT)
        seen.append(details["n"])

    Trace.trace_by_func(slow)
    handoff.emit_in_background(Trace.TASK_REVOKED, {"n": 0})
    # The thread takes the first event off the queue and blocks in the sink: wait for that, then fill up.
    for _ in range(1000):
        if handoff._state.busy:
            break
        threading.Event().wait(0.01)
    for n in range(1, 10):
        handoff.emit_in_background(Trace.TASK_REVOKED, {"n": n})
    release.set()
    assert handoff.flush(WAIT)
    assert seen == [0, 1, 2, 3]
    assert Trace.errors() == {"hand-off queue full": 6}


@pytest.mark.tracer_errors
def test_a_sink_that_exits_does_not_end_the_hand_off() -> None:
    """A sink raising SystemExit is reported; the thread lives on and delivers the next events."""
    seen: list[int] = []

    def exiting(event: int, details: dict[str, int]) -> None:
        if details["n"] == 0:
            raise SystemExit(3)
        seen.append(details["n"])

    Trace.trace_by_func(exiting)
    for n in range(3):
        handoff.emit_in_background(Trace.WORKER_OFFLINE, {"n": n})
    assert handoff.flush(WAIT)
    assert seen == [1, 2]
    assert sum(Trace.errors().values()) == 1


def test_nothing_is_queued_when_no_sink_wants_the_event() -> None:
    """With no sink (or the event muted) the call returns at once and queues nothing."""
    handoff.emit_in_background(Trace.TASK_REVOKED, {"n": 1})
    assert handoff.pending() == 0


def test_a_forked_child_delivers_on_a_thread_of_its_own() -> None:
    """A child forked while the parent's thread exists starts its own thread and delivers its events."""
    read_end, write_end = os.pipe()
    Trace.trace_by_func(lambda event, details: os.write(write_end, b"%d\n" % details["n"]))
    handoff.emit_in_background(Trace.WORKER_ONLINE, {"n": 1})
    assert handoff.flush(WAIT)
    pid = os.fork()
    if pid == 0:  # the child: hand off one event, wait for it, and leave without running pytest's exit
        try:
            handoff.emit_in_background(Trace.WORKER_ONLINE, {"n": 2})
            os._exit(0 if handoff.flush(WAIT) else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    os.close(write_end)
    with os.fdopen(read_end) as lines:
        assert lines.read().split() == ["1", "2"]
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_callers_message_and_exception_travel_with_the_event() -> None:
    """A sink on the hand-off thread sees the task message and exception the caller had in scope.

    (Sentry's sink reads the exception, OpenTelemetry's the message's trace context.)
    """
    seen: list[tuple[object, object]] = []
    Trace.trace_by_func(lambda event, details: seen.append((current_message(), current_exception())))
    error = ValueError("the cause")
    with message_scope({"traceparent": "00-abc-def-01"}), exception_scope(error):
        handoff.emit_in_background(Trace.TASK_REJECTED, {"task_id": "t"})
    handoff.emit_in_background(Trace.TASK_REJECTED, {"task_id": "u"})  # outside any scope
    assert handoff.flush(WAIT)
    assert seen == [({"traceparent": "00-abc-def-01"}, error), (None, None)]
