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
from ..model.canvas_run import CanvasRun
from ..model.runs import Attempt, FlowRun, TaskRun, Wakeup
from .formatting import UNKNOWN

__all__ = ["GROUP_BY", "describe", "render_timeline", "timeline_data"]

Run = FlowRun | TaskRun | CanvasRun

GroupBy = Literal["host", "queue", "flow"]
GROUP_BY: Final[tuple[str, ...]] = ("host", "queue", "flow")

_TEMPLATE: Final = "timeline.html"
_PLACEHOLDER: Final = re.compile("__TITLE__|__TRACE_DATA__")
_MAX_TEXT: Final = 4000  # a traceback in a tooltip is for reading its end, not for archiving it


def _times(run: Run) -> list[float]:
    """Every known time of the run, to place the origin and the right edge of the axis."""
    found: list[float | None] = []
    tasks: list[TaskRun] = []
    if isinstance(run, FlowRun):
        for flow in run.walk():
            found += [flow.scheduled, flow.start, flow.end, flow.first_ts, flow.last_ts]
            found += [w.ts for w in flow.wakeups] + [w.rescheduled for w in flow.wakeups]
            tasks += flow.tasks.values()
    elif isinstance(run, CanvasRun):
        tasks = list(run.tasks.values())
    else:
        tasks = [run]
    for task in tasks:
        found.append(task.scheduled)
        for attempt in task.attempts:
            found += [attempt.start, attempt.end]
    return [ts for ts in found if ts is not None and math.isfinite(ts)]


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= _MAX_TEXT:
        return text
    return "…" + text[-_MAX_TEXT:]


def _bars(
    task: TaskRun, flow: FlowRun | None, t0: float, last: float, canvas: CanvasRun | None = None
) -> list[dict[str, Any]]:
    # A canvas workflow is drawn as a flow is: its root id and name in the place of the flow's.
    flow_id = flow.flow_id if flow else canvas.root_id if canvas else task.flow_id
    flow_name = (flow.name if flow else f"canvas {canvas.name}" if canvas else task.flow_name) or None
    bars = []
    previous: Attempt | None = None
    for index, attempt in enumerate(task.attempts):
        end_known = attempt.end is not None
        end = attempt.end if attempt.end is not None else last
        if previous is None:
            wait_from, wait_kind = task.scheduled, "queue"
        else:
            wait_from = previous.end
            wait_kind = "countdown" if previous.outcome == "retry" else "queue"
        start_known = attempt.start is not None
        if attempt.start is not None:
            start = attempt.start
        elif attempt.runtime is not None and attempt.end is not None:
            start = attempt.end - attempt.runtime  # the worker said how long it ran, not when it began
        else:
            start = wait_from if wait_from is not None else end
        if not start_known or (wait_from is not None and wait_from > start):
            wait_from = None
        bars.append(
            {
                "taskId": task.task_id,
                "name": task.name or "?",
                "attempt": attempt.label(index),
                "attempts": len(task.attempts),
                "outcome": attempt.outcome,
                "discarded": attempt.discarded,
                "start": start - t0,
                "end": end - t0,
                "drawStart": start - t0,
                "drawEnd": max(end, start) - t0,
                "startKnown": start_known,
                "endKnown": end_known,
                "duration": attempt.duration,
                "waitFrom": wait_from - t0 if wait_from is not None else None,
                "waitKind": wait_kind,
                "worker": attempt.hostname,
                "node": attempt.node,
                "pid": attempt.pid,
                "queue": attempt.queue or task.queue,
                "flowId": flow_id,
                "flowName": flow_name,
                "error": attempt.error,
                "what": _clip(attempt.what),
                "retryCountdown": attempt.retry_countdown,
            }
        )
        previous = attempt
    return bars


def _wakeups(flow: FlowRun, t0: float) -> list[dict[str, Any]]:
    result = []
    wakeups: list[Wakeup] = flow.wakeups
    for index, wakeup in enumerate(wakeups):
        following = wakeups[index + 1].ts if index + 1 < len(wakeups) else None
        if wakeup.rescheduled is not None:
            end, then = wakeup.rescheduled, "will check again"
        elif flow.end is not None and (following is None or flow.end <= following):
            end, then = flow.end, "flow finished" if flow.outcome == "success" else "flow failed"
        else:
            end, then = wakeup.ts, UNKNOWN
        # The flow's first message waited in the queue from its scheduling (TASK_SCHEDULE by the client
        # that submitted it, or SUBFLOW_SCHEDULE by its parent flow) to its first wake-up.
        queued = flow.scheduled if index == 0 and flow.scheduled is not None else None
        result.append(
            {
                "waitFrom": queued - t0 if queued is not None and queued <= wakeup.ts else None,
                "flowId": flow.flow_id,
                "flowName": flow.name,
                "number": index + 1,
                "start": wakeup.ts - t0,
                "end": end - t0,
                "endKnown": end != wakeup.ts,
                "then": then,
                "node": wakeup.node,
                "queue": wakeup.queue,
            }
        )
    return result


def timeline_data(run: Run, *, group_by: str = "host", sources: str = "") -> dict[str, Any]:
    """Return the JSON the page draws: bars, dispatcher runs and flow marks, times relative to ``t0``."""
    times = _times(run)
    t0 = min(times) if times else 0.0
    last = max(times) if times else 0.0
    bars: list[dict[str, Any]] = []
    wakeups: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    if isinstance(run, FlowRun):
        for flow in run.walk():
            for task in sorted(flow.tasks.values(), key=lambda t: t.first_ts):
                bars += _bars(task, flow, t0, last)
            wakeups += _wakeups(flow, t0)
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
                        "what": _clip(flow.what),
                    }
                )
        flows = list(run.walk())
        tasks = [task for flow in flows for task in flow.tasks.values()]
        kind_name, name, ident = "flow", run.name, run.flow_id
        outcome, error = run.outcome, run.error
        start = run.start if run.start is not None else run.first_ts
        duration = run.duration
        subflows = len(flows) - 1
    elif isinstance(run, CanvasRun):
        tasks = sorted(run.tasks.values(), key=lambda t: t.first_ts)
        for task in tasks:
            bars += _bars(task, None, t0, last, run)
        kind_name, name, ident = "canvas", run.name, run.root_id
        outcome, duration, subflows = run.outcome, run.duration, 0
        start = run.start if run.start is not None else t0
        failed = run.failed
        error = next((a.error for a in reversed(failed.attempts) if a.error), None) if failed else None
        if failed is not None:
            error = f"{failed.name or '?'} [{failed.task_id}]: {error or 'failed'}"
        marks.append({"t": start - t0, "kind": "start", "label": f"canvas {run.name} started"})
        if run.end is not None:
            verb = "finished" if outcome == "success" else "failed"
            marks.append({"t": run.end - t0, "kind": outcome, "label": f"canvas {run.name} {verb}"})
    else:
        tasks = [run]
        bars = _bars(run, None, t0, last)
        kind_name, name, ident = "task", run.name, run.task_id
        outcome = run.outcome
        error = next((a.error for a in reversed(run.attempts) if a.error), None)
        first = next((a.start for a in run.attempts if a.start is not None), None)
        start = first if first is not None else (run.scheduled if run.scheduled is not None else t0)
        end = run.end
        duration = end - start if end is not None else None
        subflows = 0
    attempts = [a for task in tasks for a in task.attempts]
    return {
        "title": f"{kind_name} {name or '?'} [{ident}] — selinon-trace timeline",
        "kind": kind_name,
        "name": name,
        "id": ident,
        "outcome": outcome if outcome in ("success", "failure", "running") else "running",
        "error": error,
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
