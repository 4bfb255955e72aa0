"""The Celery app the OpenTelemetry suite runs in a real prefork ``celery worker``, configured from the env.

- ``E2E_BROKER_URL``, ``E2E_RESULT_BACKEND``, ``E2E_QUEUE_PREFIX``: as in ``tests.e2e.proj``; the worker
  consumes the one queue ``{prefix}otel``.
- ``OTEL_E2E_ENDPOINT``: the test's OTLP/HTTP collector; ``OTEL_E2E_TIMEOUT``: the sink's ``timeout``.
- ``E2E_MAX_TASKS_PER_CHILD``: ``worker_max_tasks_per_child`` when set.
- ``OTEL_E2E_EXIT_LOG``: a file where each pool process appends ``"<pid> <seconds>"`` at its exit: how
  long the receivers of ``worker_process_shutdown`` between this module's two took (our sink's flush).
- ``OTEL_E2E_MODE``: ``sink`` (our sink makes its own provider from its options) or ``instrumented``
  (the app sets a tracer provider and OpenTelemetry's ``CeleryInstrumentor`` in each pool process, as
  OpenTelemetry's Celery guide writes it; our sink, with no options, uses that provider).

Tracing is enabled by configuration only (``imports``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from celery import Celery, Task, signals

from selinon_celery_trace import Dispatcher

__all__ = ["app", "make_app", "queue_name"]

FLOW_CHECK_INTERVAL = 0.3


def queue_name(env: Mapping[str, str]) -> str:
    """The one queue of a run."""
    return f"{env.get('E2E_QUEUE_PREFIX', 'e2e.')}otel"


def make_app(env: Mapping[str, str]) -> Celery:
    """Build the app from ``env`` (an ``os.environ``-like mapping)."""
    app = Celery("otel_e2e")
    if env.get("OTEL_E2E_MODE", "sink") == "sink":
        options: dict[str, Any] = {"endpoint": env.get("OTEL_E2E_ENDPOINT"), "service_name": "otel-e2e"}
        if env.get("OTEL_E2E_TIMEOUT"):
            options["timeout"] = float(env["OTEL_E2E_TIMEOUT"])
    else:
        options = {}  # the application's provider
    app.conf.update(
        broker_url=env.get("E2E_BROKER_URL"),
        result_backend=env.get("E2E_RESULT_BACKEND"),
        result_expires=600,
        broker_connection_retry_on_startup=True,
        imports=["selinon_celery_trace.auto"],
        selinon_trace=[{"otel": options}],
        task_default_queue=queue_name(env),
    )
    if env.get("E2E_MAX_TASKS_PER_CHILD"):
        app.conf.worker_max_tasks_per_child = int(env["E2E_MAX_TASKS_PER_CHILD"])

    @app.task(name="otel.ok", shared=False)
    def ok(value: Any) -> Any:
        return value

    @app.task(name="otel.add", shared=False)
    def add(value: int, more: int) -> int:
        return value + more

    @app.task(name="otel.total", shared=False)
    def total(values: list[int]) -> int:
        return sum(values)

    @app.task(name="otel.slow", shared=False)
    def slow(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    @app.task(name="otel.boom", shared=False)
    def boom(message: str) -> None:
        raise ValueError(message)

    @app.task(name="otel.flaky", shared=False, bind=True, max_retries=3)
    def flaky(self: Task, value: Any) -> Any:
        if self.request.retries == 0:
            raise self.retry(countdown=0.2, exc=RuntimeError(f"flaky {value}"))
        return value

    @app.task(name="otel.replaced", shared=False, bind=True)
    def replaced(self: Task, value: int) -> Any:
        # Task.replace: otel.add runs under this task's id, as its replacement.
        return self.replace(add.s(value, 1))

    @app.task(name="otel.flow", shared=False, base=Dispatcher, bind=True, check_interval=FLOW_CHECK_INTERVAL)
    def flow(self: Task, message: str) -> None:
        # A node that retries once, then succeeds, and a node that fails: FLOW_FAILURE at the end.
        if self.flow.is_new:
            self.flow.schedule("fetch", flaky.s("fetched"))
            self.flow.schedule("parse", boom.s(message))

    return app


def instrument(endpoint: str, service: str) -> Any:
    """A tracer provider exporting to ``endpoint``, and CeleryInstrumentor on it; returns the provider."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=2))
    )
    CeleryInstrumentor().instrument(tracer_provider=provider)
    return provider


_exit_began: list[float] = []


def _exit_began_now(**_: Any) -> None:
    _exit_began.append(time.monotonic())


def _exit_done(**_: Any) -> None:
    if _exit_began:
        with open(os.environ["OTEL_E2E_EXIT_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {time.monotonic() - _exit_began[-1]:.3f}\n")


def _after_the_sink(**_: Any) -> None:
    # Connected in the pool process, after the worker installed tracing: runs after the sink's flush.
    signals.worker_process_shutdown.connect(_exit_done, weak=False, dispatch_uid="otel-e2e-exit-done")


if os.environ.get("OTEL_E2E_EXIT_LOG"):
    # Connected when the app module is imported, before ``imports`` installs tracing: runs first.
    signals.worker_process_shutdown.connect(_exit_began_now, weak=False, dispatch_uid="otel-e2e-exit-began")
    signals.worker_process_init.connect(_after_the_sink, weak=False, dispatch_uid="otel-e2e-exit-after")

if os.environ.get("OTEL_E2E_MODE") == "instrumented":

    @signals.worker_process_init.connect(weak=False)
    def _instrument_pool_process(**_: Any) -> None:
        from opentelemetry import trace

        trace.set_tracer_provider(instrument(os.environ["OTEL_E2E_ENDPOINT"], "otel-e2e-instrumented"))


app = make_app(os.environ)
