"""The Celery app the reliability suite runs in a real prefork ``celery worker``, configured by environment.

Traced by configuration only (``imports``), like a user's app. Environment:

- ``E2E_BROKER_URL``, ``E2E_RESULT_BACKEND``, ``E2E_QUEUE_PREFIX``, ``E2E_TRACE_FILE``: as in
  ``tests.e2e.proj``; the worker consumes the one queue ``{prefix}rel``.
- ``REL_SINKS``: the ``selinon_trace`` list as JSON (default: the JSON-lines file only).
- ``REL_PREFETCH``: ``worker_prefetch_multiplier``.
- ``REL_SERIALIZER``: ``pickle`` lets hostile Python objects (cycles, odd keys) cross the broker.
- ``REL_RECORD_FILE``: where :func:`tests.reliability.sinks.record` appends what the function sink got.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task
from celery.exceptions import Reject

from selinon_celery_trace import Dispatcher

__all__ = ["Account", "app", "make_app", "queue_name"]


@dataclass
class Account:
    """A task's result object: events show it by its fields, masked by name and value."""

    owner: str
    api_token: str
    database: str


FLOW_CHECK_INTERVAL = 0.2


def queue_name(env: Mapping[str, str]) -> str:
    """The one queue of a run."""
    return f"{env.get('E2E_QUEUE_PREFIX', 'e2e.')}rel"


def make_app(env: Mapping[str, str]) -> Celery:
    """Build the app from ``env`` (an ``os.environ``-like mapping)."""
    app = Celery("reliability")
    trace_file = env.get("E2E_TRACE_FILE")
    sinks = json.loads(env["REL_SINKS"]) if env.get("REL_SINKS") else []
    if trace_file and not sinks:
        sinks = [{"json": {"path": trace_file}}]
    serializer = env.get("REL_SERIALIZER", "json")
    app.conf.update(
        broker_url=env.get("E2E_BROKER_URL"),
        result_backend=env.get("E2E_RESULT_BACKEND"),
        result_expires=600,
        broker_connection_retry_on_startup=True,
        imports=["selinon_celery_trace.auto"],
        selinon_trace=sinks,
        task_default_queue=queue_name(env),
        task_serializer=serializer,
        result_serializer=serializer,
        accept_content=["json", "pickle"] if serializer == "pickle" else ["json"],
        worker_prefetch_multiplier=int(env.get("REL_PREFETCH", "4")),
    )

    @app.task(name="rel.ok", shared=False, ignore_result=True)
    def ok(number: int) -> None:
        return None

    @app.task(name="rel.flaky", shared=False, bind=True, ignore_result=True, max_retries=3)
    def flaky(self: Task, number: int) -> None:
        if self.request.retries < 1:
            raise self.retry(countdown=0)

    @app.task(name="rel.boom", shared=False, ignore_result=True)
    def boom(number: int) -> None:
        raise ValueError(f"boom {number}")

    @app.task(name="rel.node", shared=False)
    def node(number: int) -> int:
        return number

    @app.task(name="rel.flow", shared=False, base=Dispatcher, bind=True, check_interval=FLOW_CHECK_INTERVAL)
    def flow(self: Task, number: int) -> None:
        if self.flow.is_new:
            self.flow.schedule("first", node.s(number))
            self.flow.schedule("second", node.s(number + 1))

    @app.task(name="rel.nap", shared=False)
    def nap(seconds: float) -> int:
        time.sleep(seconds)
        return os.getpid()

    @app.task(name="rel.limited", shared=False, time_limit=2)
    def limited(marker: str) -> str:
        return marker

    @app.task(name="rel.echo", shared=False)
    def echo(value: Any, **details: Any) -> str:
        # What the task saw, summarised in a way that survives any value: the tracer must not change it.
        return f"{type(value).__name__}:{len(details)}"

    @app.task(name="rel.login", shared=False)
    def login(user: str, **options: Any) -> str:
        return f"{user} logged in"

    @app.task(name="rel.keep_secret", shared=False, ignore_result=True)
    def keep_secret(api_token: str) -> dict[str, Any]:
        # Not stored anywhere: TASK_DISCARD_RESULT carries the result, which holds the secret by name.
        return {"user": "ada", "api_key": api_token, "nested": [{"session_token": api_token}]}

    @app.task(name="rel.big_result", shared=False, ignore_result=True)
    def big_result(size: int) -> str:
        return "r" * size  # made in the worker: no broker carries it, TASK_DISCARD_RESULT does

    @app.task(name="rel.fail_with", shared=False)
    def fail_with(message: str) -> None:
        raise RuntimeError(message)

    @app.task(name="rel.account", shared=False, ignore_result=True)
    def account(owner: str, token: str, database: str) -> Account:
        return Account(owner, token, database)  # not stored: TASK_DISCARD_RESULT carries the object

    @app.task(name="rel.fail_login", shared=False)
    def fail_login(password: str, endpoint: str, card_number: str) -> None:
        # The task writes its secrets into its exception's message, as tasks do.
        raise RuntimeError(
            f"bad password {password}; login failed: password={password} at {endpoint} for card {card_number}"
        )

    @app.task(name="rel.nap_with", shared=False)
    def nap_with(value: Any, seconds: float) -> str:
        time.sleep(seconds)
        return type(value).__name__

    @app.task(name="rel.reject", shared=False)
    def reject(why: str) -> None:
        raise Reject(why, requeue=False)

    return app


app = make_app(os.environ)
