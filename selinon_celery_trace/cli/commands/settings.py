"""What the group's options decide for every command: the consoles for standard output and error."""

from __future__ import annotations

import click
from rich.console import Console

__all__ = ["Settings", "current_settings"]


class Settings:
    """The consoles (stdout and stderr), coloured as ``--color`` says."""

    def __init__(self, color: str) -> None:
        force = {"always": True, "never": False}.get(color)
        no_color = color == "never" or None
        self.out = Console(force_terminal=force, no_color=no_color, highlight=False)
        self.err = Console(stderr=True, force_terminal=force, no_color=no_color, highlight=False)


def current_settings() -> Settings:
    """The settings of the running command line; the defaults when a command runs outside the group."""
    settings = click.get_current_context().find_object(Settings)
    return settings if settings is not None else Settings("auto")
