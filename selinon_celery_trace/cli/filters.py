"""The event filters shared by ``follow`` and ``watch``: their click options and the predicate."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from ..core import catalogue
from .fields import task_name
from .reader import Record

__all__ = ["EventFilter", "event_patterns", "filter_options"]

F = TypeVar("F", bound=Callable[..., Any])


def filter_options(command: F) -> F:
    """Add the filter options (``-e``, ``--flow``, ``--task``, ``--queue``, ``-p``) to a command."""
    options = [
        click.option(
            "-e",
            "--event",
            "events",
            multiple=True,
            metavar="EVENT",
            help="Only these events (names or patterns such as 'TASK_*'; repeat or comma-separate).",
        ),
        click.option(
            "--flow",
            "flows",
            multiple=True,
            metavar="NAME_OR_ID",
            help="Only events of this flow (name or id).",
        ),
        click.option(
            "--task",
            "tasks",
            multiple=True,
            metavar="NAME_OR_ID",
            help="Only events of this task (name, pattern or id).",
        ),
        click.option(
            "--queue",
            "queues",
            multiple=True,
            metavar="QUEUE",
            help="Only events on this queue (name or pattern).",
        ),
        click.option(
            "-p", "--problems", is_flag=True, help="Only warnings and errors (retries, failures, ...)."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def event_patterns(values: tuple[str, ...]) -> list[str]:
    patterns = []
    for value in values:
        for pattern in value.split(","):
            pattern = pattern.strip().upper()
            if not pattern:
                continue
            if not any(char in pattern for char in "*?[") and pattern not in catalogue.BY_NAME:
                close = [name for name in catalogue.NAMES.values() if pattern in name][:4]
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise click.BadParameter(f"unknown event {pattern}{hint}", param_hint="--event")
            patterns.append(pattern)
    return patterns


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
