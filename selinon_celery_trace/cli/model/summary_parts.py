"""``summary`` of one input folded in parts side by side, put together with the one pass's result.

A part (a range of a file's lines, after the ones before it) is folded without knowing what came
before it. Most of what :class:`.summary.Summary` keeps is counts, which add up; the rest is state kept
per task id or flow id (an attempt awaiting its end, a canvas task's facts, a beat send awaiting its
outcome) and a few things that depend on the order of events across ids (failure groups, which keep the
first thousand distinct errors; beat's gaps between sends; a worker's online spans).

So a part folds an id's events itself only when it can see that id's whole story begins in it: a task
whose first event here is its first publish (a ``TASK_SCHEDULE`` that is no retry, no replacement and
no beat send), a flow whose first event here is its ``FLOW_START``. Every other event of a task or flow
(one that began in an earlier part), and beat's and workers' own events, it hands back, in order, in
one log with the failures it met (kept as they came, not grouped). Putting part after part together,
:func:`put_together` adds the part's counts, then replays its log in order: every order-dependent step
then happens in the one pass's order.

A task can begin twice (a task id given by the caller and used again, lines of several writers out of
order): when a part folded an id that the parts before it left state for, the parts cannot be put
together exactly, and :func:`put_together` says so; the caller then folds the input in one pass. So
does it when a summary had to forget awaited results, or a part met beat's send of a task it folds
(``Summary.not_joinable``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from ..reading.event_names import (
    FLOW_START,
    TASK_SCHEDULE,
)
from ..reading.fields import as_str
from ..reading.lean import LeanLine
from ..reading.lines import Malformed, Record
from .summary import Summary
from .summary_lean import FLOW_STATE, HANDED_BACK, add_lean

__all__ = ["Part", "PartResult", "put_together"]

Failure = tuple[str, str, str, float, "str | None"]


def _first_publish(details: Mapping[str, Any]) -> bool:
    """Whether a TASK_SCHEDULE is a task's first publish: no retry, no replacement, not beat's send."""
    return (
        not details.get("retried_count")
        and details.get("replacement") is None
        and details.get("replaces") is None
        and "periodic" not in details
    )


@dataclass
class PartResult:
    """What folding a part gives back: small, and what :func:`put_together` needs."""

    summary: Summary
    log: list[Record | Failure]  # records handed back and failures, in the order they came
    tasks: frozenset[str]  # the task ids the part folded itself
    flows: frozenset[str]  # the flow ids it folded itself
    malformed: Malformed

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Sent between processes: the ids as one text each (pickled in one piece, not one by one).
        return PartResult._unpacked, (
            self.summary,
            self.log,
            _packed(self.tasks),
            _packed(self.flows),
            self.malformed,
        )

    @staticmethod
    def _unpacked(
        summary: Summary, log: list[Record | Failure], tasks: Any, flows: Any, malformed: Malformed
    ) -> PartResult:
        return PartResult(summary, log, _unpacked_ids(tasks), _unpacked_ids(flows), malformed)


def _packed(ids: frozenset[str]) -> str | frozenset[str]:
    """``ids`` as one text, one per line (as they are when one holds a newline)."""
    text = "\n".join(ids)
    return text if ids and text.count("\n") == len(ids) - 1 else ids


def _unpacked_ids(packed: str | frozenset[str]) -> frozenset[str]:
    if isinstance(packed, frozenset):
        return packed
    return frozenset(packed.split("\n"))


class Part:
    """A later part of an input, folded apart: its own tasks and flows folded, the rest logged."""

    def __init__(self, top: int) -> None:
        self.summary = Summary(top)
        self.log: list[Record | Failure] = []
        self.summary.failure_log = self.log  # type: ignore[assignment]
        self._tasks: dict[str, bool] = {}  # task id -> folded here (True) or handed back (False)
        self._flows: dict[str, bool] = {}
        # Fold a line decoded lean here as add() would its record; False, folding nothing, when its
        # record is needed: to hand it back, or because the summary needs it (add it then).
        self.add_lean: Callable[[datetime, LeanLine], bool] = partial(
            add_lean, self.summary, (self._tasks, self._flows)
        )

    def add_all(self, records: Iterable[Record]) -> Part:
        """Fold or hand back every record of ``records``, in order."""
        add = self.add
        for record in records:
            add(record)
        return self

    def add(self, record: Record) -> None:
        """Fold ``record`` here, or hand it back."""
        # This runs once per event: the task id is read inline in its usual form (as_str otherwise).
        event, details = record[1], record[2]
        if event[:5] == "TASK_":
            task_id = details.get("task_id")
            if task_id.__class__ is not str or not task_id:
                task_id = as_str(details, "task_id")
            here = True if task_id is None else self._tasks.get(task_id)  # no id: counts only
            if here is None:
                here = self._tasks[task_id] = event == TASK_SCHEDULE and _first_publish(details)  # type: ignore[index]
            elif event == TASK_SCHEDULE and here and task_id is not None and "periodic" in details:
                # Beat's send of a task folded here (an id used again): beat's sends are folded
                # in order, elsewhere, and this task's story would be split: no parts then.
                self.summary.not_joinable = True
        elif event in FLOW_STATE:
            flow_id = as_str(details, "dispatcher_id")
            here = True if flow_id is None else self._flows.get(flow_id)
            if here is None:
                here = self._flows[flow_id] = event == FLOW_START  # type: ignore[index]
        else:
            here = event not in HANDED_BACK
        if here:
            self.summary.add(record)
        else:
            self.log.append(record)

    def result(self, malformed: Malformed) -> PartResult:
        """What to send back to the process putting the parts together."""
        self.summary.failure_log = None
        tasks = frozenset(task_id for task_id, here in self._tasks.items() if here)
        flows = frozenset(flow_id for flow_id, here in self._flows.items() if here)
        return PartResult(self.summary, self.log, tasks, flows, malformed)


def put_together(total: Summary, part: PartResult) -> bool:
    """Add ``part`` (the next part of the input) to ``total``; False when that cannot be exact.

    ``total`` is then unusable: fold the input in one pass instead.
    """
    open_tasks, canvas, open_flows = total.open_ids()
    if (
        part.summary.not_joinable
        or not open_tasks.isdisjoint(part.tasks)
        or not open_flows.isdisjoint(part.flows)
        or any(task_id in canvas for task_id in part.tasks)
    ):
        return False
    total.absorb(part.summary)
    add, failure = total.add, total.record_failure
    for item in part.log:
        if type(item) is Record:
            add(item)
        else:
            failure(*item)  # type: ignore[arg-type]
    return not total.not_joinable
