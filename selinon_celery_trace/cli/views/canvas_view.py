"""The ``show`` tree of a Celery canvas: chain steps in order, group members side by side, chord bodies.

Draws the nodes :class:`..model.canvas.Structure` arranges, for a whole canvas workflow (:func:`canvas_tree`)
or for the tasks of a flow (:func:`add_nodes`, from :mod:`.tree_view`), each task with the line every
tree shows (outcome, attempts, runtime, queue wait, worker: :mod:`.task_lines`).
"""

from __future__ import annotations

import math
from collections import Counter

from rich.console import RenderableType
from rich.text import Text
from rich.tree import Tree

from ..model.canvas import GroupNode, MissingNode, Node, Structure, TaskNode
from ..model.canvas_run import CanvasRun
from ..model.fates import FATES
from .formatting import clock, format_duration, short_id
from .outcome_style import OUTCOME_STYLE, outcome_mark
from .task_lines import Clock, add_attempts, plural, task_label

__all__ = ["add_nodes", "canvas_tree"]

_LANE_WORDS = {
    "success": "ok",
    "failure": "failed",
    "running": "not finished",
    "revoked": "revoked",
    "expired": "expired",
    "rejected": "rejected",
}
_FATE_ORDER = ("revoked", "expired", "rejected")  # which fate a lane or group shows when several
_ROLE_TEXT = {"link": "↳ link ", "link_error": "↳ link_error ", "chord body": "chord body "}


def _is_step(node: Node) -> bool:
    """A chain step: a task, a planned step, a member that never ran, or a group (or chord) step."""
    return isinstance(node, GroupNode) or node.role in (None, "chain step", "member")


def _steps(nodes: list[Node]) -> int:
    return sum(1 for n in nodes if _is_step(n))


def add_nodes(
    tree: Tree, nodes: list[Node], at: Clock, *, traceback: bool, verbose: bool = False, prefix: str = ""
) -> None:
    """Add ``nodes`` (one lane: a chain's steps in order) under ``tree``."""
    numbered = _steps(nodes) > 1
    step = 0
    for node in nodes:
        label = Text(prefix, style="dim") if prefix else Text()
        prefix = ""  # a lane's prefix (its group index) goes on its first node only
        if _is_step(node) and numbered:
            step += 1
            label.append(f"step {step} ", style="dim")
        if isinstance(node, TaskNode):
            _add_task(tree, node, label, at, traceback=traceback, verbose=verbose)
        elif isinstance(node, MissingNode):
            _add_missing(tree, node, label, at, traceback=traceback, verbose=verbose)
        else:
            _add_group(tree, node, label, at, traceback=traceback, verbose=verbose)


def _add_task(tree: Tree, node: TaskNode, label: Text, at: Clock, *, traceback: bool, verbose: bool) -> None:
    if node.role in _ROLE_TEXT:
        label.append(_ROLE_TEXT[node.role], style="magenta")
    line = task_label(node.task, at)
    if label.plain:  # after the time offset and its space, before the outcome mark
        line = line[:10] + label + line[10:]
    branch = tree.add(line)
    add_attempts(branch, node.task, at, traceback=traceback, verbose=verbose)
    add_nodes(branch, node.children, at, traceback=traceback, verbose=verbose)


def _add_missing(
    tree: Tree, node: MissingNode, label: Text, at: Clock, *, traceback: bool, verbose: bool
) -> None:
    text = Text("".rjust(9) + " ")
    text.append(label)
    text.append("○ " if not node.failed else "⊘ ", style="red" if node.failed else "dim")
    if node.role in _ROLE_TEXT:
        text.append(_ROLE_TEXT[node.role], style="magenta")
    elif node.role not in ("chain step", "member"):
        text.append(f"{node.role} ", style="magenta")
    text.append(node.planned.label, style="bold dim")
    if node.planned.shown_id:
        text.append(f" [{short_id(node.planned.shown_id)}]", style="dim")
    text.append(f" {node.why}", style="red" if node.failed else "dim")
    branch = tree.add(text)
    if node.children:
        add_nodes(branch, node.children, at, traceback=traceback, verbose=verbose)


def _in_lane(lane: list[Node]) -> list[Node]:
    """A lane's steps, nested groups' lanes included (not what hangs under a task: links, errbacks)."""
    found: list[Node] = []
    for node in lane:
        found.append(node)
        if isinstance(node, GroupNode):
            for inner in node.lanes:
                found += _in_lane(inner)
    return found


def _lane_outcome(lane: list[Node]) -> str:
    nodes = _in_lane(lane)
    tasks = [n.task for n in nodes if isinstance(n, TaskNode)]
    if any(t.outcome == "failure" for t in tasks) or any(
        isinstance(n, MissingNode) and n.failed for n in nodes
    ):
        return "failure"
    if not tasks or any(t.outcome in ("running", "scheduled", "retry") for t in tasks):
        return "running"
    fated = next((kind for kind in _FATE_ORDER if any(t.outcome == kind for t in tasks)), None)
    return fated or "success"


def _add_group(
    tree: Tree, node: GroupNode, label: Text, at: Clock, *, traceback: bool, verbose: bool
) -> None:
    outcomes = Counter(_lane_outcome(lane) for lane in node.lanes)
    overall = "failure" if outcomes["failure"] else "running" if outcomes["running"] else "success"
    overall = next((kind for kind in _FATE_ORDER if outcomes[kind] and overall == "success"), overall)
    text = Text("".rjust(9) + " ")
    text.append(label)
    text.append(outcome_mark(overall))
    text.append(" chord header " if node.chord_id else " group ", style="magenta")
    text.append(f"[{short_id(node.group_id)}]", style="dim")
    text.append(f" {plural(len(node.lanes), 'member')} side by side", style="dim")
    counts = ", ".join(f"{outcomes[o]} {word}" for o, word in _LANE_WORDS.items() if outcomes[o])
    text.append(f": {counts}", style=OUTCOME_STYLE[overall][1])
    if node.flattened:
        text.append(" (nested groups, run by Celery as one: numbered in its order)", style="dim")
    branch = tree.add(text)
    for index, lane in enumerate(node.lanes):
        number = node.tags[index] if index < len(node.tags) else None
        tag = f"[{number if number is not None else index}] "
        if _steps(lane) > 1:
            head = Text("".rjust(9) + " ")
            head.append(tag, style="dim")
            head.append(outcome_mark(_lane_outcome(lane)))
            head.append(f" chain of {_steps(lane)}", style="magenta")
            add_nodes(branch.add(head), lane, at, traceback=traceback, verbose=verbose)
        elif lane:
            add_nodes(branch, lane, at, traceback=traceback, verbose=verbose, prefix=tag)


def canvas_tree(run: CanvasRun, *, traceback: bool = False, verbose: bool = False) -> RenderableType:
    """Return a canvas workflow as a tree, its header saying how it went and which task failed."""
    times = [t.scheduled if t.scheduled is not None else t.first_ts for t in run.tasks.values()]
    finite = [ts for ts in times if math.isfinite(ts)]
    origin = min(finite) if finite else 0.0
    header = Text()
    header.append(outcome_mark(run.outcome))
    header.append(" canvas ", style="magenta")
    header.append(run.name, style="bold magenta")
    header.append(f" [root {run.root_id}]", style="dim")
    outcome = run.outcome
    if outcome == "success":
        header.append(f" finished in {format_duration(run.duration)}", style="green")
    elif outcome == "failure":
        header.append(" failed", style="bold red")
        if run.duration is not None:
            header.append(f" after {format_duration(run.duration)}", style="bold red")
        failed = run.failed
        if failed is not None:
            header.append(f": {failed.name or '?'} [{short_id(failed.task_id)}]", style="red")
            error = next((a.error for a in reversed(failed.attempts) if a.error), None)
            if error:
                header.append(f" {error}", style="red")
    elif outcome in FATES and run.fated is not None:  # it ended there: say which task, and how
        header.append(f" {outcome}", style=OUTCOME_STYLE[outcome][1])
        header.append(
            f" at {run.fated.name or '?'} [{short_id(run.fated.task_id)}]", style=OUTCOME_STYLE[outcome][1]
        )
    else:
        header.append(" not finished (running, or its end is not in these files)", style="cyan")
    attempts = sum(len(t.attempts) for t in run.tasks.values())
    header.append(f" · {plural(len(run.tasks), 'task')}, {plural(attempts, 'attempt')}", style="dim")
    header.append(
        f"\nfirst event {clock(origin, date=True)} UTC; times below are offsets from it", style="dim"
    )
    tree = Tree(header, guide_style="dim")
    add_nodes(tree, Structure(run.tasks).top(), Clock(origin), traceback=traceback, verbose=verbose)
    return tree
