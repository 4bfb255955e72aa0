"""The Sentry sink in this process: real sentry-sdk sending to the local envelope server, no worker."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
import sentry_sdk

from selinon_celery_trace import Trace
from selinon_celery_trace.core.record import exception_scope
from selinon_celery_trace.sinks.sentry import History, SentrySink
from tests.sinks.sentry.envelopes import EnvelopeServer


def _task(task_id: str, **more: Any) -> dict[str, Any]:
    return {
        "task_name": "proj.fetch",
        "task_id": task_id,
        "queue": "default",
        "parent": None,
        "dispatcher_id": None,
        "flow_name": None,
        "node_args": {"args": [1], "kwargs": {}},
        "retried_count": 0,
        "hostname": "celery@test",
        **more,
    }


def _fail(task_id: str, exc: BaseException) -> None:
    with exception_scope(exc):
        Trace.log(Trace.TASK_FAILURE, _task(task_id, what="Traceback ...", exc_type=type(exc).__name__))


def _sent(server: EnvelopeServer, count: int) -> list[dict[str, Any]]:
    sentry_sdk.flush(timeout=5)
    return server.wait_events(count, timeout=5, settle=0.3)


def test_repr_and_errors_never_show_the_dsn_keys() -> None:
    """The sink's repr and its DSN errors show the host, never the DSN's keys."""
    sink = SentrySink.__new__(SentrySink)  # repr of a configured sink, without initialising Sentry
    sink._safe = "http://***@sentry.example/1"
    assert "topsecret" not in repr(sink)
    with pytest.raises(ValueError) as bad:
        SentrySink("ftp://topsecret@sentry.example/1")
    assert "topsecret" not in str(bad.value) and "sentry.example" in str(bad.value)
    with pytest.raises(ValueError, match="SELINON_TEST_UNSET_DSN"):
        SentrySink("{SELINON_TEST_UNSET_DSN}")


def test_failure_becomes_one_tagged_event_with_exception_context_and_history(
    sentry_server: EnvelopeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TASK_FAILURE with a live exception is one event: tags, exception, details context, earlier events."""
    monkeypatch.setenv("SELINON_TEST_DSN", sentry_server.dsn.replace("public", "publickey"))
    sink = Trace.trace_by_sentry("{SELINON_TEST_DSN}")
    assert "publickey" not in repr(sink)
    task_id = uuid.uuid4().hex
    Trace.log(Trace.TASK_START, _task(task_id))
    Trace.log(Trace.TASK_RETRY, _task(task_id, reason="flaky"))
    Trace.log(Trace.TASK_START, _task(task_id, retried_count=1))
    _fail(task_id, ValueError("broken input"))

    (event,) = _sent(sentry_server, 1)
    assert event["tags"] == {
        "event": "TASK_FAILURE",
        "task_name": "proj.fetch",
        "task_id": task_id,
        "queue": "default",
        "hostname": "celery@test",
    }
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    assert event["contexts"]["selinon_trace"]["exc_type"] == "ValueError"
    crumbs = [c["message"] for c in event["breadcrumbs"]["values"] if c["category"] == "selinon_trace"]
    assert crumbs == ["TASK_START", "TASK_RETRY", "TASK_START"]


def test_application_client_is_used_and_never_replaced(sentry_server: EnvelopeServer) -> None:
    """With a client already initialised, the sink sends through it and closing the sink leaves it alone."""
    sentry_sdk.init(dsn=sentry_server.dsn, environment="app-env", default_integrations=False)
    client = sentry_sdk.get_client()
    sink = Trace.trace_by_sentry("http://other@127.0.0.1:9/2")
    assert sentry_sdk.get_client() is client
    _fail(uuid.uuid4().hex, KeyError("k"))
    (event,) = _sent(sentry_server, 1)
    assert event["environment"] == "app-env" and event["_project"] == "1"
    Trace.remove_sink(sink)
    assert sentry_sdk.get_client() is client and client.is_active()


def test_logging_sink_error_records_add_no_event(sentry_server: EnvelopeServer) -> None:
    """DISPATCHER_FAILURE logged at ERROR by our logging sink does not become a second Sentry event."""
    Trace.trace_by_logging()
    Trace.trace_by_sentry(sentry_server.dsn)  # sentry-sdk's defaults: its logging integration is on
    logging.getLogger("selinon_celery_trace").setLevel(logging.INFO)
    flow_id = uuid.uuid4().hex
    Trace.log(Trace.DISPATCHER_WAKEUP, {"dispatcher_id": flow_id, "flow_name": "flow1"})
    Trace.log(
        Trace.DISPATCHER_FAILURE, {"dispatcher_id": flow_id, "flow_name": "flow1"}, what="KeyError: 'x'"
    )
    events = _sent(sentry_server, 1)
    assert [e["tags"]["event"] for e in events] == ["DISPATCHER_FAILURE"]
    assert events[0]["message"] == "DISPATCHER_FAILURE flow1: KeyError: 'x'"
    assert [c["message"] for c in events[0]["breadcrumbs"]["values"]] == ["DISPATCHER_WAKEUP"]


def test_same_exception_is_sent_once_and_unrelated_events_pass(sentry_server: EnvelopeServer) -> None:
    """An exception already sent is not sent again; other events (messages, other exceptions) all pass."""
    Trace.trace_by_sentry(sentry_server.dsn)
    flow_id = uuid.uuid4().hex
    error = RuntimeError("dispatcher bug")
    with exception_scope(error):
        Trace.log(Trace.DISPATCHER_FAILURE, {"dispatcher_id": flow_id, "flow_name": "f"}, what="...")
        Trace.log(Trace.FLOW_FAILURE, {"dispatcher_id": flow_id, "flow_name": "f"}, what="...")
    sentry_sdk.capture_exception(error)  # as Sentry's Celery integration does once the task raised
    sentry_sdk.capture_message("unrelated message")
    sentry_sdk.capture_exception(LookupError("unrelated error"))
    events = _sent(sentry_server, 3)
    assert [e.get("tags", {}).get("event") for e in events] == ["DISPATCHER_FAILURE", None, None]
    assert len(events) == 3


def test_configured_events_choose_what_becomes_an_event(sentry_server: EnvelopeServer) -> None:
    """With events=["TASK_RETRY"], a retry is an event and a failure only a breadcrumb."""
    Trace.add_sink(SentrySink(sentry_server.dsn, events=["TASK_RETRY"]))
    task_id = uuid.uuid4().hex
    Trace.log(Trace.TASK_START, _task(task_id))
    with exception_scope(TimeoutError("slow")):
        Trace.log(Trace.TASK_RETRY, _task(task_id, reason="slow"))
    events = _sent(sentry_server, 1)
    assert [(e["tags"]["event"], e["exception"]["values"][-1]["type"]) for e in events] == [
        ("TASK_RETRY", "TimeoutError")
    ]


def test_events_outside_tasks_are_ordinary_breadcrumbs(sentry_server: EnvelopeServer) -> None:
    """An event that belongs to no task or flow is a breadcrumb of Sentry's current scope."""
    Trace.trace_by_sentry(sentry_server.dsn)
    with sentry_sdk.isolation_scope():
        Trace.log(Trace.STORAGE_CONNECT, {"storage_name": "s3"})
        sentry_sdk.capture_message("later")
    (event,) = _sent(sentry_server, 1)
    assert [c["message"] for c in event["breadcrumbs"]["values"]] == ["STORAGE_CONNECT"]


def test_history_keeps_no_state_after_tasks_end(sentry_server: EnvelopeServer) -> None:
    """Thousands of finished tasks leave no history behind; unfinished ones stay within the bounds."""
    sink = Trace.trace_by_sentry(sentry_server.dsn)
    assert isinstance(sink, SentrySink)
    from selinon_celery_trace.sinks.sentry import processor

    history = processor.process.history
    for number in range(3000):
        task_id = f"done-{number}"
        Trace.log(Trace.TASK_START, _task(task_id))
        Trace.log(Trace.TASK_END, _task(task_id, runtime=0.1))
    assert len(history) == 0 and history.bytes == 0
    for number in range(3000):
        Trace.log(Trace.TASK_START, _task(f"lost-{number}", node_args={"blob": "x" * 5000}))
    assert len(history) <= history.max_ids and 0 < history.bytes <= history.max_bytes


def test_history_evicts_by_count_per_id_and_bytes() -> None:
    """History drops the oldest ids past max_ids or max_bytes and the oldest crumbs past per_id."""
    history = History(max_ids=3, per_id=2, max_bytes=1000)
    for number in range(5):
        history.add([f"id{number}"], {"timestamp": number, "n": number}, 100)
    assert len(history) == 3 and history.bytes == 300
    for number in range(4):
        history.add(["id4"], {"timestamp": 10 + number, "n": number}, 100)
    assert [c["n"] for c in history.crumbs(["id4"])] == [2, 3]
    history.add(["big"], {"timestamp": 99, "n": "big"}, 950)
    assert history.crumbs(["big"]) and history.bytes <= 1000
    history.forget("big")
    assert history.bytes == 0 and len(history) == 0


_CELERY_EVENTS = {
    "TASK_REVOKED": "warning",
    "TASK_EXPIRED": "warning",
    "TASK_REJECTED": "warning",
    "BEAT_START": "info",
    "BEAT_LATE": "warning",
    "WORKER_ONLINE": "info",
    "WORKER_OFFLINE": "info",
    "WORKER_PROCESS_LOST": "warning",
}
_FATES = ("TASK_REVOKED", "TASK_EXPIRED", "TASK_REJECTED")


def test_celery_events_are_breadcrumbs_at_their_catalogue_level(sentry_server: EnvelopeServer) -> None:
    """The package's Celery events are breadcrumbs, not Sentry events; the warning ones at level warning."""
    Trace.trace_by_sentry(sentry_server.dsn)
    flow_id = uuid.uuid4().hex
    for name in _CELERY_EVENTS:
        if name in _FATES:  # a node of the flow: filed in its task's and its flow's history
            details = _task(uuid.uuid4().hex, dispatcher_id=flow_id, flow_name="crawl", reason="why")
        else:  # the worker's and beat's own: breadcrumbs of the process's scope
            details = {"hostname": "celery@test", "pid": 1}
        Trace.log(getattr(Trace, name), details)
    Trace.log(Trace.FLOW_FAILURE, {"dispatcher_id": flow_id, "flow_name": "crawl", "what": "a node failed"})
    (event,) = _sent(sentry_server, 1)  # the flow's failure only: none of them became an event
    levels = {
        c["message"]: c["level"] for c in event["breadcrumbs"]["values"] if c["category"] == "selinon_trace"
    }
    assert levels == _CELERY_EVENTS


def test_a_celery_event_listed_in_events_is_a_warning_event_saying_why(sentry_server: EnvelopeServer) -> None:
    """Listed in `events`, a rejected or expired message is a Sentry event at level warning saying why."""
    Trace.add_sink(SentrySink(sentry_server.dsn, events=["TASK_FAILURE", "TASK_REJECTED", "TASK_EXPIRED"]))
    rejected, expired, revoked = (uuid.uuid4().hex for _ in range(3))
    reason = "task 'proj.nope' is not registered in this worker"
    Trace.log(Trace.TASK_REJECTED, _task(rejected, task_name="proj.nope", reason=reason, kind="unregistered"))
    Trace.log(Trace.TASK_EXPIRED, _task(expired, expires="2026-12-06T10:00:00+00:00", late=2.5))
    Trace.log(Trace.TASK_REVOKED, _task(revoked, started=False, terminated=False))  # not listed
    events = {event["tags"]["task_id"]: event for event in _sent(sentry_server, 2)}
    assert set(events) == {rejected, expired}
    assert events[rejected]["level"] == events[expired]["level"] == "warning"
    assert events[rejected]["tags"]["event"] == "TASK_REJECTED"
    assert events[rejected]["message"] == f"TASK_REJECTED proj.nope: {reason}"
    assert (
        events[expired]["message"]
        == "TASK_EXPIRED proj.fetch: 2.5s past its deadline 2026-12-06T10:00:00+00:00"
    )
