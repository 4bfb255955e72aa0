"""The configurations the benchmarks compare, each set up in a fresh process.

Every setup returns a function counting what it emitted (events, spans, envelopes, lines) so a
configuration that silently stopped tracing cannot look free.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

Counter = Callable[[], int]

CONFIGS = (
    "plain",
    "otel",
    "sentry",
    "naive-json",
    "ours-off",
    "ours-json",
    "ours-logging",
    "ours-events",
    "ours-otel",
    "ours-metrics",
)


def _plain(app: Any, workdir: str) -> Counter:
    return lambda: 0


def _discarding_provider() -> tuple[Any, Counter]:
    """A global tracer provider whose BatchSpanProcessor exports to a counting, discarding exporter."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        """Counts spans and drops them."""

        count = 0

        def export(self, spans: Any) -> SpanExportResult:
            Discard.count += len(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    processor = BatchSpanProcessor(Discard())
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)

    def count() -> int:
        processor.force_flush()
        return Discard.count

    return provider, count


def _otel(app: Any, workdir: str) -> Counter:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    provider, count = _discarding_provider()
    CeleryInstrumentor().instrument(tracer_provider=provider)
    return count


def _ours_otel(app: Any, workdir: str) -> Counter:
    # Our OpenTelemetry sink on the same provider as the instrumentation's row: spans per attempt
    # (CONSUMER) and per publish (PRODUCER, here none: the benchmark's messages are built directly).
    import selinon_celery_trace

    _provider, count = _discarding_provider()
    app.conf.selinon_trace = [{"otel": {}}]
    selinon_celery_trace.install(app)
    return count


def _ours_metrics(app: Any, workdir: str) -> Counter:
    # Our metrics sink as a worker runs it: prometheus_client's multiprocess mode (memory-mapped
    # files), no server (port None); counts the attempts it recorded.
    import selinon_celery_trace
    from selinon_celery_trace import Trace
    from selinon_celery_trace.sinks.metrics import MetricsSink

    app.conf.selinon_trace = [{"metrics": {"port": None, "multiproc_dir": os.path.join(workdir, "prom")}}]
    selinon_celery_trace.install(app)
    sink = next(s for s in Trace.sinks() if isinstance(s, MetricsSink))
    sink.on_worker_start()

    def count() -> int:
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=os.path.join(workdir, "prom"))
        return int(
            registry.get_sample_value(
                "selinon_task_attempts_total",
                {"task_name": "bench.work", "queue": "celery", "outcome": "succeeded"},
            )
            or 0
        )

    return count


def _sentry(app: Any, workdir: str) -> Counter:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.transport import Transport

    class Discard(Transport):
        """Counts envelopes and drops them."""

        count = 0

        def capture_envelope(self, envelope: Any) -> None:
            Discard.count += 1

    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=Discard,
        integrations=[CeleryIntegration()],
        traces_sample_rate=1.0,
        default_integrations=False,
    )

    def count() -> int:
        sentry_sdk.flush()
        return Discard.count

    return count


def _naive_json(app: Any, workdir: str) -> Counter:
    # What a user might write by hand: two receivers, json.dumps, a buffered file.
    import time

    from celery import signals

    path = os.path.join(workdir, "naive.jsonl")
    out = open(path, "a")  # noqa: SIM115 - kept open for the process, as a hand-written receiver would
    started: dict[str, float] = {}

    def prerun(
        sender: Any = None, task_id: Any = None, args: Any = None, kwargs: Any = None, **_: Any
    ) -> None:
        started[task_id] = time.monotonic()
        out.write(
            json.dumps({"event": "start", "task": sender.name, "id": task_id, "args": repr(args)}) + "\n"
        )

    def postrun(sender: Any = None, task_id: Any = None, state: Any = None, **_: Any) -> None:
        runtime = time.monotonic() - started.pop(task_id, time.monotonic())
        out.write(
            json.dumps({"event": "end", "task": sender.name, "id": task_id, "state": state, "t": runtime})
            + "\n"
        )

    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)

    def count() -> int:
        out.flush()
        with open(path) as handle:
            return sum(1 for _ in handle)

    return count


def _ours(sinks: list[dict[str, Any]]) -> Callable[[Any, str], Counter]:
    def setup(app: Any, workdir: str) -> Counter:
        import selinon_celery_trace

        resolved = json.loads(json.dumps(sinks).replace("WORKDIR", workdir))
        app.conf.selinon_trace = resolved
        if any("logging" in sink for sink in resolved):
            logger = logging.getLogger("selinon_celery_trace")
            handler = logging.FileHandler(os.path.join(workdir, "trace.log"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
        selinon_celery_trace.install(app)

        def count() -> int:
            # Count what reached the files, so counting adds nothing to the measured path.
            for name in ("trace.jsonl", "trace.log"):
                path = os.path.join(workdir, name)
                if os.path.exists(path):
                    with open(path, "rb") as handle:
                        return sum(1 for _ in handle)
            return 0

        return count

    return setup


SETUPS: dict[str, Callable[[Any, str], Counter]] = {
    "plain": _plain,
    "otel": _otel,
    "sentry": _sentry,
    "naive-json": _naive_json,
    "ours-off": _ours([]),
    "ours-json": _ours([{"json": {"path": "WORKDIR/trace.jsonl"}}]),
    "ours-logging": _ours([{"logging": True}]),
}


def _noop_sink(event: int, details: Any) -> None:
    """A sink that does nothing: measures the receivers' own cost."""


SETUPS["ours-noop"] = _ours([{"function": {"import": "setups", "name": "_noop_sink"}}])


def _ours_events(app: Any, workdir: str) -> Counter:
    # The Celery-events sink publishing over the app's own broker (the in-process memory transport
    # in the micro benchmark): the cost on the task's thread plus its publishing thread's CPU.
    import selinon_celery_trace
    from selinon_celery_trace import Trace
    from selinon_celery_trace.sinks.events import CeleryEventSink

    app.conf.selinon_trace = [{"events": True}]
    selinon_celery_trace.install(app)
    sink = next(s for s in Trace.sinks() if isinstance(s, CeleryEventSink))

    def count() -> int:
        sink.flush(timeout=30)
        return sink.published + sink.dropped

    return count


SETUPS["ours-events"] = _ours_events
SETUPS["ours-otel"] = _ours_otel
SETUPS["ours-metrics"] = _ours_metrics
