"""Secrets: planted values never reach any sink's output, from the client, the worker or Sentry.

Masked by name (the default key list, at any depth): values under matching names in keyword arguments,
in dicts inside positional arguments, in a discarded result, in an object's fields. Masked by value,
wherever they are (a positional argument, a string under a harmless name, an exception's message, a
traceback): credentials in URLs, Authorization/bearer tokens, JWTs, PEM private keys, AWS access key
ids, card numbers passing the Luhn check; in free text also ``key=value`` pairs whose key is masked.
The Sentry DSN's keys everywhere. What stays (and the tests pin it): a bare positional string of no
recognisable form. Message headers are not part of any event.

Every sink is checked: JSON lines (file and stdout), logging, a function, Celery events (received by
``selinon-trace watch``), OpenTelemetry (a local OTLP collector) and Sentry (a local envelope endpoint).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import selinon_celery_trace
from tests.e2e.support import Broker, names, running
from tests.reliability import sinks
from tests.reliability.hostile import SlowRepr
from tests.reliability.support import RelWorker, whole_lines
from tests.sinks.events.support import WatchProcess, wait_for
from tests.sinks.otel.collector import Collector
from tests.sinks.sentry.envelopes import EnvelopeServer

pytestmark = pytest.mark.e2e

REDACTED = "[redacted]"
CARD = "4111 1111 1111 1111"  # a test card number: passes the Luhn check
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
    # by value: under harmless names, positional, in an object's field, in an exception's message
    "url_password": "urlpw-s3cr3t-b1",
    "bearer": "bearer-s3cr3t-c2.9f",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWNyZXRzLXRlc3QifQ.c2lnLXMzY3IzdC1kMw",
    "pem": "MIIEpAIBAAKCAQEAs3cr3tPEMb0dy",
    "aws": "AKIAS3CR3TAWSKEY0E4F",
    "card": CARD,
    "card_digits": CARD.replace(" ", ""),
    "object_field": "s3cr3t-object-field-f6",
    "object_url": "objpw-s3cr3t-a7",
    "exception_pair": "s3cr3t-in-exception-message-c4",
    "exception_url": "excpw-s3cr3t-98",
}
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{HIDDEN['pem']}\n-----END RSA PRIVATE KEY-----"
SHOWN = {"positional": "not-s3cr3t-positional-b5"}  # a bare string: no name, no recognisable form


@pytest.fixture(scope="module")
def sentry() -> Iterator[EnvelopeServer]:
    """A local Sentry endpoint recording what the worker's Sentry sink sends."""
    server = EnvelopeServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    """A local OTLP/HTTP endpoint recording the worker's spans."""
    server = Collector().start()
    yield server
    server.stop()


@pytest.fixture
def client_outputs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Path]:
    """The test process's own sinks: JSON file, logging (captured), JSON streams (captured), function."""
    sinks.collected.clear()
    caplog.set_level(logging.INFO, logger="selinon_celery_trace")
    yield tmp_path / "client.jsonl"
    sinks.collected.clear()


def _worker(broker: Broker, directory: Path, sentry: EnvelopeServer, collector: Collector) -> RelWorker:
    worker = RelWorker(broker, directory)
    dsn = f"http://{HIDDEN['dsn_public']}:{HIDDEN['dsn_secret']}@127.0.0.1:{sentry.port}/1"
    return worker.configure(
        REL_RECORD_FILE=str(worker.trace.path.with_name("function-sink.txt")),
        REL_SENTRY_DSN=dsn,
        REL_SINKS=json.dumps(
            [
                {"json": {"path": str(worker.trace.path)}},
                {"json": True},  # the worker's stdout/stderr: its log file here
                {"logging": True},
                {"function": {"import": "tests.reliability.sinks", "name": "record"}},
                {"sentry": {"dsn": "{REL_SENTRY_DSN}"}},
                {"events": True},
                {"otel": {"endpoint": collector.endpoint, "service_name": "secrets"}},
            ]
        ),
    )


def _send_all(app: Any) -> dict[str, Any]:
    """Publish the tasks holding secrets; their AsyncResults by name."""
    return {
        "login": app.send_task(
            "rel.login",
            args=["ada"],
            kwargs={
                "password": HIDDEN["kwarg"],
                "options": {"db": {"db_password": HIDDEN["nested_kwarg"]}, "Api-Key": HIDDEN["api_key"]},
                "headers": {"Authorization": f"Bearer {HIDDEN['header_like']}"},
                # by value, under harmless names
                "database_url": f"postgres://ada:{HIDDEN['url_password']}@db:5432/app",
                "note": f"Authorization: Bearer {HIDDEN['bearer']}",
                "session": HIDDEN["jwt"],
                "key_file": PEM,
                "cloud": {"id": HIDDEN["aws"]},
            },
            headers={"x_session_token": HIDDEN["message_header"]},
        ),
        "echo": app.send_task(
            "rel.echo",
            args=[{"token": HIDDEN["arg_dict"], "nested": [{"client_secret": HIDDEN["arg_nested"]}]}],
        ),
        "card": app.send_task("rel.echo", args=[CARD]),
        "positional": app.send_task("rel.echo", args=[SHOWN["positional"]]),
        "discard": app.send_task("rel.keep_secret", kwargs={"api_token": HIDDEN["result"]}),
        "account": app.send_task(
            "rel.account",
            kwargs={
                "owner": "ann",
                "token": HIDDEN["object_field"],
                "database": f"mysql://ann:{HIDDEN['object_url']}@db/x",
            },
        ),
        "failing": app.send_task(
            "rel.fail_login",
            kwargs={
                "password": HIDDEN["exception_pair"],
                "endpoint": f"https://svc:{HIDDEN['exception_url']}@api.example.com",
                "card_number": CARD,
            },
        ),
    }


def test_planted_secrets_reach_no_output(
    rel_broker: Broker,
    tmp_path_factory: pytest.TempPathFactory,
    sentry: EnvelopeServer,
    collector: Collector,
    client_outputs: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Secrets by name, by value, in objects, messages, a header and the DSN appear in no sink's output."""
    directory = tmp_path_factory.mktemp("secrets-worker")
    worker = _worker(rel_broker, directory, sentry, collector)
    app = worker.app
    app.conf.selinon_trace = [
        {"json": {"path": str(client_outputs)}},
        {"json": True},
        {"logging": True},
        {"function": {"import": "tests.reliability.sinks", "name": "collect"}},
    ]
    watcher = WatchProcess({"EV_BROKER_URL": rel_broker.url}, directory)
    try:
        with running(worker):
            selinon_celery_trace.install(app)
            try:
                sent = _send_all(app)
            finally:
                selinon_celery_trace.uninstall(app)
            assert sent["login"].get(timeout=30) == "ada logged in"
            assert sent["echo"].get(timeout=30) == "dict:0" and sent["card"].get(timeout=30) == "str:0"
            assert sent["positional"].get(timeout=30) == "str:0"
            with pytest.raises(RuntimeError):
                sent["failing"].get(timeout=30)
            ids = {name: result.id for name, result in sent.items()}
            seen = worker.trace.wait(
                {
                    **{ids[name]: ["TASK_END"] for name in ("login", "echo", "card", "positional")},
                    ids["discard"]: ["TASK_DISCARD_RESULT", "TASK_END"],
                    ids["account"]: ["TASK_DISCARD_RESULT", "TASK_END"],
                    ids["failing"]: ["TASK_FAILURE"],
                },
                settle=0.5,
            )
            sentry.wait_events(1, lambda e: ids["failing"] in json.dumps(e), timeout=30, settle=1.0)
            wait_for(lambda: ids["failing"] in json.dumps(watcher.records()), "the watcher's events")
            wait_for(
                lambda: any(
                    s.attributes.get("messaging.message.id") == ids["failing"] for s in collector.spans()
                ),
                "the failing task's span",
            )
    finally:
        watcher.stop()
    _check_details(seen, ids)

    captured = capfd.readouterr()
    outputs = {
        "worker json file (worker and client events)": worker.trace.text(),
        "client json file": client_outputs.read_text(),
        "worker log (logging sink, json sink on stdout/stderr)": _our_lines(worker.log_text()),
        "worker function sink": worker.trace.path.with_name("function-sink.txt").read_text(),
        "client logging sink": caplog.text,
        "client json streams": captured.out + captured.err,
        "client function sink": repr(sinks.collected),
        "sentry events": json.dumps(sentry.events()),
        "celery events (selinon-trace watch)": json.dumps(watcher.records()),
        "opentelemetry spans": json.dumps([(s.name, s.attributes, s.events) for s in collector.spans()]),
    }
    whole_lines(worker.trace.path.read_bytes())
    assert len(sentry.events(lambda e: ids["failing"] in json.dumps(e))) == 1, "Sentry was reached"
    for where, text in outputs.items():
        assert text, f"{where} is empty: nothing was checked"
        for what, secret in HIDDEN.items():
            assert secret not in text, f"the {what} secret leaked into the {where}"
    for part in ("dsn_public", "dsn_secret"):  # the DSN's keys: not even in Celery's own lines
        assert HIDDEN[part] not in worker.log_text()
    assert '"event":"TASK_START"' in outputs["worker log (logging sink, json sink on stdout/stderr)"]
    for where in ("celery events (selinon-trace watch)", "opentelemetry spans", "sentry events"):
        assert ids["login"] in outputs[where] or where == "sentry events", f"{where} saw the tasks"
    # Kept, as documented: a bare positional string of no recognisable form.
    assert SHOWN["positional"] in outputs["client json file"]
    assert SHOWN["positional"] in outputs["worker function sink"]


def _check_details(seen: dict[str, list[dict[str, Any]]], ids: dict[str, str]) -> None:
    """What the masked details say, field by field (the JSON file's records)."""
    discard, account = seen[ids["discard"]], seen[ids["account"]]
    assert names(discard) == ["TASK_START", "TASK_DISCARD_RESULT", "TASK_END"]
    assert discard[1]["details"]["result"]["api_key"] == REDACTED
    assert account[1]["details"]["result"] == {
        "__type__": "Account",
        "owner": "ann",
        "api_token": REDACTED,
        "database": f"mysql://ann:{REDACTED}@db/x",
    }
    kwargs = seen[ids["login"]][0]["details"]["node_args"]["kwargs"]
    assert kwargs["password"] == REDACTED and kwargs["options"]["Api-Key"] == REDACTED
    assert kwargs["options"]["db"]["db_password"] == REDACTED
    assert kwargs["headers"]["Authorization"] == REDACTED
    assert kwargs["database_url"] == f"postgres://ada:{REDACTED}@db:5432/app"
    assert kwargs["note"] == f"Authorization: Bearer {REDACTED}"
    assert kwargs["session"] == REDACTED and kwargs["key_file"] == REDACTED
    assert kwargs["cloud"] == {"id": REDACTED}
    assert seen[ids["card"]][0]["details"]["node_args"]["args"] == [REDACTED]
    what = seen[ids["failing"]][-1]["details"]["what"]
    assert (
        f"RuntimeError: bad password {REDACTED}; login failed: password={REDACTED} "
        f"at https://svc:{REDACTED}@api.example.com" in what
    )
    assert what.rstrip().endswith(f"for card {REDACTED}")


def _our_lines(log: str) -> str:
    # The worker's log also holds Celery's own lines ("Received task", "succeeded in ... : <result>"),
    # which show arguments and results as Celery's argsrepr/kwargsrepr/saferepr render them: not ours.
    return "\n".join(line for line in log.splitlines() if "SELINON " in line or '{"event":' in line)


def test_a_slow_repr_costs_a_task_nothing(
    rel_broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An argument whose ``__repr__`` takes 5 s (and would build 200 MB): the result comes in its runtime.

    The tracer renders the object by its fields, never calling its ``__repr__``: the task's result
    arrives within its own runtime plus 0.1 s beyond the round trip of the same task with a plain
    argument (best of a few each, in one warm pool process: unpickling the first such object imports
    its module). The client gives Celery an ``argsrepr``: Celery's own log line would call the
    ``__repr__`` otherwise.
    """
    worker = RelWorker(
        rel_broker,
        tmp_path_factory.mktemp("slow-repr"),
        {"REL_SERIALIZER": "pickle", "C_FORCE_ROOT": "1"},
        concurrency=1,
    )
    slow = SlowRepr("box", "s3cr3t-slow-token-11")
    with running(worker):
        app = worker.app

        def round_trip(value: Any) -> tuple[float, str]:
            started = time.monotonic()
            result = app.send_task("rel.nap_with", args=[value, 0.2], argsrepr="(value, 0.2)")
            assert result.get(timeout=30) in ("SlowRepr", "str")
            return time.monotonic() - started, str(result.id)

        round_trip(SlowRepr("warm", "up"))  # imports the class's module in the pool process
        plain = min(round_trip("plain")[0] for _ in range(3))
        took, task_id = min(round_trip(slow) for _ in range(2))
        events = worker.trace.wait({task_id: ["TASK_END"]}, settle=0.2)[task_id]
    assert names(events) == ["TASK_START", "TASK_END"]
    assert events[0]["details"]["node_args"]["args"][0] == {
        "__type__": "SlowRepr",
        "name": "box",
        "api_token": REDACTED,
    }
    assert took <= plain + 0.1, f"{took:.3f}s with the slow repr, {plain:.3f}s with a plain argument"


def test_redaction_list_is_configurable_and_matches_fragments_at_any_depth(tmp_path: Path) -> None:
    """``selinon_trace_redact`` replaces the default list; fragments match at any depth and spelling."""
    from tests.reliability.outputs import AllSinks, eager_app

    app = eager_app()
    app.conf.selinon_trace_redact = ["ssn", "word:pin"]
    outputs = AllSinks(tmp_path)
    outputs.install(app)
    try:
        app.tasks["hostile.identity"].apply(
            args=[[{"deep": {"Customer-SSN": "123-45-6789"}}]],
            kwargs={"card": {"PIN_code": "4321", "pinned": "yes", "password": "now-shown"}},
        )
        found = outputs.outputs()
    finally:
        outputs.uninstall(app)
        app.close()
    for sink, events in found.items():
        node_args: dict[str, Any] = events[0][1]["node_args"]
        assert node_args["args"][0][0]["deep"]["Customer-SSN"] == REDACTED, sink
        assert node_args["kwargs"]["card"] == {
            "PIN_code": REDACTED,
            "pinned": "yes",
            "password": "now-shown",
        }, sink
