"""The ``summary`` tables, built with rich, each fitted to the terminal's width."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..model.duration_sketch import DurationSketch
from ..model.summary import PlaceTally, Summary
from .formatting import clock, format_duration, section_table, short_id
from .outcome_style import OUTCOME_WORD, outcome_mark
from .periodic_view import periodic_view
from .workers_view import workers_view

__all__ = ["summary_view"]


def _count(value: int, style: str = "") -> Text:
    return Text(f"{value:,}" if value else "·", style=style if value else "dim")


def _span(first: float | None, last: float | None) -> str:
    if first is None or last is None:
        return "no events"
    return f"{clock(first, date=True)} → {clock(last)} UTC ({format_duration(last - first)})"


class _Column(NamedTuple):
    """One column of a summary table: its header, how it is laid out, and its cell for each row."""

    header: str
    cell: Callable[[Any], RenderableType]
    numeric: bool = True
    name: bool = False  # the row's name: shortened with an ellipsis when the table is too wide


def _fit(
    title: str,
    columns: Sequence[_Column],
    rows: Sequence[Any],
    width: int,
    droppable: Sequence[str] = (),
    caption: str | None = None,
) -> Table:
    """Build the table, leaving out the ``droppable`` columns (in that order) while it is wider than
    ``width``; whatever is still too wide is taken from the name column (ellipsis), never wrapped."""
    measure = Console(width=max(width, 20), file=io.StringIO())
    dropped: set[str] = set()
    candidates = [header for header in droppable if any(c.header == header for c in columns)]
    while True:
        table = section_table(title, caption)
        for column in columns:
            if column.header in dropped:
                continue
            if column.name:
                table.add_column(column.header, no_wrap=True, overflow="ellipsis", min_width=10)
            else:
                table.add_column(column.header, justify="right" if column.numeric else "left", no_wrap=True)
        for row in rows:
            table.add_row(*(column.cell(row) for column in columns if column.header not in dropped))
        if not candidates or measure.measure(table).maximum <= width:
            return table
        dropped.add(candidates.pop(0))


def _duration_columns(get: Callable[[Any], DurationSketch]) -> list[_Column]:
    return [
        _Column("p50", lambda row: format_duration(get(row).quantile(0.5))),
        _Column("p95", lambda row: format_duration(get(row).quantile(0.95))),
        _Column("max", lambda row: format_duration(get(row).max if get(row).count else None)),
    ]


def _fate_columns(rows: Sequence[Any]) -> list[_Column]:
    """Revoked, expired, rejected: a column each, when any task had one (a message that never ran)."""

    def column(kind: str, style: str) -> _Column:
        return _Column(kind, lambda row: _count(getattr(row[1], kind), style))

    styles = {"revoked": "magenta", "expired": "yellow", "rejected": "red"}
    return [column(k, s) for k, s in styles.items() if any(getattr(t, k) for _, t in rows)]


def _when(ts: float, one_day: bool) -> str:
    return clock(ts) if one_day else clock(ts, date=True)


def _named(kind: str, name: str) -> Text:
    if kind == "task":
        return Text(name, style="bold")
    return Text.assemble((f"{kind} ", "dim"), (name, "bold magenta"))


def summary_view(summary: Summary, sources: int, width: int = 80) -> RenderableType:
    """Return the whole summary: header, tasks, flows, slowest flows, failures, queues, hosts.

    Every table fits in ``width`` columns: ids are short (the first 8 characters, enough for ``show``),
    error texts are one line cut with an ellipsis, and when the terminal is narrow the columns that
    matter least are left out (p50 before p95, wake-ups before outcomes), never wrapped into a column
    of single characters.
    """
    parts: list[RenderableType] = []
    header = Text()
    header.append(f"{summary.events:,} events", style="bold")
    header.append(f" from {sources} input{'s' if sources != 1 else ''}, ")
    header.append(_span(summary.first_ts, summary.last_ts))
    parts.append(header)
    one_day = (
        summary.first_ts is not None
        and summary.last_ts is not None
        and clock(summary.first_ts, date=True)[:10] == clock(summary.last_ts, date=True)[:10]
    )

    if summary.tasks:
        rows = sorted(summary.tasks.items(), key=lambda item: (-item[1].runs, item[0]))
        columns = [
            _Column("task", lambda row: Text(row[0], style="bold"), numeric=False, name=True),
            _Column("runs", lambda row: _count(row[1].runs)),
            _Column("ok", lambda row: _count(row[1].successes, "green")),
            _Column("failed", lambda row: _count(row[1].failures, "bold red")),
            _Column("retried", lambda row: _count(row[1].retries, "yellow")),
        ]
        if any(tally.unfinished for _, tally in rows):
            columns.append(_Column("no end", lambda row: _count(row[1].unfinished, "cyan")))
        if any(tally.replaced for _, tally in rows):
            columns.append(_Column("replaced", lambda row: _count(row[1].replaced, "magenta")))
        columns += _fate_columns(rows)
        columns += _duration_columns(lambda row: row[1].durations)
        parts.append(
            _fit("Tasks (a run is one attempt)", columns, rows, width, droppable=("p50", "ok", "p95"))
        )

    if summary.flows:
        flow_rows = sorted(summary.flows.items(), key=lambda item: (-item[1].runs, item[0]))
        columns = [
            _Column("flow", lambda row: Text(row[0], style="bold magenta"), numeric=False, name=True),
            _Column("runs", lambda row: _count(row[1].runs)),
            _Column("ok", lambda row: _count(row[1].successes, "green")),
            _Column("failed", lambda row: _count(row[1].failures, "bold red")),
        ]
        if any(flow.unfinished for _, flow in flow_rows):
            columns.append(_Column("no end", lambda row: _count(row[1].unfinished, "cyan")))
        columns.append(_Column("wake-ups", lambda row: _count(row[1].wakeups)))
        if any(flow.dispatcher_errors for _, flow in flow_rows):
            columns.append(
                _Column("dispatcher errors", lambda row: _count(row[1].dispatcher_errors, "bold red"))
            )
        columns += _duration_columns(lambda row: row[1].durations)
        parts.append(_fit("Flows", columns, flow_rows, width, droppable=("wake-ups", "p50", "ok", "p95")))

    if summary.canvases:
        canvas_rows = sorted(summary.canvases.items(), key=lambda item: (-item[1].runs, item[0]))
        columns = [
            _Column("workflow", lambda row: Text(row[0], style="bold magenta"), numeric=False, name=True),
            _Column("runs", lambda row: _count(row[1].runs)),
            _Column("ok", lambda row: _count(row[1].successes, "green")),
            _Column("failed", lambda row: _count(row[1].failures, "bold red")),
        ]
        if any(tally.unfinished for _, tally in canvas_rows):
            columns.append(_Column("no end", lambda row: _count(row[1].unfinished, "cyan")))
        if any(tally.dropped for _, tally in canvas_rows):  # a member revoked, expired or rejected
            columns.append(_Column("dropped", lambda row: _count(row[1].dropped, "magenta")))
        columns += _duration_columns(lambda row: row[1].durations)
        title = "Canvas workflows, by shape (chains, groups, chords: show ANY-ID for one)"
        parts.append(_fit(title, columns, canvas_rows, width, droppable=("p50", "ok", "p95")))

    slowest = summary.slowest
    if slowest:
        columns = [
            _Column("id", lambda row: Text(short_id(row[1]), style="dim"), numeric=False),
            _Column("flow", lambda row: Text(row[2], style="magenta"), numeric=False, name=True),
            _Column(
                "outcome",
                lambda row: outcome_mark(row[3]) + f" {OUTCOME_WORD.get(row[3], row[3])}",
                numeric=False,
            ),
            _Column("duration", lambda row: format_duration(row[0])),
            _Column("started (UTC)", lambda row: _when(row[4], one_day)),
        ]
        parts.append(_fit("Slowest flows", columns, slowest, width))

    if summary.failures:
        groups = sorted(summary.failures.items(), key=lambda item: (-item[1].count, -item[1].last_ts))
        caption = "A whole error: selinon-trace show -t <last id> FILES."
        if len(groups) > summary.top:
            hidden = sum(group.count for _, group in groups[summary.top :])
            caption = (
                f"{len(groups) - summary.top} more kinds of failure ({hidden:,} failures): --top. " + caption
            )
        shown = groups[: summary.top]
        columns = [
            _Column("count", lambda row: f"{row[1].count:,}"),
            _Column("task or flow", lambda row: _named(row[0][0], row[0][1]), numeric=False, name=True),
            _Column("last (UTC)", lambda row: _when(row[1].last_ts, one_day)),
            _Column("last id", lambda row: Text(short_id(row[1].last_id), style="dim"), numeric=False),
        ]

        # The error gets what the other columns leave of the width, on one line; when that is less
        # than 40 characters, the time of the last failure makes room for it.
        def others(chosen: Sequence[_Column]) -> int:
            return Console(width=1000, file=io.StringIO()).measure(_fit("", chosen, shown, 1000)).maximum

        if width - others(columns) - 4 < 40:
            columns = [column for column in columns if column.header != "last (UTC)"]
        room = max(24, width - others(columns) - 4)
        failures = section_table("Failures", caption)
        for column in columns[:2]:
            failures.add_column(
                column.header,
                justify="right" if column.numeric else "left",
                no_wrap=True,
                overflow="ellipsis",
                max_width=None if column.numeric else max(32, width // 3),
            )
        failures.add_column("error", style="red", no_wrap=True, overflow="ellipsis", max_width=room)
        for column in columns[2:]:
            failures.add_column(column.header, no_wrap=True)
        for row in shown:
            failures.add_row(
                *(column.cell(row) for column in columns[:2]),
                row[0][2],
                *(column.cell(row) for column in columns[2:]),
            )
        parts.append(failures)

    for section in (
        periodic_view(summary.periodic, one_day, width),
        workers_view(summary.workers, one_day, width),
    ):
        if section is not None:
            parts.append(section)
    parts.append(_places("Events by queue", "queue", summary.by_queue, width))
    parts.append(_places("Events by host", "host", summary.by_host, width))
    return Group(*parts)


def _places(title: str, what: str, table_data: dict[str, PlaceTally], width: int) -> RenderableType:
    rows = sorted(table_data.items(), key=lambda item: (-item[1].events, item[0]))
    columns = [
        _Column(what, lambda row: row[0], numeric=False, name=True),
        _Column("events", lambda row: _count(row[1].events)),
        _Column("task runs", lambda row: _count(row[1].starts)),
        _Column("retries", lambda row: _count(row[1].retries, "yellow")),
        _Column("task failures", lambda row: _count(row[1].failures, "bold red")),
    ]
    if not rows:
        return Text.assemble((title, "bold"), ("\n  (none)\n", "dim"))
    return _fit(title, columns, rows, width)
