"""What the group's options decide for every command: the consoles for standard output and error.

Output to a terminal fits its width; output to a pipe or a file keeps whole lines (a tree's line, a
table's error text), as ``grep`` and ``less -S`` want them, unless ``--width`` (or ``COLUMNS``) says
otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final, TypeVar

import click
from rich.console import Console

from .forked import default_jobs

__all__ = ["PIPE_WIDTH", "Settings", "current_settings", "jobs_option", "width_option"]

PIPE_WIDTH: Final = 10_000
"""The width of output to a pipe or a file (no ``--width``, no ``COLUMNS``): no line is cut."""

F = TypeVar("F", bound=Callable[..., Any])


class Settings:
    """The consoles (stdout and stderr), coloured as ``--color`` says, as wide as ``--width`` says."""

    def __init__(self, color: str, width: int | None = None) -> None:
        force = {"always": True, "never": False}.get(color)
        no_color = color == "never" or None
        self.out = Console(force_terminal=force, no_color=no_color, highlight=False)
        self.err = Console(stderr=True, force_terminal=force, no_color=no_color, highlight=False)
        self.set_width(width)

    def set_width(self, width: int | None) -> None:
        """Lay the output out in ``width`` columns; None: the terminal's, or whole lines when piped."""
        if width is not None:
            self.out.width = width
        elif not self.out.is_terminal and not os.environ.get("COLUMNS"):
            self.out.width = PIPE_WIDTH


def _set_width(ctx: click.Context, _: click.Parameter, value: int | None) -> int | None:
    if value is not None:
        settings = ctx.find_object(Settings)
        if settings is not None:
            settings.set_width(value)
    return value


def width_option(command: F) -> F:
    """``--width N`` on a command (the group has it too): the output's width in columns."""
    return click.option(
        "--width",
        type=click.IntRange(min=20),
        callback=_set_width,
        expose_value=False,
        is_eager=True,
        help="Lay the output out in N columns (default: the terminal's; whole lines when piped).",
        metavar="N",
    )(command)


def current_settings() -> Settings:
    """The settings of the running command line; the defaults when a command runs outside the group."""
    settings = click.get_current_context().find_object(Settings)
    return settings if settings is not None else Settings("auto")


def _resolve_jobs(_: click.Context, __: click.Parameter, value: int) -> int:
    return value or default_jobs()


def jobs_option(what: str) -> Callable[[F], F]:
    """``--jobs N`` / ``-j N``: processes that ``what`` one large plain file side by side (0, the
    default: one per CPU; 1: one process). The command gets the number resolved."""
    return click.option(
        "--jobs",
        "-j",
        default=0,
        type=click.IntRange(min=0),
        callback=_resolve_jobs,
        help=f"Processes that {what} one large plain file side by side (0: one per CPU; 1: one pass).",
    )
