"""Secrets: planted values never reach any sink's output, from the client, the worker or Sentry.

What is redacted (by the default key list, at any depth): values under matching names in keyword
arguments, in dicts inside positional arguments, in a discarded result; the Sentry DSN's keys everywhere.
What is not (and the tests pin it): a positional argument itself (it has no name) and exception messages
and tracebacks (the user's own text). Message headers are not part of any event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import selinon_celery_trace
from tests.e2e.support import Broker, names, running
from tests.reliability import sinks
from tests.reliability.support import RelWorker, whole_lines
from tests.sinks.sentry.envelopes import EnvelopeServer

pytestmark = pytest.mark.e2e

REDACTED = "[redacted]"
HIDDEN = {
    "kwarg": "s3cr3t-kwarg-password-1f",
    "nested_kwarg": "s3cr3t-nested-dbpass-2e",
    "header_like": "s3cr3t-authorization-3d",
    "api_key": "s3cr3t-api-key-4c",
    "arg_dict": "s3cr3t-arg-token-5b",
    "arg_nested": "s3cr3t-arg-client-secret-6a",
    "result": "s3cr3t-discarded-result-79",
    "message_header": "s3cr3t-message-header-88",
    "dsn_public": "dsnpublic0097",
    "dsn_secret": "dsnsecret00a6",
}
SHOWN = {
    "positional": "not-s3cr3t-positional-b5",  # a bare positional string has no name to match
    "exception": "s3cr3t-in-exception-message-c4",  # the user's own text, kept as written
}


@pytest.fixture(scope="module")
def sentry() -> Iterator[EnvelopeServer]:
    """A local Sentry endpoint recording what the worker's Sentry sink sends."""
    server = EnvelopeServer().start()
    yield server
    server.stop()


@pytest.fixture
def client_outputs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Path]:
    """The test process's own sinks: JSON file, logging (captured), JSON streams (captured), function."""
    sinks.collected.clear()
    caplog.set_level(logging.INFO, logger="selinon_celery_trace")
    yield tmp_path / "client.jsonl"
    sinks.collected.clear()


def test_planted_secrets_reach_no_output(
    rel_broker: Broker,
    tmp_path_factory: pytest.TempPathFactory,
    sentry: EnvelopeServer,
    client_outputs: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Secrets under sensitive names, in a header and in the DSN appear in no sink of the client or worker."""
    worker = RelWorker(rel_broker, tmp_path_factory.mktemp("secrets-worker"))
    record_file = worker.trace.path.with_name("function-sink.txt")
    dsn = f"http://{HIDDEN['dsn_public']}:{HIDDEN['dsn_secret']}@127.0.0.1:{sentry.port}/1"
    worker.configure(
        REL_RECORD_FILE=str(record_file),
        REL_SENTRY_DSN=dsn,
        REL_SINKS=json.dumps(
            [
                {"json": {"path": str(worker.trace.path)}},
                {"json": True},  # redirected into the worker's log by Celery
                {"logging": True},
                {"function": {"import": "tests.reliability.sinks", "name": "record"}},
                {"sentry": {"dsn": "{REL_SENTRY_DSN}"}},
            ]
        ),
    )
    app = worker.app
    app.conf.selinon_trace = [
        {"json": {"path": str(client_outputs)}},
        {"json": True},
        {"logging": True},
        {"function": {"import": "tests.reliability.sinks", "name": "collect"}},
    ]
    with running(worker):
        selinon_celery_trace.install(app)
        try:
            login = app.send_task(
                "rel.login",
                args=["ada"],
                kwargs={
                    "password": HIDDEN["kwarg"],
                    "options": {"db": {"db_password": HIDDEN["nested_kwarg"]}, "Api-Key": HIDDEN["api_key"]},
                    "headers": {"Authorization": f"Bearer {HIDDEN['header_like']}"},
                },
                headers={"x_session_token": HIDDEN["message_header"]},
            )
            echo = app.send_task(
                "rel.echo",
                args=[{"token": HIDDEN["arg_dict"], "nested": [{"client_secret": HIDDEN["arg_nested"]}]}],
            )
            positional = app.send_task("rel.echo", args=[SHOWN["positional"]])
            discard = app.send_task("rel.keep_secret", kwargs={"api_token": HIDDEN["result"]})
            failing = app.send_task("rel.fail_with", args=[f"password={SHOWN['exception']}"])
        finally:
            selinon_celery_trace.uninstall(app)
        assert login.get(timeout=30) == "ada logged in"
        assert echo.get(timeout=30) == "dict:0" and positional.get(timeout=30) == "str:0"
        with pytest.raises(RuntimeError):
            failing.get(timeout=30)
        seen = worker.trace.wait(
            {
                login.id: ["TASK_END"],
                echo.id: ["TASK_END"],
                positional.id: ["TASK_END"],
                discard.id: ["TASK_DISCARD_RESULT", "TASK_END"],
                failing.id: ["TASK_FAILURE"],
            },
            settle=0.5,
        )
        sentry.wait_events(1, lambda e: failing.id in json.dumps(e), timeout=30, settle=1.0)
    assert names(seen[discard.id]) == ["TASK_START", "TASK_DISCARD_RESULT", "TASK_END"]
    assert seen[discard.id][1]["details"]["result"]["api_key"] == REDACTED
    kwargs = seen[login.id][0]["details"]["node_args"]["kwargs"]
    assert kwargs["password"] == REDACTED and kwargs["options"]["Api-Key"] == REDACTED
    assert kwargs["options"]["db"]["db_password"] == REDACTED
    assert kwargs["headers"]["Authorization"] == REDACTED

    captured = capfd.readouterr()
    outputs = {
        "worker json file (worker and client events)": worker.trace.text(),
        "client json file": client_outputs.read_text(),
        "worker log (logging sink, json sink on stdout/stderr)": _our_lines(worker.log_text()),
        "worker function sink": record_file.read_text(),
        "client logging sink": caplog.text,
        "client json streams": captured.out + captured.err,
        "client function sink": repr(sinks.collected),
        "sentry events": json.dumps(sentry.events()),
    }
    whole_lines(worker.trace.path.read_bytes())
    assert len(sentry.events(lambda e: failing.id in json.dumps(e))) == 1, "Sentry was reached"
    for where, text in outputs.items():
        assert text, f"{where} is empty: nothing was checked"
        for what, secret in HIDDEN.items():
            assert secret not in text, f"the {what} secret leaked into the {where}"
    for part in ("dsn_public", "dsn_secret"):  # the DSN's keys: not even in Celery's own lines
        assert HIDDEN[part] not in worker.log_text()
    assert '"event":"TASK_START"' in outputs["worker log (logging sink, json sink on stdout/stderr)"]
    # Not redacted, as documented: the exception message and a bare positional argument.
    assert SHOWN["exception"] in outputs["worker json file (worker and client events)"]
    assert SHOWN["exception"] in outputs["sentry events"]
    assert SHOWN["positional"] in outputs["client json file"]
    assert SHOWN["positional"] in outputs["worker function sink"]


def _our_lines(log: str) -> str:
    # The worker's log also holds Celery's own lines ("Received task", "succeeded in ... : <result>"),
    # which show arguments and results as Celery's argsrepr/kwargsrepr/saferepr render them: not ours.
    return "\n".join(line for line in log.splitlines() if "SELINON " in line or '{"event":' in line)


def test_redaction_list_is_configurable_and_matches_fragments_at_any_depth(tmp_path: Path) -> None:
    """``selinon_trace_redact`` replaces the default list; fragments match at any depth and in any case."""
    from tests.reliability.outputs import AllSinks, eager_app

    app = eager_app()
    app.conf.selinon_trace_redact = ["ssn", "pin"]
    outputs = AllSinks(tmp_path)
    outputs.install(app)
    try:
        app.tasks["hostile.identity"].apply(
            args=[[{"deep": {"Customer-SSN": "123-45-6789"}}]],
            kwargs={"card": {"PIN_code": "4321", "password": "now-shown"}},
        )
        found = outputs.outputs()
    finally:
        outputs.uninstall(app)
        app.close()
    for sink, events in found.items():
        node_args: dict[str, Any] = events[0][1]["node_args"]
        assert node_args["args"][0][0]["deep"]["Customer-SSN"] == REDACTED, sink
        assert node_args["kwargs"]["card"] == {"PIN_code": REDACTED, "password": "now-shown"}, sink
