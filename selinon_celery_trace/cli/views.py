"""Terminal views built with rich: the ``summary`` tables and the ``show`` tree."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, NamedTuple

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from .fields import clock, format_duration, short_id
from .model import Attempt, DurationSketch, FlowRun, PlaceTally, Summary, TaskRun, Wakeup
from .reader import Record
from .render import render_record

__all__ = ["OUTCOME_STYLE", "flow_tree", "summary_view", "task_tree"]

OUTCOME_STYLE: Final = {
    "success": ("✔", "green"),
    "failure": ("✖", "bold red"),
    "retry": ("↻", "yellow"),
    "running": ("…", "cyan"),
    "scheduled": ("◷", "dim"),
}


_OUTCOME_WORD: Final = {
    "success": "succeeded",
    "failure": "failed",
    "retry": "retried, no later attempt seen",
    "running": "running or lost (no end event)",
    "scheduled": "scheduled, never started",
}


def _mark(outcome: str) -> Text:
    icon, style = OUTCOME_STYLE.get(outcome, ("?", "dim"))
    return Text(icon, style=style)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _count(value: int, style: str = "") -> Text:
    return Text(f"{value:,}" if value else "·", style=style if value else "dim")


def _table(title: str, caption: str | None = None) -> Table:
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        caption=caption,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        expand=False,
    )


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
        table = _table(title, caption)
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

    slowest = summary.slowest
    if slowest:
        columns = [
            _Column("id", lambda row: Text(short_id(row[1]), style="dim"), numeric=False),
            _Column("flow", lambda row: Text(row[2], style="magenta"), numeric=False, name=True),
            _Column(
                "outcome", lambda row: _mark(row[3]) + f" {_OUTCOME_WORD.get(row[3], row[3])}", numeric=False
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
        failures = _table("Failures", caption)
        for column in columns[:2]:
            failures.add_column(
                column.header,
                justify="right" if column.numeric else "left",
                no_wrap=True,
                overflow="ellipsis",
                max_width=None if column.numeric else 32,
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


# --- show --------------------------------------------------------------------------------------


class _Clock:
    """Offsets from the start of what is shown: ``+1.234s`` reads faster than a wall-clock time."""

    def __init__(self, origin: float) -> None:
        self.origin = origin

    def __call__(self, ts: float | None) -> Text:
        if ts is None or not math.isfinite(ts):
            return Text("?".rjust(9), style="dim")
        return Text(f"+{ts - self.origin:.3f}s".rjust(9), style="dim")


def _attempt_text(attempt: Attempt, index: int, *, traceback: bool) -> Text:
    text = Text()
    text.append(_mark(attempt.outcome))
    label = attempt.number + 1 if attempt.number is not None else index + 1
    text.append(f" attempt {label}", style="bold")
    if attempt.outcome == "retry":
        text.append(f" retried after {format_duration(attempt.duration)}", style="yellow")
        if attempt.retry_countdown is not None:
            text.append(f", next in {format_duration(attempt.retry_countdown)}", style="yellow")
    else:
        _append_ending(text, attempt)
        if attempt.outcome == "success" and attempt.discarded:
            text.append(" (result discarded)", style="yellow")
    text.append(f" · {attempt.worker}", style="dim cyan")
    if attempt.queue:
        text.append(f" · q={attempt.queue}", style="blue")
    if attempt.error:
        text.append(f"\n{attempt.error}", style="red" if attempt.outcome == "failure" else "yellow")
    if traceback and attempt.what and attempt.what.strip() != attempt.error:
        text.append("\n" + attempt.what.rstrip(), style="dim red")
    return text


def _append_ending(text: Text, attempt: Attempt) -> None:
    """How an attempt that was not retried ended, in the words of the attempt and the task lines."""
    if attempt.outcome == "success":
        text.append(f" ok in {format_duration(attempt.duration)}", style="green")
    elif attempt.outcome == "failure" and attempt.duration is None:
        text.append(" failed, no start event (worker lost or killed?)", style="bold red")
    elif attempt.outcome == "failure":
        text.append(f" failed after {format_duration(attempt.duration)}", style="bold red")
    else:
        text.append(" running or lost (no end event)", style="cyan")


def _task_label(task: TaskRun, at: _Clock) -> Text:
    text = at(task.scheduled if task.scheduled is not None else task.first_ts)
    text.append(" ")
    text.append(_mark(task.outcome))
    text.append(" ")
    text.append(task.name or "?", style="bold")
    text.append(f" [{short_id(task.task_id)}]", style="dim")
    attempts = task.attempts
    error: str | None = None
    first_start = next((a.start for a in attempts if a.start is not None), None)
    if len(attempts) == 1:
        attempt = attempts[0]
        _append_ending(text, attempt)
        text.append(f" · {attempt.worker}", style="dim cyan")
        error = attempt.error
    elif attempts:
        retries = sum(1 for a in attempts if a.outcome == "retry")
        word = _OUTCOME_WORD.get(task.outcome, task.outcome)
        text.append(f" {word} after {len(attempts)} attempts", style=OUTCOME_STYLE[task.outcome][1])
        text.append(f" ({retries} retr{'y' if retries == 1 else 'ies'})", style="yellow")
    else:
        text.append(" scheduled, never started", style="dim")
    if task.queue:
        text.append(f" · q={task.queue}", style="blue")
    if task.scheduled is not None and first_start is not None and first_start - task.scheduled > 1e-3:
        text.append(f" · waited {format_duration(first_start - task.scheduled)}", style="dim")
    if task.node_seen and task.node_seen[0] == "NODE_FAILURE" and task.outcome != "failure":
        text.append(" · dispatcher saw it fail", style="red")
    if error:
        text.append(f"\n{error}", style="red")
    return text


def _add_task(parent: Tree, task: TaskRun, flow: FlowRun | None, at: _Clock, *, traceback: bool) -> None:
    branch = parent.add(_task_label(task, at))
    if len(task.attempts) > 1 or (traceback and task.attempts and task.attempts[0].what):
        for index, attempt in enumerate(task.attempts):
            line = at(attempt.start if attempt.start is not None else attempt.end)
            line.append(" ")
            branch.add(line + _attempt_text(attempt, index, traceback=traceback))
    for note in task.notes:
        branch.add(at(note.ts) + " " + render_record(note))
    if flow is not None:
        for child in sorted(flow.tasks.values(), key=lambda t: t.first_ts):
            if child.parent == task.task_id and child is not task:
                _add_task(branch, child, flow, at, traceback=traceback)


def _wakeups_text(group: list[Wakeup], at: _Clock, first_number: int) -> Text:
    text = at(group[0].ts)
    text.append(" ⟳ ", style="magenta")
    if len(group) == 1:
        text.append(f"dispatcher wake-up #{first_number}", style="magenta")
        text.append(f" on {group[0].node}", style="dim cyan")
        if group[0].rescheduled is not None:
            text.append(" → will check again", style="dim")
    else:
        last = first_number + len(group) - 1
        text.append(f"dispatcher wake-ups #{first_number}\u2013#{last} ({len(group)}\u00d7", style="magenta")
        text.append(f" over {format_duration(group[-1].ts - group[0].ts)})", style="magenta")
        hosts = sorted({w.node for w in group})
        text.append(f" on {', '.join(hosts[:3])}{' …' if len(hosts) > 3 else ''}", style="dim cyan")
    return text


def _first_wait(flow: FlowRun) -> float | None:
    """How long the flow's first message waited in the queue: from its scheduling to its first wake-up."""
    if flow.scheduled is None or not flow.wakeups:
        return None
    return flow.wakeups[0].ts - flow.scheduled


def _flow_label(flow: FlowRun, at: _Clock | None) -> Text:
    text = Text()
    if at is not None:
        text.append(at(flow.scheduled if flow.scheduled is not None else flow.first_ts))
        text.append(" ")
    text.append(_mark(flow.outcome))
    text.append(" subflow " if flow.parent_flow and at is not None else " flow ", style="magenta")
    text.append(flow.name or "?", style="bold magenta")
    text.append(f" [{flow.flow_id if at is None else short_id(flow.flow_id)}]", style="dim")
    if flow.outcome == "success":
        text.append(f" finished in {format_duration(flow.duration)}", style="green")
    elif flow.outcome == "failure":
        text.append(" failed", style="bold red")
        if flow.duration is not None:
            text.append(f" after {format_duration(flow.duration)}", style="bold red")
        if flow.error:
            text.append(f": {flow.error}", style="red")
    else:
        text.append(" not finished (running, or its end is not in these files)", style="cyan")
    wait = _first_wait(flow)
    if at is not None and wait is not None:
        text.append(f" · waited {format_duration(wait)} for its first wake-up", style="dim")
    tasks = list(flow.tasks.values())
    attempts = sum(len(t.attempts) for t in tasks)
    text.append(f" · {_plural(len(tasks), 'task')}, {_plural(attempts, 'attempt')}", style="dim")
    text.append(f", {_plural(len(flow.wakeups), 'wake-up')}", style="dim")
    if flow.queue:
        text.append(f" · q={flow.queue}", style="blue")
    return text


def _fill_flow(tree: Tree, flow: FlowRun, at: _Clock, *, traceback: bool) -> None:
    items: list[tuple[float, int, object]] = []
    if flow.scheduled is not None and flow.parent_flow is None:
        items.append((flow.scheduled, 0, "scheduled"))
    for wakeup in flow.wakeups:
        items.append((wakeup.ts, 1, wakeup))
    for task in flow.tasks.values():
        if task.parent not in flow.tasks:
            items.append((task.scheduled if task.scheduled is not None else task.first_ts, 2, task))
    for sub in flow.subflows.values():
        items.append((sub.scheduled if sub.scheduled is not None else sub.first_ts, 2, sub))
    for note in flow.notes:
        items.append((note.ts, 3, note))
    if flow.end is not None:
        items.append((flow.end, 4, "end"))
    items.sort(key=lambda item: (item[0], item[1]))

    wake_number = 0
    pending: list[Wakeup] = []

    def flush() -> None:
        nonlocal wake_number
        if pending:
            tree.add(_wakeups_text(pending, at, wake_number - len(pending) + 1))
            pending.clear()

    for ts, _, item in items:
        if isinstance(item, Wakeup):
            wake_number += 1
            pending.append(item)
            continue
        flush()
        if item == "scheduled":
            line = at(ts) + Text(" ◷ flow submitted", style="dim")
            if flow.queue:
                line.append(f" to q={flow.queue}", style="blue")
            wait = _first_wait(flow)
            if wait is not None:
                line.append(
                    f" · waited {format_duration(wait)} in the queue for its first wake-up", style="dim"
                )
            tree.add(line)
        elif item == "end":
            verb = "finished" if flow.outcome == "success" else "failed"
            tree.add(
                at(ts)
                + " "
                + _mark(flow.outcome)
                + Text(f" flow {verb}", style=OUTCOME_STYLE[flow.outcome][1])
            )
        elif isinstance(item, TaskRun):
            _add_task(tree, item, flow, at, traceback=traceback)
        elif isinstance(item, FlowRun):
            _fill_flow(tree.add(_flow_label(item, at)), item, at, traceback=traceback)
        elif isinstance(item, Record):
            tree.add(at(item.ts) + " " + render_record(item))
    flush()
    if traceback and flow.what:
        tree.add(Text(flow.what.rstrip(), style="dim red"))


def _origin(times: Iterable[float | None]) -> float:
    finite = [ts for ts in times if ts is not None and math.isfinite(ts)]
    return min(finite) if finite else 0.0


def flow_tree(flow: FlowRun, *, traceback: bool = False) -> RenderableType:
    """Return a flow as a tree: wake-ups, tasks with their attempts, subflows, in the order they happened."""
    origin = _origin(ts for f in flow.walk() for ts in (f.scheduled, f.first_ts))
    at = _Clock(origin)
    header = _flow_label(flow, None)
    header.append(
        f"\nfirst event {clock(origin, date=True)} UTC; times below are offsets from it", style="dim"
    )
    tree = Tree(header, guide_style="dim")
    _fill_flow(tree, flow, at, traceback=traceback)
    return tree


def task_tree(task: TaskRun, *, traceback: bool = False) -> RenderableType:
    """Return one task as a tree: its scheduling and each attempt."""
    origin = _origin([task.scheduled, task.first_ts])
    at = _Clock(origin)
    header = Text()
    header.append(_mark(task.outcome))
    header.append(" task ")
    header.append(task.name or "?", style="bold")
    header.append(f" [{task.task_id}] ", style="dim")
    header.append(_OUTCOME_WORD.get(task.outcome, task.outcome), style=OUTCOME_STYLE[task.outcome][1])
    if task.flow_id:
        header.append(" · in flow ", style="dim")
        header.append(task.flow_name or "?", style="magenta")
        header.append(f" (selinon-trace show {short_id(task.flow_id)})", style="dim")
    if task.parent and task.parent != task.flow_id:
        header.append(f" · published by task {short_id(task.parent)}", style="dim")
    header.append(
        f"\nfirst event {clock(origin, date=True)} UTC; times below are offsets from it", style="dim"
    )
    tree = Tree(header, guide_style="dim")
    if task.scheduled is not None:
        line = at(task.scheduled) + Text(" ◷ scheduled", style="dim")
        if task.queue:
            line.append(f" on q={task.queue}", style="blue")
        if task.countdown:
            line.append(f" with countdown {format_duration(task.countdown)}", style="dim")
        tree.add(line)
    for index, attempt in enumerate(task.attempts):
        line = at(attempt.start if attempt.start is not None else attempt.end) + " "
        tree.add(line + _attempt_text(attempt, index, traceback=traceback))
    for note in task.notes:
        tree.add(at(note.ts) + " " + render_record(note))
    return tree
