"""The Prometheus metrics sink: task attempts, runtimes, queue waits and flows, counted from the events.

Needs the ``metrics`` extra. Configuration: ``{"metrics": {"port": 9808}}`` (see ``docs/metrics.md``).

Metrics (``selinon`` is the default ``prefix``):

- ``selinon_task_attempts_total{task_name, queue, outcome}``: one per delivery's end, whether it ran or
  not; outcome ``succeeded`` (TASK_END), ``ignored`` (TASK_END with ``state == "IGNORED"``), ``failed``
  (TASK_FAILURE), ``retried`` (TASK_RETRY), ``revoked`` (TASK_REVOKED: dropped before it started, or
  its attempt terminated), ``expired`` (TASK_EXPIRED), ``rejected`` (TASK_REJECTED);
- ``selinon_task_runtime_seconds{task_name, queue}``: TASK_END's ``runtime``;
- ``selinon_task_queue_wait_seconds{task_name, queue}``: from publish (or ETA) to TASK_START (the sink
  asks the adapters for it: ``wants_queue_wait``);
- ``selinon_flows_total{flow_name, outcome}`` (``succeeded``: FLOW_END, ``failed``: FLOW_FAILURE) and
  ``selinon_flow_duration_seconds{flow_name, outcome}``, first wake-up to end, where the start is known
  (see :mod:`..flow_starts`);
- the worker itself (:mod:`.worker_metrics`): ``selinon_worker_up{hostname}``,
  ``selinon_worker_pool_processes{hostname}``, ``selinon_worker_processes_lost_total{hostname}`` from
  WORKER_ONLINE / WORKER_OFFLINE / WORKER_PROCESS_LOST, and ``selinon_queue_length{queue}``, sampled
  from the broker by the worker's main process every ``queue_length_interval`` seconds
  (:mod:`.queue_lengths`).

Serving (:mod:`.serving`): in a worker, prometheus_client's multiprocess mode (each pool process writes
its values to files in one directory) and an HTTP endpoint in the worker's main process, which reads
them all; nothing is started in a process that is not a worker. Recording a value is a memory-mapped
write: no lock across processes, no network, nothing to flush at exit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Final

from ...core import catalogue
from ...core.record import Record, aware, caller_record
from ..flow_starts import FlowStarts
from .serving import DEFAULT_ADDR, DEFAULT_PORT, Serving
from .worker_metrics import WorkerMetrics

__all__ = ["DEFAULT_ADDR", "DEFAULT_PORT", "DEFAULT_PREFIX", "DEFAULT_QUEUE_LENGTH_INTERVAL", "MetricsSink"]

DEFAULT_PREFIX: Final = "selinon"
DEFAULT_QUEUE_LENGTH_INTERVAL: Final = 15.0
"""Seconds between two samples of the queue lengths (Prometheus's usual scrape interval)."""
RUNTIME_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
WAIT_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
FLOW_BUCKETS: Final = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 7200, 21600, 86400)


def _number(name: str) -> int:
    return catalogue.BY_NAME[name].number


TASK_START, TASK_END = _number("TASK_START"), _number("TASK_END")
TASK_FAILURE, TASK_RETRY = _number("TASK_FAILURE"), _number("TASK_RETRY")
FLOW_START, FLOW_END, FLOW_FAILURE = _number("FLOW_START"), _number("FLOW_END"), _number("FLOW_FAILURE")
_OUTCOMES: Final = {
    TASK_FAILURE: "failed",
    TASK_RETRY: "retried",
    _number("TASK_REVOKED"): "revoked",
    _number("TASK_EXPIRED"): "expired",
    _number("TASK_REJECTED"): "rejected",
}
_WORKER_EVENTS: Final = frozenset(_number(name) for name in WorkerMetrics.EVENTS)


def _label(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


class MetricsSink:
    """Count attempts and flows as Prometheus metrics (see the module docstring).

    ``port`` / ``addr``: where the worker's main process serves ``/metrics`` (``port=None``: not
    served, for an application that exposes ``multiproc_dir`` itself); ``multiproc_dir``: the
    directory of prometheus_client's multiprocess mode (default: ``PROMETHEUS_MULTIPROC_DIR``, else a
    fresh one per worker start); ``prefix``: of every metric's name.

    >>> sink = MetricsSink(port=9808)  # doctest: +SKIP
    """

    __slots__ = (
        "_attempts",
        "_flow_seconds",
        "_flows",
        "_runtime",
        "_wait",
        "key",
        "serving",
        "starts",
        "worker",
    )
    wants_queue_wait = True  # TASK_* details then carry queue_wait

    def __init__(
        self,
        port: int | None = DEFAULT_PORT,
        *,
        addr: str = DEFAULT_ADDR,
        multiproc_dir: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        queue_length_interval: float | None = DEFAULT_QUEUE_LENGTH_INTERVAL,
        app_source: Callable[[], Any] | None = None,
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.key: Hashable = ("metrics", prefix)
        self.serving = Serving(port, addr, multiproc_dir)
        self.starts = FlowStarts()
        # A registry of our own: never the application's default one (no clash with its metrics).
        registry = CollectorRegistry(auto_describe=True)
        task_labels = ("task_name", "queue")
        self._attempts = Counter(
            f"{prefix}_task_attempts",
            "Task execution attempts, by how they ended.",
            (*task_labels, "outcome"),
            registry=registry,
        )
        self._runtime = Histogram(
            f"{prefix}_task_runtime_seconds",
            "Runtime of successful task attempts (TASK_END).",
            task_labels,
            buckets=RUNTIME_BUCKETS,
            registry=registry,
        )
        self._wait = Histogram(
            f"{prefix}_task_queue_wait_seconds",
            "Seconds from publish (or ETA) to the start of an attempt.",
            task_labels,
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self._flows = Counter(
            f"{prefix}_flows", "Flows that ended, by outcome.", ("flow_name", "outcome"), registry=registry
        )
        self._flow_seconds = Histogram(
            f"{prefix}_flow_duration_seconds",
            "Seconds from a flow's first wake-up to its end, where its start is known.",
            ("flow_name", "outcome"),
            buckets=FLOW_BUCKETS,
            registry=registry,
        )
        self.worker = WorkerMetrics(prefix, registry, queue_length_interval, app_source)
        self.serving.registry = registry

    def on_worker_start(self) -> None:
        """In the worker's main process, before the pool forks: multiprocess mode, serve, sample queues."""
        self.serving.start()
        if self.serving.directory is not None:
            import os

            self.starts.use_directory(os.path.join(self.serving.directory, "flow-starts"))
        self.worker.start_sampling()

    @property
    def url(self) -> str | None:
        """Where ``/metrics`` is served from this process, once started."""
        return self.serving.url

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def receive(self, event: int, record: Record) -> None:
        details = record["details"]
        if not isinstance(details, dict):
            return
        if event == TASK_END:
            task = (_label(details.get("task_name")), _label(details.get("queue")))
            outcome = "ignored" if details.get("state") == "IGNORED" else "succeeded"
            self._attempts.labels(*task, outcome).inc()
            runtime = details.get("runtime")
            if isinstance(runtime, (int, float)) and outcome == "succeeded":
                self._runtime.labels(*task).observe(runtime)
        elif event in _OUTCOMES:
            task = (_label(details.get("task_name")), _label(details.get("queue")))
            self._attempts.labels(*task, _OUTCOMES[event]).inc()
        elif event == TASK_START:
            wait = details.get("queue_wait")
            if isinstance(wait, (int, float)):
                task = (_label(details.get("task_name")), _label(details.get("queue")))
                self._wait.labels(*task).observe(wait)
        elif event == FLOW_START:
            flow = details.get("dispatcher_id")
            if isinstance(flow, str):
                self.starts.remember(flow, _nanos(record))
        elif event in (FLOW_END, FLOW_FAILURE):
            self._flow_ended(event, details, record)
        elif event in _WORKER_EVENTS:
            self.worker.receive(event, details)

    def _flow_ended(self, event: int, details: dict[str, Any], record: Record) -> None:
        name = _label(details.get("flow_name"))
        outcome = "succeeded" if event == FLOW_END else "failed"
        self._flows.labels(name, outcome).inc()
        flow = details.get("dispatcher_id")
        start = self.starts.pop(flow) if isinstance(flow, str) else None
        if start is not None:
            self._flow_seconds.labels(name, outcome).observe(max(0.0, (_nanos(record) - start) / 1e9))

    def close(self) -> None:
        """Stop sampling and serving (in the process that serves)."""
        self.worker.stop_sampling()
        self.serving.stop()

    def __repr__(self) -> str:
        return f"MetricsSink(port={self.serving.port!r})"


def _nanos(record: Record) -> int:
    return int(aware(record["time"]).timestamp() * 1_000_000_000)
