"""The Celery app the metrics suite runs in a real prefork ``celery worker``, configured from the env.

- ``E2E_BROKER_URL``, ``E2E_RESULT_BACKEND``, ``E2E_QUEUE_PREFIX``: as in ``tests.e2e.proj``; the worker
  consumes the one queue ``{prefix}metrics``.
- ``METRICS_E2E_PORT``: where the worker's main process serves ``/metrics``.
- ``E2E_MAX_TASKS_PER_CHILD``: ``worker_max_tasks_per_child`` when set.
- ``METRICS_E2E_DIR``: the sink's ``multiproc_dir`` when set (read after the worker stopped).
- ``METRICS_E2E_QUEUE_INTERVAL``: the sink's ``queue_length_interval`` when set.

Tracing is enabled by configuration only (``imports``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from celery import Celery, Task
from celery.exceptions import Ignore

from selinon_celery_trace import Dispatcher

__all__ = ["app", "make_app", "queue_name"]


def queue_name(env: Mapping[str, str]) -> str:
    """The one queue of a run."""
    return f"{env.get('E2E_QUEUE_PREFIX', 'e2e.')}metrics"


def make_app(env: Mapping[str, str]) -> Celery:
    """Build the app from ``env`` (an ``os.environ``-like mapping)."""
    app = Celery("metrics_e2e")
    app.conf.update(
        broker_url=env.get("E2E_BROKER_URL"),
        result_backend=env.get("E2E_RESULT_BACKEND"),
        result_expires=600,
        broker_connection_retry_on_startup=True,
        imports=["selinon_celery_trace.auto"],
        selinon_trace=[{"metrics": _options(env)}],
        task_default_queue=queue_name(env),
    )
    max_tasks = env.get("E2E_MAX_TASKS_PER_CHILD")
    if max_tasks:
        app.conf.worker_max_tasks_per_child = int(max_tasks)

    @app.task(name="metrics.ok", shared=False)
    def ok(value: Any) -> Any:
        return value

    @app.task(name="metrics.boom", shared=False)
    def boom(message: str) -> None:
        raise ValueError(message)

    @app.task(name="metrics.flaky", shared=False, bind=True, max_retries=3)
    def flaky(self: Task, value: Any) -> Any:
        if self.request.retries == 0:
            raise self.retry(countdown=0.1, exc=RuntimeError("flaky"))
        return value

    @app.task(name="metrics.skipped", shared=False)
    def skipped() -> None:
        raise Ignore()

    @app.task(name="metrics.slow", shared=False)
    def slow(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    @app.task(name="metrics.flow", shared=False, base=Dispatcher, bind=True, check_interval=0.2)
    def flow(self: Task, fail: bool) -> None:
        if self.flow.is_new:
            self.flow.schedule("step", boom.s("in a flow") if fail else ok.s("in a flow"))

    return app


def _options(env: Mapping[str, str]) -> dict[str, Any]:
    options: dict[str, Any] = {"port": int(env.get("METRICS_E2E_PORT") or 0), "addr": "127.0.0.1"}
    if env.get("METRICS_E2E_DIR"):
        options["multiproc_dir"] = env["METRICS_E2E_DIR"]
    if env.get("METRICS_E2E_QUEUE_INTERVAL"):
        options["queue_length_interval"] = float(env["METRICS_E2E_QUEUE_INTERVAL"])
    return options


app = make_app(os.environ)
