"""What the tracer swallowed: every error counted by where it happened, each kind logged once.

A sink that raises, a Celery receiver that failed at its boundary, an event the hand-off queue had no
room for: the user's task never sees any of it, and a broken sink on a busy worker produces one log
record (``selinon_celery_trace.errors``), not one per event. :func:`counts` is ``Trace.errors()``.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Final

__all__ = ["clear", "counts", "logger", "report_disabled", "report_internal_error"]

logger: Final = logging.getLogger("selinon_celery_trace.errors")


class _Errors:
    """Global state department: the counts and the kinds already logged, in this process."""

    __slots__ = ("counts", "lock", "reported")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.reported: set[tuple[str, str]] = set()


_state: Final = _Errors()


def _after_fork() -> None:
    # A forked child counts and reports its own errors (a pool process's first report is its own).
    _state.lock = threading.Lock()
    _state.counts = {}
    _state.reported = set()


os.register_at_fork(after_in_child=_after_fork)


def report_internal_error(where: str, exc: BaseException) -> None:
    """Count an error the tracer swallowed, logging it once per place and exception type."""
    kind = type(exc).__name__
    with _state.lock:
        _state.counts[where] = _state.counts.get(where, 0) + 1
        first = (where, kind) not in _state.reported
        if first:
            _state.reported.add((where, kind))
    if first:
        try:
            logger.error(
                "selinon_celery_trace: %s failed (%s: %s); the event was not delivered there. "
                "Further %s errors from it are counted, not logged.",
                where,
                kind,
                exc,
                kind,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        except Exception:  # pragma: no cover - logging itself is broken; nothing more we can do
            pass


def report_disabled(where: str, exits: int, exc: BaseException) -> None:
    """Log (a warning) that ``where``, a sink, is disabled in this process after ``exits`` exits."""
    try:
        logger.warning(
            "selinon_celery_trace: %s disabled in this process after %d exits (%s); "
            "it gets no more events here until the process restarts.",
            where,
            exits,
            type(exc).__name__,
        )
    except Exception:  # pragma: no cover - logging itself is broken
        pass


def counts() -> dict[str, int]:
    """How many errors the tracer swallowed, by where they happened."""
    with _state.lock:
        return dict(_state.counts)


def clear() -> None:
    """Forget the counts and the kinds already logged."""
    with _state.lock:
        _state.counts.clear()
        _state.reported.clear()
