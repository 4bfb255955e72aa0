"""One execution of a task, as the CLI rebuilds it from its events (see :mod:`.runs`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Attempt", "attempt_order"]


@dataclass(slots=True)
class Attempt:
    """One execution of a task.

    ``replacement`` is 0 for the task's own attempts, 1 for those of the task that replaced it
    (``Task.replace``: it inherits the task id, and its attempts count from 1 again), 2 for a
    replacement's replacement; ``task_name`` is then the replacement's name and ``replaces`` the name of
    the task it replaced. ``outcome`` ``replaced`` is an attempt that ended by ``Task.replace``.
    """

    number: int | None
    replacement: int = 0
    task_name: str | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    args: object = None  # node_args, as the writer redacted them
    result: str | None = None  # a result's summary, when the trace has one (TASK_DISCARD_RESULT)
    start: float | None = None
    end: float | None = None
    outcome: str = "running"  # running | success | retry | failure | replaced | revoked (terminated)
    hostname: str | None = None
    pid: str | None = None
    node: str | None = None
    queue: str | None = None
    runtime: float | None = None
    error: str | None = None
    what: str | None = None
    retry_countdown: float | None = None
    discarded: bool = False
    ended_by: str | None = None  # the terminal event (TASK_DISCARD_RESULT comes before the TASK_END)

    @property
    def duration(self) -> float | None:
        """The reported runtime, else the time between start and end when both are known."""
        if self.runtime is not None:
            return self.runtime
        if self.start is not None and self.end is not None:
            return self.end - self.start
        return None

    @property
    def worker(self) -> str:
        """Where it ran: the Celery worker name (or host) and process id, as far as known."""
        where = self.hostname or self.node or "?"
        return f"{where} pid {self.pid}" if self.pid else where

    def label(self, index: int) -> int:
        """The attempt's number as people count (from 1): its ``retried_count`` + 1, else ``index`` + 1.

        ``index`` is its place among the task's attempts, for a writer that gave no attempt number.
        """
        return self.number + 1 if self.number is not None else index + 1


def attempt_order(attempt: Attempt) -> tuple[int, float]:
    """Attempts in order: the task's own, then its replacement's; each by attempt number."""
    return (attempt.replacement, math.inf if attempt.number is None else attempt.number)
