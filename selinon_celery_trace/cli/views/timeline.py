"""The ``timeline`` page: a flow's (or a task's) attempts as bars on a time axis, in one HTML file.

The page is ``timeline.html`` next to this module, a template with two placeholders: the title and the
JSON data. The script inside draws the data as inline SVG, so the file opens anywhere (mailed, attached
to a ticket) with no network access. All the reading of events happens here; the page only lays out
and draws what it is given: one bar per task attempt, one mark per dispatcher run, flow start and end.
"""

from __future__ import annotations

import html
import json
import math
import re
from importlib import resources
from typing import Any, Final, Literal

from ...core import __version__
from ..model.canvas import Structure
from ..model.canvas_run import CanvasRun
from ..model.runs import FlowRun
from . import timeline_items as items
from .fate_lines import fate_error
from .timeline_items import Run

__all__ = ["GROUP_BY", "describe", "render_timeline", "timeline_data"]

GroupBy = Literal["host", "queue", "flow"]
GROUP_BY: Final[tuple[str, ...]] = ("host", "queue", "flow")

_TEMPLATE: Final = "timeline.html"
_PLACEHOLDER: Final = re.compile("__TITLE__|__TRACE_DATA__")
_PAGE_OUTCOMES: Final = frozenset({"success", "failure", "running", "revoked", "expired", "rejected"})


def timeline_data(run: Run, *, group_by: str = "host", sources: str = "") -> dict[str, Any]:
    """Return the JSON the page draws: bars, dispatcher runs and flow marks, times relative to ``t0``."""
    times = items.times(run)
    t0 = min(times) if times else 0.0
    last = max(times) if times else 0.0
    bars: list[dict[str, Any]] = []
    wakeups: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    never_ran: list[dict[str, Any]] = []
    error_kind = "failure"
    first_run: float | None = None
    if isinstance(run, FlowRun):
        for flow in run.walk():
            for task in sorted(flow.tasks.values(), key=lambda t: t.first_ts):
                bars += items.bars(task, flow, t0, last)
            wakeups += items.wakeups(flow, t0)
            kind = "flow" if flow is run else "subflow"
            if flow is run and flow.start is not None:
                marks.append({"t": flow.start - t0, "kind": "start", "label": f"{kind} {flow.name} started"})
            if flow.end is not None:
                verb = "finished" if flow.outcome == "success" else "failed"
                marks.append(
                    {
                        "t": flow.end - t0,
                        "kind": flow.outcome,
                        "label": f"{kind} {flow.name} {verb}",
                        "what": items.clip(flow.what),
                    }
                )
        flows = list(run.walk())
        tasks = [task for flow in flows for task in flow.tasks.values()]
        kind_name, name, ident = "flow", run.name, run.flow_id
        outcome, error = run.outcome, run.error
        start = run.start if run.start is not None else run.first_ts
        end = run.end
        subflows = len(flows) - 1
        for flow in flows:
            never_ran += items.never_ran(Structure(flow.tasks).top(), t0, last)
    elif isinstance(run, CanvasRun):
        tasks = sorted(run.tasks.values(), key=lambda t: t.first_ts)
        for task in tasks:
            bars += items.bars(task, None, t0, last, run)
        kind_name, name, ident = "canvas", run.name, run.root_id
        outcome, end, subflows = run.outcome, run.end, 0
        start = run.start if run.start is not None else t0
        never_ran = items.never_ran(Structure(run.tasks).top(), t0, last)
        failed = run.failed
        error = next((a.error for a in reversed(failed.attempts) if a.error), None) if failed else None
        if failed is not None:
            error = f"{failed.name or '?'} [{failed.task_id}]: {error or 'failed'}"
        marks.append({"t": start - t0, "kind": "start", "label": f"canvas {run.name} started"})
        if run.end is not None:
            verb = {"success": "finished", "failure": "failed"}.get(outcome, outcome)
            marks.append({"t": run.end - t0, "kind": outcome, "label": f"canvas {run.name} {verb}"})
    else:
        tasks = [run]
        bars = items.bars(run, None, t0, last)
        kind_name, name, ident = "task", run.name, run.task_id
        outcome = run.outcome
        error, error_kind = items.task_error(run)
        if error is None and run.fate is not None:  # revoked, expired or rejected: when and why
            error, error_kind = fate_error(run), run.fate.kind
        start = run.scheduled if run.scheduled is not None else t0
        end = run.end if run.outcome not in ("running", "scheduled") else None
        first_run = run.attempts[0].duration if run.attempts else None
        subflows = 0
    # One duration, the axis's: from the first event drawn (the publish) to the last end.
    duration = end - t0 if end is not None else None
    attempts = [a for task in tasks for a in task.attempts]
    return {
        "title": f"{kind_name} {name or '?'} [{ident}] — selinon-trace timeline",
        "kind": kind_name,
        "name": name,
        "id": ident,
        "outcome": outcome if outcome in _PAGE_OUTCOMES else "running",
        "error": error,
        "errorKind": error_kind,
        "firstRun": first_run,
        "t0": t0,
        "start": (start - t0) if start is not None and math.isfinite(start) else None,
        "duration": duration,
        "groupBy": group_by if group_by in GROUP_BY else "host",
        "counts": {
            "tasks": len(tasks),
            "retries": sum(1 for a in attempts if a.outcome == "retry"),
            "failures": sum(1 for a in attempts if a.outcome == "failure"),
            "subflows": subflows,
        },
        "bars": bars,
        "neverRan": never_ran,
        "wakeups": wakeups,
        "marks": marks,
        "version": __version__,
        "sources": sources,
    }


def _script_json(value: Any) -> str:
    # Inside <script type="application/json"> only "</script" (and "<!--") could end the block early:
    # escaping every "<", ">" and "&" rules that out whatever the trace holds.
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_timeline(run: Run, *, group_by: str = "host", sources: str = "") -> str:
    """Return the whole self-contained HTML page for ``run``."""
    data = timeline_data(run, group_by=group_by, sources=sources)
    template = resources.files(__package__).joinpath(_TEMPLATE).read_text(encoding="utf-8")
    values = {"__TITLE__": html.escape(data["title"]), "__TRACE_DATA__": _script_json(data)}
    # One pass, so a flow named "__TRACE_DATA__" cannot make a placeholder appear twice.
    return _PLACEHOLDER.sub(lambda match: values[match.group(0)], template)


def describe(run: Run) -> str:
    """One line naming what a page draws (for the message the command prints)."""
    if isinstance(run, FlowRun):
        tasks = [task for flow in run.walk() for task in flow.tasks.values()]
        attempts = sum(len(task.attempts) for task in tasks)
        return (
            f"flow {run.name or '?'} [{run.flow_id}], {run.outcome}, {len(tasks)} tasks, {attempts} attempts"
        )
    if isinstance(run, CanvasRun):
        attempts = sum(len(task.attempts) for task in run.tasks.values())
        counts = f"{len(run.tasks)} tasks, {attempts} attempts"
        return f"canvas {run.name} [root {run.root_id}], {run.outcome}, {counts}"
    return f"task {run.name or '?'} [{run.task_id}], {run.outcome}, {len(run.attempts)} attempts"
