"""A message's fate with the Sentry sink in a real prefork worker, Redis and RabbitMQ.

Revoked, expired and rejected messages are breadcrumbs unless their event is listed in the sink's
``events``: here TASK_REJECTED is, TASK_REVOKED is not.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.sinks.sentry.envelopes import EnvelopeServer
from tests.sinks.sentry.workers import SentryWorker

pytestmark = pytest.mark.e2e

SETTLE = 1.5


def _tags(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event.get("tags") or {})


def test_a_rejected_message_is_a_warning_a_revoked_one_a_breadcrumb(
    fates_worker: SentryWorker, envelope_server: EnvelopeServer
) -> None:
    """An unknown task gives one warning event saying why; a revoked task gives none."""
    app = fates_worker.app
    revoked = uuid.uuid4().hex
    app.control.revoke(revoked)  # the worker drops the message when it arrives: TASK_REVOKED
    app.send_task("sentry.ok", args=[1], task_id=revoked)
    name = f"sentry.nope_{uuid.uuid4().hex[:8]}"
    unknown = str(app.send_task(name, args=[1]).id)
    (event,) = envelope_server.wait_events(1, lambda e: _tags(e).get("task_id") == unknown, settle=SETTLE)
    assert event["level"] == "warning"
    assert _tags(event)["event"] == "TASK_REJECTED" and _tags(event)["task_name"] == name
    assert _tags(event)["hostname"] == fates_worker.node_name
    assert event["message"] == f"TASK_REJECTED {name}: task {name!r} is not registered in this worker"
    assert event["contexts"]["selinon_trace"]["kind"] == "unregistered"
    # The worker's own start is a breadcrumb of its main process, where the message was rejected.
    crumbs = [c for c in event["breadcrumbs"]["values"] if c.get("category") == "selinon_trace"]
    assert ("WORKER_ONLINE", "info") in [(c["message"], c["level"]) for c in crumbs]
    app.AsyncResult(revoked).get(timeout=30, propagate=False)
    assert app.AsyncResult(revoked).state == "REVOKED"  # it was dropped, and that sent nothing
    assert not envelope_server.events(lambda e: _tags(e).get("task_id") == revoked)
