"""The events a ``summary`` or ``timeline`` reads: a time window and the ``--task`` / ``--queue`` filters.

An event is in scope when its time is within ``--since`` and ``--until`` (both included) and it passes
the ``follow`` filters for ``--task`` and ``--queue`` (:class:`.filters.EventFilter`: a task's name,
pattern or id; a queue's name or pattern). Filtering is by event: a window that cuts an attempt keeps
the part inside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from .filters import EventFilter
from .lines import Record

__all__ = ["Scope"]


class Scope:
    """Which events pass the time window and the task and queue filters; all pass when none is given."""

    def __init__(
        self,
        since: float | None = None,
        until: float | None = None,
        tasks: Sequence[str] = (),
        queues: Sequence[str] = (),
    ) -> None:
        self.since, self.until = since, until
        self.tasks, self.queues = tuple(tasks), tuple(queues)
        self._filter = EventFilter(tasks=self.tasks, queues=self.queues)

    @property
    def everything(self) -> bool:
        """True when no filter was given (every event is in scope)."""
        return self.since is None and self.until is None and not self.tasks and not self.queues

    @property
    def by_time_only(self) -> bool:
        """True when no ``--task`` or ``--queue`` filter was given (whether an event is in scope is
        then a matter of its time: :meth:`in_window`)."""
        return not self.tasks and not self.queues

    def in_window(self, ts: float) -> bool:
        """Whether the time ``ts`` is within ``--since`` and ``--until`` (both included)."""
        return (self.since is None or ts >= self.since) and (self.until is None or ts <= self.until)

    def __call__(self, record: Record) -> bool:
        """Whether ``record`` is in scope."""
        return self.in_window(record.ts) and self._filter(record)

    def apply(self, records: Iterable[Record]) -> Iterator[Record]:
        """The records in scope, in the order given."""
        if self.everything:
            return iter(records)
        return filter(self, records)
