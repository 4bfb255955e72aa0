"""The metrics sink's options, checked: each error names the option it is about.

``{"metrics": {...}}`` takes ``port`` (default 9808; ``null``: not served), ``addr`` (default
``0.0.0.0``), ``multiproc_dir``, ``prefix`` (default ``selinon``) and ``queue_length_interval``
(seconds between two samples of the consumed queues' lengths, default 15; ``null``: not sampled).
The Celery adapter turns a ``ValueError`` raised here into a ``TraceConfigError`` naming the sink's entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from . import DEFAULT_ADDR, DEFAULT_PORT, DEFAULT_PREFIX, DEFAULT_QUEUE_LENGTH_INTERVAL, MetricsSink

__all__ = ["build_metrics_sink"]

_METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
MIN_QUEUE_LENGTH_INTERVAL: Final = 0.1
"""Seconds: asking the broker more often than this is a mistake, not a setting."""


def build_metrics_sink(
    options: Mapping[str, Any], app_source: Callable[[], Any] | None = None
) -> MetricsSink:
    """A :class:`MetricsSink` from the options of its ``selinon_trace`` entry.

    ``app_source`` gives the Celery app whose broker the queue lengths are asked of.
    """
    port = options.get("port", DEFAULT_PORT)
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
        raise ValueError("'port' must be a TCP port number (0 to 65535), or null not to serve")
    addr = options.get("addr", DEFAULT_ADDR)
    if not isinstance(addr, str):
        raise ValueError("'addr' must be an address to listen on, such as '0.0.0.0'")
    directory = options.get("multiproc_dir")
    if directory is not None and (not isinstance(directory, str) or not directory):
        raise ValueError("'multiproc_dir' must be a directory path")
    prefix = options.get("prefix", DEFAULT_PREFIX)
    if not isinstance(prefix, str) or not _METRIC_NAME.fullmatch(prefix):
        raise ValueError("'prefix' must be a Prometheus metric name such as 'selinon'")
    interval = options.get("queue_length_interval", DEFAULT_QUEUE_LENGTH_INTERVAL)
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not interval >= MIN_QUEUE_LENGTH_INTERVAL  # NaN too
        or interval == float("inf")
    ):
        raise ValueError(
            f"'queue_length_interval' must be a number of seconds (at least {MIN_QUEUE_LENGTH_INTERVAL}), "
            "or null not to sample queue lengths"
        )
    return MetricsSink(
        port,
        addr=addr,
        multiproc_dir=directory,
        prefix=prefix,
        queue_length_interval=None if interval is None else float(interval),
        app_source=app_source,
    )
