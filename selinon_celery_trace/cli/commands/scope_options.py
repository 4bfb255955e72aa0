"""The options that narrow what ``find``, ``summary`` and ``timeline`` read: ``--since``, ``--until``,
``--task``, ``--queue``; and the one parser of their time values.

A time is an ISO-8601 time (``2026-11-28T11:46``, ``2026-11-28 11:46:14.5+01:00``, ``2026-11-28``; UTC
when it names no zone, as the trace files are) or an age, counted back from now: ``45s``, ``30m``,
``1h``, ``2d``, ``1w``, or several (``1h30m``); ``now`` is now. A value that is none of these is click's
usage error naming the option.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Final, TypeVar

import click

from ..reading.scope import Scope

__all__ = ["check_window", "parse_time_bound", "scope_from", "scope_options", "time_bound"]

F = TypeVar("F", bound=Callable[..., Any])

_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_AGE: Final = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_PART: Final = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_HINT: Final = (
    "an ISO time such as 2026-11-28T11:46 (UTC unless it names a zone) or an age such as 30m, 1h, 2d"
)


def parse_time_bound(text: str, now: float | None = None) -> float:
    """``text`` as POSIX seconds: an ISO time, an age back from ``now`` (default: the clock), or ``now``.

    ``ValueError`` (saying what is accepted) for anything else.

    >>> parse_time_bound("1h30m", now=10_000.0)
    4600.0
    >>> parse_time_bound("1970-01-01T00:01Z")
    60.0
    """
    value = text.strip()
    current = time.time() if now is None else now
    if value.lower() == "now":
        return current
    if _AGE.fullmatch(value.lower()):
        return current - sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(value.lower()))
    iso = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"{text!r} is not a time: give {_HINT}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def time_bound(_: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """The click callback of ``--since`` and ``--until``: the value as POSIX seconds, or a usage error."""
    if value is None:
        return None
    try:
        return parse_time_bound(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


def scope_options(command: F) -> F:
    """Add ``--since``, ``--until``, ``--task`` and ``--queue`` to a command (see the module docstring)."""
    options = [
        click.option(
            "--since",
            callback=time_bound,
            metavar="TIME",
            help="Only from this time on: an ISO time (UTC unless it names a zone) or an age (30m, 1h, 2d).",
        ),
        click.option(
            "--until",
            callback=time_bound,
            metavar="TIME",
            help="Only up to this time: an ISO time or an age (as --since).",
        ),
        click.option(
            "--task",
            "tasks",
            multiple=True,
            metavar="NAME_OR_ID",
            help="Only this task: a name, a pattern ('shop.*') or an id (repeat for several).",
        ),
        click.option(
            "--queue",
            "queues",
            multiple=True,
            metavar="QUEUE",
            help="Only this queue: a name or a pattern (repeat for several).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def check_window(since: float | None, until: float | None) -> None:
    """``--since`` later than ``--until`` is a usage error (nothing could match)."""
    if since is not None and until is not None and since > until:
        raise click.BadParameter("is later than --until: nothing can match", param_hint="'--since'")


def scope_from(
    since: float | None, until: float | None, tasks: tuple[str, ...], queues: tuple[str, ...]
) -> Scope:
    """The :class:`Scope` the options give (see :func:`check_window`)."""
    check_window(since, until)
    return Scope(since, until, tasks, queues)
