"""The filter options of ``follow`` and ``watch`` (``-e``, ``--flow``, ``--task``, ``--queue``, ``-p``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ...core import catalogue

__all__ = ["event_patterns", "filter_options"]

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
