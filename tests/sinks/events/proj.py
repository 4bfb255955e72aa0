"""The Celery app of the ``events`` sink tests: two workers ("hosts"), one flow whose nodes run on both.

Configured from environment variables, traced by configuration only (``imports`` +
``selinon_trace``): every process publishes its trace events as Celery events, and also appends them to
a JSON-lines file (``EV_TRACE_FILE``), the ground truth the watcher's stream is compared with.

- ``EV_BROKER_URL``, ``EV_RESULT_BACKEND``: the broker (Redis or RabbitMQ) and the Redis result backend.
- ``EV_PREFIX``: prefixes the queues, so runs sharing a broker never consume each other's messages.
- ``EV_TRACE_FILE``: the worker's JSON-lines file.

Queues: ``{p}a`` (the flow's dispatcher and ``ev.left``) is consumed by one worker, ``{p}b``
(``ev.right`` and ``ev.chatter``) by the other.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from celery import Celery

from selinon_celery_trace import Dispatcher, Trace

__all__ = ["app", "make_app"]


def make_app(env: Mapping[str, str]) -> Celery:
    """Build the app from ``env`` (an ``os.environ``-like mapping)."""
    prefix = env.get("EV_PREFIX", "ev.")
    trace_file = env.get("EV_TRACE_FILE")
    sinks: list[dict[str, Any]] = [{"events": True}]
    if trace_file:
        sinks.append({"json": {"path": trace_file}})
    app = Celery("ev")
    app.conf.update(
        broker_url=env.get("EV_BROKER_URL"),
        result_backend=env.get("EV_RESULT_BACKEND"),
        result_expires=600,
        broker_connection_retry_on_startup=True,
        imports=["selinon_celery_trace.auto"],
        selinon_trace=sinks,
        task_default_queue=f"{prefix}a",
        task_routes={"ev.right": {"queue": f"{prefix}b"}, "ev.chatter": {"queue": f"{prefix}b"}},
    )

    @app.task(name="ev.left", shared=False)
    def left(value: int) -> int:
        return value + 1

    @app.task(name="ev.right", shared=False)
    def right(value: int) -> int:
        return value * 2

    @app.task(name="ev.chatter", shared=False)
    def chatter(count: int, interval: float) -> float:
        # Emits trace events for a while (across a broker outage in the restart test) and returns how
        # long that took: the events sink must never slow it down.
        started = time.monotonic()
        for number in range(count):
            Trace.log(Trace.STORAGE_STORE, {"task_name": "ev.chatter", "number": number})
            time.sleep(interval)
        return time.monotonic() - started

    @app.task(
        name="ev.flow", base=Dispatcher, bind=True, flow_name="two_hosts", check_interval=0.2, shared=False
    )
    def flow(self: Dispatcher, value: int) -> Any:
        nodes = self.flow
        if nodes.is_new:
            nodes.schedule("left", left.s(value))
            nodes.schedule("right", right.s(value))
        for node in nodes.finished:
            if node.name == "left" and node.succeeded:
                nodes.schedule("right_again", right.s(node.result))
        return None

    return app


app = make_app(os.environ)
