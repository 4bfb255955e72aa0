"""``summary``'s periodic section: per beat entry, its runs and outcomes, its gaps, missed and late runs.

A missed run is flagged in red: an interval entry's gap between two sends over 1.5 times its interval,
or a crontab due time with no send (see :mod:`..model.periodic`); a late send (BEAT_LATE) in yellow.
"""

from __future__ import annotations

import io
import re

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..model.periodic import GAP_FACTOR, Entry, Periodic
from .formatting import UNKNOWN, clock, format_duration, section_table

__all__ = ["periodic_view", "schedule_text"]

_OUTCOME_WORDS = (
    ("success", "ok", "green"),
    ("failure", "failed", "bold red"),
    ("revoked", "revoked", "magenta"),
    ("expired", "expired", "yellow"),
    ("rejected", "rejected", "red"),
    ("no end", "no end", "cyan"),
)
_CRONTAB = re.compile(r"<crontab:\s*(.*?)\s*\(m/h/dM/MY/d\)>")


def schedule_text(entry: Entry) -> str:
    """The entry's schedule, short: ``every 2.00s``, ``crontab */5 * * * *``, else as written."""
    if entry.every is not None:
        return f"every {format_duration(entry.every)}"
    text = entry.schedule or UNKNOWN
    match = _CRONTAB.search(text)
    return f"crontab {match.group(1)}" if match else text


def _outcomes(entry: Entry) -> Text:
    text = Text()
    for key, word, style in _OUTCOME_WORDS:
        count = entry.outcomes.get(key, 0)
        if count:
            text.append(", " if text.plain else "")
            text.append(f"{count} {word}", style=style)
    return text if text.plain else Text(UNKNOWN, style="dim")


def _gap(entry: Entry) -> Text:
    gap = entry.longest_gap
    if gap is None:
        return Text(UNKNOWN, style="dim")
    text = Text(format_duration(gap))
    if entry.every:
        ratio = gap / entry.every
        text.append(f" ({ratio:.1f}\u00d7)", style="bold red" if ratio > GAP_FACTOR else "dim")
    return text


def _late(entry: Entry) -> Text:
    if not entry.late:
        return Text("·", style="dim")
    text = Text(f"{entry.late}", style="yellow")
    if entry.latest_late is not None:
        text.append(f" (last {format_duration(entry.latest_late)})", style="yellow")
    return text


_DROPPABLE = ("task", "last run (UTC)", "late", "longest gap", "schedule")
"""Columns left out, in this order, while the table is wider than the terminal (the flags stay below)."""


def _table(periodic: Periodic, one_day: bool, dropped: set[str]) -> Table:
    table = section_table("Periodic tasks (celery beat entries)")
    cells = {
        "entry": lambda e: Text(e.name, style="bold"),
        "task": lambda e: e.task or UNKNOWN,
        "schedule": schedule_text,
        "runs": lambda e: f"{e.sends:,}",
        "outcomes": _outcomes,
        "last run (UTC)": lambda e: clock(e.last, date=not one_day) if e.last is not None else UNKNOWN,
        "longest gap": _gap,
        "missed": lambda e: (
            Text(f"\u26a0 {e.missed_total}", style="bold red") if e.missed_total else Text("·", style="dim")
        ),
        "late": _late,
    }
    shown = [name for name in cells if name not in dropped]
    for name in shown:
        if name in ("entry", "task"):
            table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=24, min_width=6)
        else:
            table.add_column(name, no_wrap=True, justify="right" if name in ("runs", "missed") else "left")
    for entry in sorted(periodic.entries.values(), key=lambda e: (-e.missed_total, e.name)):
        table.add_row(*(cells[name](entry) for name in shown))
    return table


def _flags(entry: Entry, one_day: bool) -> list[Text]:
    """A line for each thing to look at: missed runs, then late sends."""
    lines = []
    if entry.missed:
        line = Text(f"\u26a0 {entry.name}: ", style="bold red")
        line.append(f"{entry.missed} missed run{'s' if entry.missed != 1 else ''}", style="bold red")
        if entry.every is not None and entry.longest_gap is not None:
            ratio = entry.longest_gap / entry.every
            line.append(f": longest gap {format_duration(entry.longest_gap)}", style="red")
            line.append(f" ({ratio:.1f}\u00d7 its {format_duration(entry.every)} interval)", style="red")
        elif entry.crontab is not None:
            line.append(f": {schedule_text(entry)} due times with no send", style="red")
        if entry.missed_at:
            ends = ", ".join(clock(ts, date=not one_day) for ts in entry.missed_at)
            line.append(f"; gap{'s' if len(entry.missed_at) > 1 else ''} ending {ends} UTC", style="red")
        lines.append(line)
    if entry.since_last and entry.last is not None and entry.input_end is not None:
        line = Text(f"\u26a0 {entry.name}: ", style="bold red")
        line.append(f"{entry.since_last} missed run{'s' if entry.since_last != 1 else ''}", style="bold red")
        ago = format_duration(entry.input_end - entry.last)
        line.append(
            f": no send since {clock(entry.last, date=not one_day)} UTC ({ago} before the input ends)"
        )
        lines.append(line)
    if entry.late:
        line = Text(f"\u26a0 {entry.name}: sent late {entry.late}\u00d7", style="yellow")
        if entry.latest_late is not None:
            line.append(f", the last time by {format_duration(entry.latest_late)}", style="yellow")
        lines.append(line)
    return lines


def periodic_view(periodic: Periodic, one_day: bool, width: int = 80) -> RenderableType | None:
    """The periodic section, or ``None`` when the input has no beat entry and no beat start."""
    if not periodic.entries and not periodic.starts:
        return None
    parts: list[RenderableType] = []
    if periodic.entries:
        measure = Console(width=1000, file=io.StringIO())  # the table's own width, not a clamped one
        dropped: set[str] = set()
        table = _table(periodic, one_day, dropped)
        for name in _DROPPABLE:
            if measure.measure(table).maximum <= width:
                break
            dropped.add(name)
            table = _table(periodic, one_day, dropped)
        parts.append(table)
        for entry in sorted(periodic.entries.values(), key=lambda e: e.name):
            parts += _flags(entry, one_day)
        parts.append(
            Text(
                f"missed: a gap between sends over {GAP_FACTOR}\u00d7 an interval, or a crontab due time "
                "with no send; late: sent after its due time (BEAT_LATE).",
                style="dim",
            )
        )
    if periodic.starts:
        last = periodic.starts[-1]
        line = Text(f"beat started {len(periodic.starts)}\u00d7", style="bold")
        line.append(f", last at {clock(last.ts, date=not one_day)} UTC on {last.where}", style="dim")
        if len(periodic.starts) > 1:
            earlier = ", ".join(clock(start.ts) for start in periodic.starts[-4:-1])
            line.append(f" (before: {earlier})", style="dim")
        parts.append(line)
    parts.append(Text(""))
    return Group(*parts)
