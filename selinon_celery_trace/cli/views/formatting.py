"""The small text helpers every view shares: a duration, a clock time, a short id, an unknown value."""

from __future__ import annotations

from datetime import datetime, timezone

from rich import box
from rich.table import Table

__all__ = ["UNKNOWN", "clock", "format_duration", "section_table", "short_id"]

UNKNOWN = "\u2013"
"""An en dash: what a view shows for a value the trace does not have."""


def short_id(value: str | None, length: int = 8) -> str:
    """Return the start of an id: enough to tell tasks apart on screen, full ids stay in the data."""
    if not value:
        return "?"
    return value if len(value) <= length else value[:length]


def _digits(value: float, unit: str) -> str:
    # Three significant digits with their trailing zeros kept, so that a column of durations lines up
    # and reads alike: 3.00s next to 3.02s, 12.0ms next to 12.3ms.
    if value >= 99.95:
        return f"{value:.0f}{unit}"
    if value >= 9.995:
        return f"{value:.1f}{unit}"
    return f"{value:.2f}{unit}"


def format_duration(seconds: float | None) -> str:
    """Return a duration the way a person reads it: ``850µs``, ``12.3ms``, ``4.20s``, ``3m05s``.

    Below a minute, always three significant digits (trailing zeros kept, so ``3.00s`` and ``3.02s``
    line up); from a minute on, minutes and seconds.
    """
    if seconds is None:
        return UNKNOWN
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 0.9995e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 0.9995:
        return _digits(seconds * 1e3, "ms")
    if seconds < 59.95:
        return _digits(seconds, "s")
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def clock(ts: float, *, date: bool = False) -> str:
    """Return the UTC wall-clock time of ``ts`` to the millisecond (trace files are in UTC)."""
    moment = datetime.fromtimestamp(ts, timezone.utc)
    text = moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return f"{moment:%Y-%m-%d} {text}" if date else text


def section_table(title: str, caption: str | None = None) -> Table:
    """A section of ``summary`` (tasks, flows, failures, periodic tasks, workers...): a bold title at
    the left, a rule under the header, no frame."""
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        caption=caption,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
