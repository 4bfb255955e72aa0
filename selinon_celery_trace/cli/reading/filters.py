"""The event filter shared by ``follow`` and ``watch``: which records pass the options given."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

from ...core import catalogue
from .fields import task_name
from .lines import Record

__all__ = ["EventFilter"]


def _matches(value: Any, patterns: Sequence[str]) -> bool:
    return isinstance(value, (str, int)) and any(fnmatch.fnmatchcase(str(value), p) for p in patterns)


class EventFilter:
    """The ``follow`` filters: each option matches when any of its values does; all options must match.

    Event names, task names and queues take shell patterns (``TASK_*``); ``--flow`` and ``--task``
    match a name or an id.
    """

    def __init__(
        self,
        events: Sequence[str] = (),
        flows: Sequence[str] = (),
        tasks: Sequence[str] = (),
        queues: Sequence[str] = (),
        problems: bool = False,
    ) -> None:
        self.events, self.flows, self.tasks, self.queues = events, flows, tasks, queues
        self.problems = problems

    def __call__(self, record: Record) -> bool:
        """Whether ``record`` passes."""
        details = record.details
        if self.events and not any(fnmatch.fnmatchcase(record.event, p) for p in self.events):
            return False
        if self.problems:
            spec = catalogue.BY_NAME.get(record.event)
            if spec is None or spec.level < 30:  # logging.WARNING
                return False
        if self.flows and not any(
            _matches(details.get(key), self.flows)
            for key in ("flow_name", "dispatcher_id", "parent_dispatcher_id")
        ):
            return False
        if self.tasks and not (
            _matches(details.get("task_id"), self.tasks)
            or _matches(details.get("task_name"), self.tasks)
            or _matches(task_name(details), self.tasks)  # celery.starmap(proj.add), as the views name it
        ):
            return False
        return not (self.queues and not _matches(details.get("queue"), self.queues))
