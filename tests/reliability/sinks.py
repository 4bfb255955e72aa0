"""Function sinks the reliability workers import by configuration: one raises, one hangs, one records.

A worker gets them with ``{"function": {"import": "tests.reliability.sinks", "name": ...}}``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from selinon_celery_trace import Trace

__all__ = [
    "HANG_FOREVER",
    "SLOW_END",
    "SLOW_REJECT_SECONDS",
    "collect",
    "collected",
    "exiting",
    "hang",
    "interrupting",
    "raising",
    "record",
    "slow_on_reject",
]

HANG_FOREVER = "hang-forever"
"""A task whose first argument is this hangs in the sink at its TASK_START, for an hour."""
SLOW_END = "slow-end"
"""A task whose first argument is this spends 2 seconds in the sink at its TASK_END."""
SLOW_END_SECONDS = 2.0


def raising(event: int, details: Any) -> None:
    """A sink that is down: every call raises."""
    raise RuntimeError("reliability sink is down")


def exiting(event: int, details: Any) -> None:
    """A sink that calls ``sys.exit(3)`` at every event."""
    sys.exit(3)


def interrupting(event: int, details: Any) -> None:
    """A sink that raises ``KeyboardInterrupt`` at every event."""
    raise KeyboardInterrupt


SLOW_REJECT_SECONDS = 5.0


def slow_on_reject(event: int, details: Any) -> None:
    """A sink that takes 5 s over each failure of a rejected task (reported by the worker's main process)."""
    if event == Trace.TASK_FAILURE and isinstance(details, dict) and details.get("exc_type") == "Reject":
        time.sleep(SLOW_REJECT_SECONDS)


def _first_arg(details: Any) -> Any:
    try:
        return details["node_args"]["args"][0]
    except (KeyError, IndexError, TypeError):
        return None


def hang(event: int, details: Any) -> None:
    """A sink that blocks: for ever at TASK_START of a HANG_FOREVER task, 2 s at TASK_END of SLOW_END."""
    marker = _first_arg(details)
    if event == 3 and marker == HANG_FOREVER:
        time.sleep(3600)
    elif event == 5 and marker == SLOW_END:
        time.sleep(SLOW_END_SECONDS)


def record(event: int, details: Any) -> None:
    """Append ``repr((event, details))`` to ``REL_RECORD_FILE`` (one write per event)."""
    path = os.environ.get("REL_RECORD_FILE")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{event!r} {details!r}\n".encode("utf-8", "backslashreplace"))
        finally:
            os.close(fd)


collected: list[tuple[int, Any]] = []
"""What :func:`collect` received in this process."""


def collect(event: int, details: Any) -> None:
    """Keep every event in :data:`collected` (the in-process tests' function sink)."""
    collected.append((event, details))
