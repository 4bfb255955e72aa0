"""The Celery app the Sentry suite runs in a real prefork ``celery worker``, configured from the environment.

- ``E2E_BROKER_URL``, ``E2E_RESULT_BACKEND``, ``E2E_QUEUE_PREFIX``: as in ``tests.e2e.proj``; the worker
  consumes the one queue ``{prefix}sentry``.
- ``SENTRY_E2E_DSN``: where Sentry is (the test's envelope server, a closed port or a silent server).
- ``SENTRY_E2E_MODE``: ``sink`` (our sink initialises Sentry), ``sink+locals`` (the same, asked to send
  frame locals), ``user`` (the app calls ``sentry_sdk.init`` with the Celery integration itself; our
  sink uses that client), ``user+pii`` (the same with ``send_default_pii``), ``sink+logging`` (our sink
  and our logging sink), ``none`` (no tracing at all: the latency baseline).
- ``E2E_MAX_TASKS_PER_CHILD``: ``worker_max_tasks_per_child`` when set.

Tracing is enabled by configuration only (``imports``). Until the Celery adapter flushes sinks when a
pool process exits, this module connects ``worker_process_shutdown`` to :meth:`SentrySink.flush` itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task

from selinon_celery_trace import Dispatcher

__all__ = ["Account", "app", "make_app", "queue_name"]


@dataclass
class Account:
    """An object a task holds in a local variable: Sentry's frame locals show it by its fields."""

    owner: str
    api_key: str


FLOW_CHECK_INTERVAL = 0.3


def queue_name(env: Mapping[str, str]) -> str:
    """The one queue of a run."""
    return f"{env.get('E2E_QUEUE_PREFIX', 'e2e.')}sentry"


def make_app(env: Mapping[str, str]) -> Celery:
    """Build the app from ``env`` (an ``os.environ``-like mapping)."""
    mode = env.get("SENTRY_E2E_MODE", "sink")
    app = Celery("sentry_e2e")
    sinks: list[dict[str, Any]] = []
    if mode in ("sink", "user", "user+pii", "sink+logging"):
        sinks.append({"sentry": {"dsn": "{SENTRY_E2E_DSN}"}})
    elif mode == "fates":  # a rejected message is worth an event too; revoked ones stay breadcrumbs
        sinks.append({"sentry": {"dsn": "{SENTRY_E2E_DSN}", "events": ["TASK_FAILURE", "TASK_REJECTED"]}})
    if mode == "sink+locals":
        sinks.append({"sentry": {"dsn": "{SENTRY_E2E_DSN}", "include_local_variables": True}})
    if mode == "sink+logging":
        sinks.append({"logging": True})
    app.conf.update(
        broker_url=env.get("E2E_BROKER_URL"),
        result_backend=env.get("E2E_RESULT_BACKEND"),
        result_expires=600,
        broker_connection_retry_on_startup=True,
        imports=["selinon_celery_trace.auto"] if sinks else [],
        selinon_trace=sinks,
        task_default_queue=queue_name(env),
    )
    max_tasks = env.get("E2E_MAX_TASKS_PER_CHILD")
    if max_tasks:
        app.conf.worker_max_tasks_per_child = int(max_tasks)

    @app.task(name="sentry.ok", shared=False)
    def ok(value: Any) -> Any:
        return value

    @app.task(name="sentry.boom", shared=False)
    def boom(message: str) -> None:
        logging.getLogger("tests.sentry.app").info("about to fail: %s", message)
        raise ValueError(message)

    @app.task(name="sentry.leaky", shared=False)
    def leaky(card: str, password: str, **options: Any) -> None:
        # Secrets every way a task holds them: arguments, locals (a URL, a token, an object's field)
        # and its exception's message. None may reach Sentry in clear.
        dsn = f"postgres://ada:{options['db_secret']}@db/app"
        session = options["jwt"]
        account = Account(owner="ann", api_key=options["key"])
        logging.getLogger("tests.sentry.app").info("connecting with %s", dsn)
        raise ValueError(
            f"cannot reach {dsn} for card {card} ({len(session)}, {account.owner}, password={password!r})"
        )

    @app.task(
        name="sentry.flow", shared=False, base=Dispatcher, bind=True, check_interval=FLOW_CHECK_INTERVAL
    )
    def flow(self: Task, message: str) -> None:
        # Two nodes, one of which fails: the flow ends with FLOW_FAILURE once both finished.
        if self.flow.is_new:
            self.flow.schedule("fetch", ok.s("fetched"))
            self.flow.schedule("parse", boom.s(message))

    @app.task(name="sentry.broken_flow", shared=False, base=Dispatcher, bind=True)
    def broken_flow(self: Task, message: str) -> None:
        # The dispatcher's own code fails: DISPATCHER_FAILURE, then FLOW_FAILURE, one exception.
        raise KeyError(message)

    return app


if os.environ.get("SENTRY_E2E_MODE") in ("user", "user+pii"):
    # The application's own Sentry setup, as Sentry's Celery guide writes it: before the worker forks
    # (frame locals on, sentry-sdk's default).
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration

    sentry_sdk.init(
        dsn=os.environ["SENTRY_E2E_DSN"],
        integrations=[CeleryIntegration()],
        shutdown_timeout=1,
        send_default_pii=os.environ["SENTRY_E2E_MODE"] == "user+pii",
    )

app = make_app(os.environ)
