"""``summary``'s workers section: each worker, its pool, when it was online, how it went, what it lost."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from ..model.workers import Span, Workers, WorkerTally
from .formatting import UNKNOWN, clock, format_duration, section_table, short_id

__all__ = ["workers_view"]


def _span(span: Span, one_day: bool) -> str:
    def at(ts: float | None) -> str:
        return clock(ts, date=not one_day) if ts is not None else "?"

    if span.offline is None:
        return f"{at(span.online)} → (still online)"
    length = f" ({format_duration(span.offline - span.online)})" if span.online is not None else ""
    return f"{at(span.online)} → {clock(span.offline)}{length}"


def _online(worker: WorkerTally, one_day: bool) -> Text:
    if not worker.spans:
        seen = worker.first_seen
        if seen is None:
            return Text(UNKNOWN, style="dim")
        return Text(f"seen {clock(seen, date=not one_day)} → {clock(worker.last_seen or seen)}", style="dim")
    text = Text(_span(worker.spans[-1], one_day))
    if worker.starts > 1:
        text.append(f" · {worker.starts} starts", style="yellow")
    return text


def _offline(worker: WorkerTally) -> Text:
    online = worker.online
    if online is None:
        return Text("no start/stop events", style="dim")
    if online:
        return Text("online at the end", style="green")
    reason = worker.spans[-1].reason
    if not reason:
        return Text("offline", style="yellow")
    return Text(reason if "shutdown" in reason else f"{reason} shutdown", style="yellow")


def _lost(worker: WorkerTally) -> Text:
    if not worker.lost_count:
        return Text("·", style="dim")
    return Text(f"\u26a0 {worker.lost_count}", style="bold red")


def _lost_lines(worker: WorkerTally, one_day: bool) -> list[Text]:
    lines = []
    for lost in worker.lost:
        line = Text(f"\u26a0 {worker.hostname} lost pool process", style="bold red")
        line.append(f" {lost.process_pid or '?'}", style="bold red")
        if lost.how:
            line.append(f" ({lost.how})", style="red")
        line.append(f" at {clock(lost.ts, date=not one_day)} UTC", style="red")
        if lost.task_name or lost.task_id:
            line.append(f" running {lost.task_name or '?'} [{short_id(lost.task_id)}]", style="red")
        lines.append(line)
    if worker.lost_count > len(worker.lost):
        lines.append(Text(f"  and {worker.lost_count - len(worker.lost)} earlier", style="dim"))
    return lines


def workers_view(workers: Workers, one_day: bool, width: int = 80) -> RenderableType | None:
    """The workers section, or ``None`` when no event names a worker."""
    if not workers.workers:
        return None
    table = section_table("Workers")
    table.add_column("worker", no_wrap=True, overflow="ellipsis", max_width=max(16, width // 4))
    table.add_column("pool", no_wrap=True)
    table.add_column("online (UTC)", overflow="fold")
    table.add_column("went", overflow="fold")
    table.add_column("processes lost", overflow="fold")
    table.add_column("task runs", justify="right", no_wrap=True)
    for worker in sorted(workers.workers.values(), key=lambda w: (-w.lost_count, w.hostname)):
        pool = worker.pool or UNKNOWN
        if worker.concurrency is not None:
            pool += f" \u00d7{worker.concurrency}"
        table.add_row(
            Text(worker.hostname, style="bold cyan"),
            pool,
            _online(worker, one_day),
            _offline(worker),
            _lost(worker),
            f"{worker.task_runs:,}" if worker.task_runs else "·",
        )
    lines: list[RenderableType] = [table]
    for worker in sorted(workers.workers.values(), key=lambda w: w.hostname):
        lines += _lost_lines(worker, one_day)
    lines.append(Text(""))
    return Group(*lines)
