"""One Celery canvas workflow: the tasks tied together by their canvas facts, and how it went.

:mod:`.canvas_collect` finds its tasks in the trace files; :mod:`.canvas` arranges them for ``show``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .canvas import Structure
from .canvas_shape import shape_of
from .fates import FATES
from .runs import TaskRun

__all__ = ["CanvasRun"]


@dataclass(slots=True)
class CanvasRun:
    """One canvas workflow: the tasks tied together by their canvas facts, and how it went."""

    root_id: str
    tasks: dict[str, TaskRun]
    shape: str | None = field(default=None, repr=False, compare=False)

    @property
    def failed(self) -> TaskRun | None:
        """The task whose failure came first, if any failed."""
        failures = [t for t in self.tasks.values() if t.outcome == "failure"]
        return min(failures, key=lambda t: t.end if t.end is not None else math.inf) if failures else None

    @property
    def outcome(self) -> str:
        """``failure`` when a task failed, ``running`` while one has no end, a task's fate (``revoked``,
        ``expired``, ``rejected``) when one was dropped, else ``success``."""
        if self.failed is not None:
            return "failure"
        if any(t.outcome in ("running", "scheduled", "retry") for t in self.tasks.values()):
            return "running"
        fated = self.fated
        return fated.outcome if fated is not None else "success"

    @property
    def fated(self) -> TaskRun | None:
        """The first task that was revoked, expired or rejected, if any."""
        found = [t for t in self.tasks.values() if t.outcome in FATES]
        return min(found, key=lambda t: t.end if t.end is not None else math.inf) if found else None

    @property
    def start(self) -> float | None:
        """When its first task was scheduled (or first seen)."""
        times = [t.scheduled if t.scheduled is not None else t.first_ts for t in self.tasks.values()]
        finite = [ts for ts in times if math.isfinite(ts)]
        return min(finite) if finite else None

    @property
    def end(self) -> float | None:
        """When its last task ended, once none is running."""
        if self.outcome == "running":
            return None
        ends = [t.end for t in self.tasks.values() if t.end is not None]
        return max(ends) if ends else None

    @property
    def duration(self) -> float | None:
        """From the first schedule to the last end, when it ended."""
        start, end = self.start, self.end
        return end - start if start is not None and end is not None else None

    @property
    def name(self) -> str:
        """The workflow's shape (``chain(price → charge)``, ``group(3 × price)``): see canvas_shape."""
        if self.shape is None:
            self.shape = shape_of(Structure(self.tasks).top())
        return self.shape
