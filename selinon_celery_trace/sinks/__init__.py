"""Sinks: where trace events go. Leaves of the design: they never call ``Trace``.

A sink is any callable ``sink(event, details)``. Built-in sinks also carry a ``key``: registering a sink
whose key is already registered does not add a second one (so ``trace_by_json()`` twice prints once).
"""

from __future__ import annotations

from .jsonl import JsonFileSink, JsonStreamSink
from .logging import LoggingSink

__all__ = ["JsonFileSink", "JsonStreamSink", "LoggingSink"]
