"""The ``show`` tree, built with rich: one flow (wake-ups, tasks, attempts, subflows) or one task."""

from __future__ import annotations

import math
from collections.abc import Iterable

from rich.console import RenderableType
from rich.text import Text
from rich.tree import Tree

from ..model.canvas import Structure
from ..model.runs import FlowRun, TaskRun, Wakeup
from ..reading.lines import Record
from .canvas_view import add_nodes
from .fate_lines import fate_line, fate_phrase
from .formatting import clock, format_duration, short_id
from .outcome_style import OUTCOME_STYLE, OUTCOME_WORD, outcome_mark
from .render import render_record
from .task_lines import Clock, attempt_text, plural

__all__ = ["flow_tree", "task_tree"]


def _add_task(
    parent: Tree, task: TaskRun, structure: Structure, at: Clock, *, traceback: bool, verbose: bool
) -> None:
    # A flow's task with what hangs under it: tasks its code published, and any canvas it started.
    add_nodes(parent, structure.lane(task), at, traceback=traceback, verbose=verbose)


def _wakeups_text(group: list[Wakeup], at: Clock, first_number: int) -> Text:
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


def _flow_label(flow: FlowRun, at: Clock | None) -> Text:
    text = Text()
    if at is not None:
        text.append(at(flow.scheduled if flow.scheduled is not None else flow.first_ts))
        text.append(" ")
    text.append(outcome_mark(flow.outcome))
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
    text.append(f" · {plural(len(tasks), 'task')}, {plural(attempts, 'attempt')}", style="dim")
    text.append(f", {plural(len(flow.wakeups), 'wake-up')}", style="dim")
    if flow.queue:
        text.append(f" · q={flow.queue}", style="blue")
    return text


def _fill_flow(tree: Tree, flow: FlowRun, at: Clock, *, traceback: bool, verbose: bool) -> None:
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

    structure = Structure(flow.tasks)
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
                + outcome_mark(flow.outcome)
                + Text(f" flow {verb}", style=OUTCOME_STYLE[flow.outcome][1])
            )
        elif isinstance(item, TaskRun):
            _add_task(tree, item, structure, at, traceback=traceback, verbose=verbose)
        elif isinstance(item, FlowRun):
            _fill_flow(tree.add(_flow_label(item, at)), item, at, traceback=traceback, verbose=verbose)
        elif isinstance(item, Record):
            tree.add(at(item.ts) + " " + render_record(item))
    flush()
    if traceback and flow.what:
        tree.add(Text(flow.what.rstrip(), style="dim red"))


def _origin(times: Iterable[float | None]) -> float:
    finite = [ts for ts in times if ts is not None and math.isfinite(ts)]
    return min(finite) if finite else 0.0


def flow_tree(flow: FlowRun, *, traceback: bool = False, verbose: bool = False) -> RenderableType:
    """Return a flow as a tree: wake-ups, tasks with their attempts, subflows, in the order they happened."""
    origin = _origin(ts for f in flow.walk() for ts in (f.scheduled, f.first_ts))
    at = Clock(origin)
    header = _flow_label(flow, None)
    header.append(
        f"\nfirst event {clock(origin, date=True)} UTC; times below are offsets from it", style="dim"
    )
    tree = Tree(header, guide_style="dim")
    _fill_flow(tree, flow, at, traceback=traceback, verbose=verbose)
    return tree


def task_tree(task: TaskRun, *, traceback: bool = False, verbose: bool = False) -> RenderableType:
    """Return one task as a tree: its scheduling and each attempt."""
    origin = _origin([task.scheduled, task.first_ts])
    at = Clock(origin)
    header = Text()
    header.append(outcome_mark(task.outcome))
    header.append(" task ")
    header.append(task.name or "?", style="bold")
    header.append(f" [{task.task_id}] ", style="dim")
    fated = task.fate is not None and task.outcome == task.fate.kind
    words = fate_phrase(task.fate, task) if task.fate is not None and fated else None
    header.append(words or OUTCOME_WORD.get(task.outcome, task.outcome), style=OUTCOME_STYLE[task.outcome][1])
    replacement = next((a for a in reversed(task.attempts) if a.replacement), None)
    if replacement is not None:
        header.append(f" · replaced by {replacement.task_name or '?'} (Task.replace)", style="magenta")
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
        tree.add(line + attempt_text(attempt, index, traceback=traceback, verbose=verbose))
    if task.fate is not None:  # revoked, expired or rejected: when, why, and who said so
        tree.add(at(task.fate.ts) + " " + fate_line(task))
    for note in task.notes:
        tree.add(at(note.ts) + " " + render_record(note))
    return tree
