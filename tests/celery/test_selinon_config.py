"""A Selinon YAML's ``global: trace:`` section, installed as ``selinon_trace``: the sinks Selinon meant.

The YAML files in tests/data are written for these tests, laid out as Selinon's own test YAML.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from celery import Celery

import selinon_celery_trace
from selinon_celery_trace import Trace, TraceConfigError
from selinon_celery_trace.sinks import JsonStreamSink
from selinon_celery_trace.sinks.logging import LoggingSink
from selinon_celery_trace.sinks.sentry import SentrySink
from tests.celery import selinon_storage, sink_target
from tests.sinks.sentry.conftest import reset_sentry
from tests.sinks.sentry.envelopes import EnvelopeServer

DATA = Path(__file__).resolve().parents[1] / "data"
FORMS: list[dict[str, Any]] = yaml.safe_load((DATA / "selinon_trace_forms.yaml").read_text(encoding="utf-8"))


def _app(trace: Any) -> Celery:
    app = Celery("selinon-yaml", broker="memory://", set_as_current=False)
    app.conf.selinon_trace = trace
    return app


def _kind(sink: Any) -> str:
    if isinstance(sink, LoggingSink):
        return "logging"
    if isinstance(sink, JsonStreamSink):
        return "json"
    if isinstance(sink, SentrySink):
        return "sentry"
    return "function" if getattr(sink, "receive", None) is None else repr(sink)


@pytest.fixture
def envelopes(monkeypatch: pytest.MonkeyPatch) -> Iterator[EnvelopeServer]:
    """A local Sentry endpoint, as the YAML's ``{SELINON_TEST_SENTRY_DSN}``."""
    server = EnvelopeServer().start()
    monkeypatch.setenv("SELINON_TEST_SENTRY_DSN", server.dsn)
    yield server
    reset_sentry()
    server.stop()


@pytest.mark.parametrize("form", FORMS, ids=[form["name"] for form in FORMS])
def test_each_trace_form_means_what_it_means_in_selinon(form: dict[str, Any]) -> None:
    """Each form of the section installs the sinks Selinon would trace to, in the order written."""
    app = _app(form["trace"])
    selinon_celery_trace.install(app)
    try:
        assert [_kind(sink) for sink in Trace.sinks()] == form["sinks"]
    finally:
        selinon_celery_trace.uninstall(app)
    assert Trace.sinks() == ()


def test_selinon_test_yaml_installs_with_the_storage_entry_replaced(
    envelopes: EnvelopeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The storage entry fails, naming it and what to write; written so, the section traces everywhere."""
    section = yaml.safe_load((DATA / "selinon_trace_setup.yaml").read_text(encoding="utf-8"))["global"][
        "trace"
    ]
    with pytest.raises(TraceConfigError) as error:
        selinon_celery_trace.install(_app(section))
    message = str(error.value)
    assert message.startswith("selinon_trace[1].storage: ") and "'MyStorage'" in message
    assert "{'function': {'import': " in message and "'trace' method" in message
    assert Trace.sinks() == ()

    # As the error says: a function sink calling the adapter's method.
    storage = {"function": {"import": "tests.celery.selinon_storage", "name": "to_storage"}}
    app = _app([storage if "storage" in entry else entry for entry in section])
    sink_target.received.clear()
    selinon_storage.storage.traced.clear()
    selinon_celery_trace.install(app)
    try:
        sinks = Trace.sinks()
        assert [_kind(sink) for sink in sinks] == ["logging", "function", "function", "sentry"]
        assert repr(sinks[3]) == f"SentrySink(dsn='http://***@127.0.0.1:{envelopes.port}/1')"
        with caplog.at_level(logging.INFO, logger="selinon_celery_trace"):
            Trace.log(Trace.TASK_START, {"task_name": "task1", "task_id": "t1", "flow_name": "flow1"})
            Trace.log(Trace.TASK_FAILURE, {"task_name": "task1", "task_id": "t1"}, what="Traceback ...")
    finally:
        selinon_celery_trace.uninstall(app)
    assert [Trace.event2str(event) for event, _ in selinon_storage.storage.traced] == [
        "TASK_START",
        "TASK_FAILURE",
    ]
    assert [Trace.event2str(event) for event, _ in sink_target.received] == ["TASK_START", "TASK_FAILURE"]
    assert [r.getMessage().split(" - ")[1].split(" : ")[0] for r in caplog.records] == [
        "TASK_START",
        "TASK_FAILURE",
    ]
    (event,) = envelopes.wait_events(1, timeout=15, settle=0.3)
    assert event["tags"]["event"] == "TASK_FAILURE" and event["tags"]["task_id"] == "t1"
