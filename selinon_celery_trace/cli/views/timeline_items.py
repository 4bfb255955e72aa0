"""What the ``timeline`` page draws, item by item: the bars of attempts, the dispatcher's runs, what
never ran, and the error a page states (:mod:`.timeline` puts them together)."""

from __future__ import annotations

import math
from typing import Any, Final

from ..model.canvas import GroupNode, Node, TaskNode
from ..model.canvas_run import CanvasRun
from ..model.runs import Attempt, FlowRun, TaskRun, Wakeup
from .fate_lines import fate_bar, fate_error
from .formatting import UNKNOWN

__all__ = ["Run", "bars", "clip", "never_ran", "task_error", "times", "wakeups"]

Run = FlowRun | TaskRun | CanvasRun

_MAX_TEXT: Final = 4000  # a traceback in a tooltip is for reading its end, not for archiving it


def times(run: Run) -> list[float]:
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
        if task.fate is not None:
            found.append(task.fate.ts)
    return [ts for ts in found if ts is not None and math.isfinite(ts)]


def clip(text: str | None) -> str | None:
    if text is None or len(text) <= _MAX_TEXT:
        return text
    return "…" + text[-_MAX_TEXT:]


def bars(
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
                # A replacement (Task.replace) runs under the replaced task's id, as another task.
                "name": (attempt.task_name if attempt.replacement else task.name) or "?",
                "replacement": attempt.replacement,
                "replaces": attempt.replaces,
                "replacedBy": attempt.replaced_by,
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
                "what": clip(attempt.what),
                "retryCountdown": attempt.retry_countdown,
            }
        )
        previous = attempt
    fate = task.fate
    if fate is not None and not fate.started:  # dropped before it started: a mark where it was dropped
        bars.append(fate_bar(task, fate, t0, flow_id, flow_name))
    elif fate is not None and bars and bars[-1]["outcome"] == fate.kind:  # a terminated attempt
        bars[-1]["error"] = bars[-1]["error"] or fate_error(task)
    return bars


def wakeups(flow: FlowRun, t0: float) -> list[dict[str, Any]]:
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


def never_ran(nodes: list[Node], t0: float, last: float) -> list[dict[str, Any]]:
    """What a canvas planned and never ran (a chain's later steps, a chord's body), with why, placed
    where its lane stopped: the end of the step before it (else the end of the axis)."""
    found: list[dict[str, Any]] = []

    def lane(items: list[Node], after: float | None) -> float | None:
        for node in items:
            if isinstance(node, TaskNode):
                after = node.task.end if node.task.end is not None else after
                lane(node.children, after)
            elif isinstance(node, GroupNode):
                ends = [lane(inner, after) for inner in node.lanes]
                known = [end for end in ends if end is not None]
                after = max(known) if known else after
            else:
                found.append(
                    {
                        "name": node.planned.label,
                        "taskId": node.planned.shown_id,
                        "role": node.role,
                        "why": node.why,
                        "failed": node.failed,
                        "at": (after if after is not None else last) - t0,
                    }
                )
                lane(node.children, after)
        return after

    lane(nodes, None)
    return found


def task_error(task: TaskRun) -> tuple[str | None, str]:
    """The error a task page states, with its attempt: the failure, else the last retry's (as a retry)."""
    for index in range(len(task.attempts) - 1, -1, -1):
        attempt = task.attempts[index]
        if attempt.error and attempt.outcome in ("failure", "retry"):
            verb = "failed" if attempt.outcome == "failure" else "retried"
            return f"attempt {attempt.label(index)} {verb}: {attempt.error}", attempt.outcome
    return None, "failure"
