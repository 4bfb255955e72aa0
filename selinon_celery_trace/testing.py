"""Helpers for testing code that emits trace events (for this project's tests and for users').

>>> from selinon_celery_trace import Trace
>>> with capture_events() as events:
...     Trace.log(Trace.FLOW_END, flow_name="flow1")
>>> events
[('FLOW_END', {'flow_name': 'flow1'})]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .core.record import event_name
from .trace import Trace

__all__ = ["CapturedEvents", "capture_events"]


class CapturedEvents(list[tuple[str, dict[str, Any]]]):
    """A list of ``(event name, details)`` with small query helpers."""

    def names(self) -> list[str]:
        """Return the event names in order."""
        return [name for name, _ in self]

    def of(self, name: str) -> list[dict[str, Any]]:
        """Return the details of every event called ``name``."""
        return [details for event, details in self if event == name]

    def __call__(self, event: int, details: Any) -> None:
        self.append((event_name(event), dict(details) if isinstance(details, dict) else details))


@contextmanager
def capture_events() -> Iterator[CapturedEvents]:
    """Collect every event logged inside the block, alongside any sinks already registered."""
    captured = CapturedEvents()
    sink = Trace.add_sink(captured)
    try:
        yield captured
    finally:
        Trace.remove_sink(sink)
