"""The metrics sink's options, checked: each error names the option it is about.

``{"metrics": {...}}`` takes ``port`` (default 9808; ``null``: not served), ``addr`` (default
``0.0.0.0``), ``multiproc_dir`` and ``prefix`` (default ``selinon``). The Celery adapter turns a
``ValueError`` raised here into a ``TraceConfigError`` naming the sink's entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from . import DEFAULT_ADDR, DEFAULT_PORT, DEFAULT_PREFIX, MetricsSink

__all__ = ["build_metrics_sink"]

_METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def build_metrics_sink(options: Mapping[str, Any]) -> MetricsSink:
    """A :class:`MetricsSink` from the options of its ``selinon_trace`` entry."""
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
    return MetricsSink(port, addr=addr, multiproc_dir=directory, prefix=prefix)
