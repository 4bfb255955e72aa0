"""A sink's BaseException is contained; the process's own signals and the caller's control flow are not."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import pytest

from selinon_celery_trace import Trace
from selinon_celery_trace.core import registry


@pytest.fixture
def sigusr2() -> Iterator[Callable[[], None]]:
    """Send SIGUSR2 to this process 50 ms after the returned function is called; restore its handler."""
    previous = signal.getsignal(signal.SIGUSR2)
    timers: list[threading.Timer] = []

    def soon() -> None:
        timers.append(threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR2)))
        timers[-1].start()

    yield soon
    for timer in timers:
        timer.cancel()
        timer.join()
    signal.signal(signal.SIGUSR2, previous)


@pytest.mark.tracer_errors
@pytest.mark.parametrize(
    "raised", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()], ids=lambda e: type(e).__name__
)
def test_a_sinks_base_exception_is_contained_and_reported(
    raised: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    """sys.exit(), KeyboardInterrupt or GeneratorExit in a sink: the caller goes on, other sinks get it."""
    received: list[int] = []

    def exiting(event: int, details: object) -> None:
        raise raised

    Trace.trace_by_func(exiting)
    Trace.trace_by_func(lambda event, details: received.append(event))
    previous = signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # as in a worker: a KeyboardInterrupt is the sink's
    try:
        with caplog.at_level(logging.ERROR, logger="selinon_celery_trace.errors"):
            Trace.log(Trace.TASK_START)
            Trace.log(Trace.TASK_END)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert received == [Trace.TASK_START, Trace.TASK_END]
    assert sum(Trace.errors().values()) == 2
    reports = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(reports) == 1 and type(raised).__name__ in reports[0].getMessage()


@pytest.mark.tracer_errors
def test_a_sink_that_keeps_exiting_is_disabled_in_this_process(caplog: pytest.LogCaptureFixture) -> None:
    """After EXIT_LIMIT exits the sink gets no more events; one error report, one notice that it is off."""
    calls: list[int] = []

    def exiting(event: int, details: object) -> None:
        calls.append(event)
        sys.exit(3)

    Trace.trace_by_func(exiting)
    with caplog.at_level(logging.WARNING, logger="selinon_celery_trace.errors"):
        for _ in range(10):
            Trace.log(Trace.FLOW_START)
    assert len(calls) == registry.EXIT_LIMIT
    assert exiting in registry.sinks(), "still registered: a forked child gets it back"
    levels = [r.levelname for r in caplog.records]
    assert levels == ["ERROR", "WARNING"], caplog.text
    assert "disabled in this process after 3 exits (SystemExit)" in caplog.records[1].getMessage()

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a pool process forked after the parent disabled the sink: its own count, its own report
        try:
            os.close(read)
            Trace.log(Trace.FLOW_START)
            os.write(write, f"{len(calls)} {sum(Trace.errors().values())}".encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as child:
        assert child.read() == f"{registry.EXIT_LIMIT + 1} 1"
    registry.remove_sink(exiting)
    Trace.trace_by_func(exiting)  # removed and added again: it starts afresh
    Trace.log(Trace.FLOW_START)
    assert len(calls) == registry.EXIT_LIMIT + 1


@pytest.mark.tracer_errors
def test_an_ordinary_error_never_disables_a_sink() -> None:
    """A sink raising an Exception on every event stays registered (it may recover)."""

    def broken(event: int, details: object) -> None:
        raise RuntimeError("down")

    Trace.trace_by_func(broken)
    for _ in range(10):
        Trace.log(Trace.FLOW_START)
    assert broken in registry.sinks()


def test_a_signal_handlers_exit_while_a_sink_runs_reaches_the_caller(sigusr2: Callable[[], None]) -> None:
    """SystemExit raised by a signal handler (billiard's SIGTERM handler) interrupting a sink goes on."""

    def handler(signum: int, frame: FrameType | None) -> None:
        sys.exit(-15)

    def slow(event: int, details: object) -> None:
        time.sleep(5)

    signal.signal(signal.SIGUSR2, handler)
    Trace.trace_by_func(slow)
    sigusr2()
    started = time.monotonic()
    with pytest.raises(SystemExit) as raised:
        Trace.log(Trace.TASK_START)
    assert raised.value.code == -15 and time.monotonic() - started < 4
    assert Trace.errors() == {}


def test_a_varargs_handlers_exception_reaches_the_caller(sigusr2: Callable[[], None]) -> None:
    """A handler taking ``*args`` (as Celery's shutdown handlers) is recognised too, whatever it raises."""

    class AlarmTimeout(Exception):
        """An application's own timeout, raised from a signal handler."""

    def handler(*args: object) -> None:
        raise AlarmTimeout("too slow")

    def busy(event: int, details: object) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # pure Python: the signal lands in this frame
            pass

    signal.signal(signal.SIGUSR2, handler)
    Trace.trace_by_func(busy)
    sigusr2()
    with pytest.raises(AlarmTimeout):
        Trace.log(Trace.TASK_START)
    assert Trace.errors() == {}


def test_ctrl_c_under_pythons_default_handler_reaches_the_caller() -> None:
    """On the main thread with SIGINT's default handler, a KeyboardInterrupt may be the user's Ctrl+C."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    def interrupted(event: int, details: object) -> None:
        raise KeyboardInterrupt

    Trace.trace_by_func(interrupted)
    with pytest.raises(KeyboardInterrupt):
        Trace.log(Trace.TASK_START)


@pytest.mark.tracer_errors
def test_keyboard_interrupt_off_the_main_thread_is_the_sinks() -> None:
    """Signals reach only the main thread: a KeyboardInterrupt in a sink on another thread is its own."""
    outcome: list[str] = []

    def interrupted(event: int, details: object) -> None:
        raise KeyboardInterrupt

    def run() -> None:
        Trace.log(Trace.TASK_START)
        outcome.append("returned")

    Trace.trace_by_func(interrupted)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert outcome == ["returned"]
    assert sum(Trace.errors().values()) == 1


def test_let_through_types_reach_the_caller() -> None:
    """A registered control-flow type (Celery's WorkerShutdown is a SystemExit) is never contained."""

    class Shutdown(SystemExit):
        """Stands for Celery's WorkerShutdown."""

    def stopping(event: int, details: object) -> None:
        raise Shutdown(0)

    registry.let_through(Shutdown)
    Trace.trace_by_func(stopping)
    with pytest.raises(Shutdown):
        Trace.log(Trace.TASK_START)
