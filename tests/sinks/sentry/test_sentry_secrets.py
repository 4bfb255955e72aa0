"""Sentry never receives what our sinks mask: a real prefork worker, real sentry-sdk, the envelopes grepped.

A task holds secrets every way it can (a kwarg named ``password``, a card number passed positionally, a
bearer token and a JWT under harmless names, a database URL with its password and an object with an
``api_key`` field in local variables, all of it in its exception's message) and fails. Whoever made the
client (our sink, with or without frame locals; the application, with locals and ``send_default_pii``),
each field of the event that reaches Sentry is checked, then the whole envelope is grepped.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.sinks.sentry.envelopes import EnvelopeServer
from tests.sinks.sentry.workers import SentryWorker

pytestmark = pytest.mark.e2e

REDACTED = "[redacted]"
CARD = "4111 1111 1111 1111"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZW50cnktand0LTkxIn0.c2lnbmF0dXJlLTkx"


def _secrets(run: str) -> dict[str, str]:
    return {
        "password kwarg": f"pw-kwarg-{run}",
        "bearer token": f"tok-bearer-{run}",
        "database password": f"dbpw-{run}",
        "api key field": f"AKIA{run[:16].upper()}",
    }


def _fail(worker: SentryWorker, server: EnvelopeServer) -> tuple[dict[str, Any], dict[str, str]]:
    run = uuid.uuid4().hex
    secrets = _secrets(run)
    result = worker.app.send_task(
        "sentry.leaky",
        args=[CARD],
        kwargs={
            "password": secrets["password kwarg"],
            "note": f"Authorization: Bearer {secrets['bearer token']}",
            "db_secret": secrets["database password"],
            "jwt": JWT,
            "key": secrets["api key field"],
        },
    )
    result.get(timeout=30, propagate=False)
    events = server.wait_events(1, lambda e: (e.get("tags") or {}).get("task_id") == result.id, settle=1.5)
    assert len(events) == 1, events
    return events[0], secrets


def _frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for value in event["exception"]["values"] for f in value["stacktrace"]["frames"]]


def _task_frame(event: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in _frames(event) if f.get("function") == "leaky")


def _unquoted(value: Any) -> Any:
    # sentry-sdk writes a local variable as its repr: a string comes quoted.
    return value.strip("'") if isinstance(value, str) else value


def _locals_masked(event: dict[str, Any]) -> None:
    """The task's locals: by name, by value, and an object's field inside its repr."""
    local = _task_frame(event)["vars"]
    assert local["password"] == REDACTED and _unquoted(local["card"]) == REDACTED
    assert local["dsn"] == REDACTED  # masked by name
    assert _unquoted(local["options"]["key"]) == REDACTED and local["options"]["jwt"] == REDACTED
    assert local["account"] == f"Account(owner='ann', api_key='{REDACTED}')"
    # Celery's own frames hold the request, written as its repr ("request text"): its kwargs masked.
    requests = [v for f in _frames(event) for v in f.get("vars", {}).values() if "'kwargs': {" in str(v)]
    assert requests and all(f"'password': '{REDACTED}'" in r for r in requests), requests


def _nothing_in_clear(event: dict[str, Any], secrets: dict[str, str]) -> None:
    text = json.dumps(event)
    for what, secret in {**secrets, "card": CARD, "card digits": CARD.replace(" ", ""), "jwt": JWT}.items():
        assert secret not in text, f"the {what} reached Sentry"


def _masked_message_and_context(event: dict[str, Any]) -> None:
    (value,) = [v["value"] for v in event["exception"]["values"] if v["type"] == "ValueError"]
    assert value.startswith(f"cannot reach postgres://ada:{REDACTED}@db/app for card {REDACTED} ("), value
    assert value.endswith(f"ann, password='{REDACTED}')"), value  # a key=value pair in the message
    node_args = event["contexts"]["selinon_trace"]["node_args"]
    assert node_args["args"] == [REDACTED]
    assert node_args["kwargs"]["password"] == REDACTED
    assert node_args["kwargs"]["note"] == f"Authorization: Bearer {REDACTED}"
    assert node_args["kwargs"]["jwt"] == REDACTED


def test_our_client_sends_no_locals_and_masks_the_rest(
    sink_worker: SentryWorker, envelope_server: EnvelopeServer
) -> None:
    """The client our sink makes sends no frame locals; message, context and breadcrumbs are masked."""
    event, secrets = _fail(sink_worker, envelope_server)
    assert _frames(event) and not any("vars" in frame for frame in _frames(event))
    _masked_message_and_context(event)
    logged = [c for c in event["breadcrumbs"]["values"] if "connecting with" in str(c.get("message"))]
    assert logged and all(f"ada:{REDACTED}@db" in str(c) for c in logged), logged
    _nothing_in_clear(event, secrets)


def test_frame_locals_when_asked_are_masked_by_name_value_and_field(
    locals_worker: SentryWorker, envelope_server: EnvelopeServer
) -> None:
    """With ``include_local_variables`` the task's locals are sent, masked by name, value and as pairs."""
    event, secrets = _fail(locals_worker, envelope_server)
    _locals_masked(event)
    _masked_message_and_context(event)
    _nothing_in_clear(event, secrets)


def test_applications_own_client_with_locals_and_pii_is_masked_too(
    pii_worker: SentryWorker, envelope_server: EnvelopeServer
) -> None:
    """The app's client (locals on, ``send_default_pii``): every event carrying our context is masked."""
    event, secrets = _fail(pii_worker, envelope_server)
    _locals_masked(event)
    # sentry-sdk's Celery integration adds the arguments late (a scope processor): masked all the same.
    job = event["extra"]["celery-job"]
    assert job["kwargs"]["password"] == REDACTED and REDACTED in str(job["args"])
    _masked_message_and_context(event)
    _nothing_in_clear(event, secrets)
