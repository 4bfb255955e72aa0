"""The metrics sink's worker metrics: is it up, its pool's processes, processes lost, queue lengths.

What celery-exporter's users chart beside task counts (``celery_worker_up``, its process counts,
``celery_queue_length``), from this package's events and the broker:

- ``selinon_worker_up{hostname}``: 1 from WORKER_ONLINE, 0 from WORKER_OFFLINE;
- ``selinon_worker_pool_processes{hostname}``: the pool's size (``concurrency``) from WORKER_ONLINE,
  0 from WORKER_OFFLINE (a prefork pool replaces a lost process at once: its size is what it runs);
- ``selinon_worker_processes_lost_total{hostname}``: WORKER_PROCESS_LOST (a pool process that died
  unasked: killed, crashed);
- ``selinon_queue_length{queue}``: messages ready in each queue the worker consumes, sampled by the
  worker's main process (:mod:`.queue_lengths`).

These events happen in the worker's main process, which serves ``/metrics``: its gauges are the ones
served (multiprocess mode ``mostrecent``: the latest value any process wrote).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ...core import catalogue
from .queue_lengths import QueueSampler

__all__ = ["WorkerMetrics"]


def _number(name: str) -> int:
    return catalogue.BY_NAME[name].number


_ONLINE, _OFFLINE = _number("WORKER_ONLINE"), _number("WORKER_OFFLINE")


class WorkerMetrics:
    """The worker's gauges and counter, and the queue sampler (one per metrics sink)."""

    EVENTS: Final = ("WORKER_ONLINE", "WORKER_OFFLINE", "WORKER_PROCESS_LOST")
    """The events these metrics come from."""

    def __init__(
        self, prefix: str, registry: Any, interval: float | None, app_source: Callable[[], Any] | None
    ) -> None:
        from prometheus_client import Counter, Gauge

        self.up = Gauge(
            f"{prefix}_worker_up",
            "1 while the worker is online (WORKER_ONLINE), 0 once it went offline (WORKER_OFFLINE).",
            ("hostname",),
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.processes = Gauge(
            f"{prefix}_worker_pool_processes",
            "Processes of the worker's pool (its concurrency at WORKER_ONLINE; 0 once offline).",
            ("hostname",),
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.lost = Counter(
            f"{prefix}_worker_processes_lost",
            "Pool processes that died unasked (WORKER_PROCESS_LOST).",
            ("hostname",),
            registry=registry,
        )
        self.queue_length = Gauge(
            f"{prefix}_queue_length",
            "Messages ready in a queue the worker consumes, sampled from the broker.",
            ("queue",),
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.sampler: QueueSampler | None = None
        if interval is not None:
            self.sampler = QueueSampler(interval, self._record_length)
            if app_source is not None:
                self.sampler.app_source = app_source

    def _record_length(self, queue: str, length: int) -> None:
        self.queue_length.labels(queue).set(length)

    def receive(self, event: int, details: dict[str, Any]) -> None:
        """Count one of :data:`EVENTS`."""
        hostname = details.get("hostname")
        label = hostname if isinstance(hostname, str) else ""
        if event == _ONLINE:
            self.up.labels(label).set(1)
            concurrency = details.get("concurrency")
            if isinstance(concurrency, int) and not isinstance(concurrency, bool):
                self.processes.labels(label).set(concurrency)
        elif event == _OFFLINE:
            self.up.labels(label).set(0)
            self.processes.labels(label).set(0)
        else:
            self.lost.labels(label).inc()

    def start_sampling(self) -> None:
        """Start the queue sampler (in the worker's main process, at worker start)."""
        if self.sampler is not None:
            self.sampler.start()

    def stop_sampling(self) -> None:
        """Stop the queue sampler."""
        if self.sampler is not None:
            self.sampler.stop()
