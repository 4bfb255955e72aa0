"""How an outcome looks in the terminal views: its mark, its colour and its words."""

from __future__ import annotations

from typing import Final

from rich.text import Text

__all__ = ["OUTCOME_STYLE", "OUTCOME_WORD", "outcome_mark"]

OUTCOME_STYLE: Final = {
    "success": ("✔", "green"),
    "failure": ("✖", "bold red"),
    "retry": ("↻", "yellow"),
    "running": ("…", "cyan"),
    "scheduled": ("◷", "dim"),
    "replaced": ("⇢", "magenta"),
    "revoked": ("⊘", "bold magenta"),
    "expired": ("⊝", "bold yellow"),
    "rejected": ("⊗", "bold red"),
}
"""Mark and style of each outcome of an attempt, a task or a flow."""

OUTCOME_WORD: Final = {
    "success": "succeeded",
    "failure": "failed",
    "retry": "retried, no later attempt seen",
    "running": "running or lost (no end event)",
    "scheduled": "scheduled, never started",
    "replaced": "replaced (Task.replace)",
    "revoked": "revoked",
    "expired": "expired, never ran",
    "rejected": "rejected by the worker, never ran",
}
"""What each outcome means, in words."""


def outcome_mark(outcome: str) -> Text:
    """The outcome's mark in its colour (``?`` for an outcome not listed)."""
    icon, style = OUTCOME_STYLE.get(outcome, ("?", "dim"))
    return Text(icon, style=style)
