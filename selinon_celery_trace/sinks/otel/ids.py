"""Deterministic trace and span ids, and the ``tracestate`` entry that carries a flow's start.

A flow's span is exported once, by the process that sees the flow end, yet its children (each dispatcher
execution, the nodes' spans) are exported earlier, by other processes, perhaps on other hosts: they name
it as their parent by an id every process computes from the flow's dispatcher id alone.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Final

__all__ = ["ENTRY", "entry", "parse_entry", "span_id_of", "trace_id_of"]

ENTRY: Final = "selinon"
"""The ``tracestate`` key of our entry: ``<flow span id>.<flow start, ns>.<flow's parent span id>``."""


def _number(kind: str, key: str, size: int) -> int:
    value = int.from_bytes(blake2b(f"{kind}:{key}".encode(), digest_size=size).digest(), "big")
    return value or 1  # an all-zero id is invalid in OpenTelemetry


def trace_id_of(key: str) -> int:
    """The 128-bit trace id of a flow (or a canvas root) of its own, from its id."""
    return _number("trace", key, 16)


def span_id_of(kind: str, key: str) -> int:
    """The 64-bit span id of the span of ``kind`` (``flow``, ``root``) for ``key``."""
    return _number(kind, key, 8)


def entry(flow_span: int, start_ns: int, parent_span: int) -> str:
    """Our ``tracestate`` value for a running flow (only ``[0-9a-f.]``: a valid tracestate value)."""
    return f"{flow_span:016x}.{start_ns:x}.{parent_span:016x}"


def parse_entry(value: str | None, flow_span: int) -> tuple[int, int] | None:
    """``(start_ns, parent span id)`` from our entry when it is the one of ``flow_span``, else None."""
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 3:
        return None
    try:
        span, start, parent = (int(part, 16) for part in parts)
    except ValueError:
        return None
    return (start, parent) if span == flow_span else None
