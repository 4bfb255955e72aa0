"""A canvas workflow named by its shape: ``chain(price → add_tax → charge)``, ``chord([3 × price] → total)``.

The shape is what Celery was asked to run, drawn from the arranged nodes (:mod:`.canvas`): the steps
that never ran count (a failed chain has the shape of the chain that succeeds), what a task's code
published or its links do not. Task names are shortened to their last dotted part; a long shape is
shortened in steps (long chains and lists keep their first and last parts, then nested canvases
become ``chord(…)``) until it fits :data:`MAX_SHAPE`.
"""

from __future__ import annotations

import re
from typing import Final

from .canvas import GroupNode, MissingNode, Node, TaskNode
from .canvas_facts import Planned

__all__ = ["MAX_SHAPE", "shape_of", "short_name"]

MAX_SHAPE: Final = 72
"""Characters a shape takes at most (the Tasks table's name column and a terminal line fit it)."""

_DOTTED = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+")


def short_name(name: str | None) -> str:
    """``shop.tasks.price`` -> ``price``; ``celery.starmap(proj.add)`` -> ``starmap(add)``."""
    return _DOTTED.sub(lambda match: match.group(0).rsplit(".", 1)[1], name or "?")


def _is_step(node: Node) -> bool:
    return isinstance(node, GroupNode) or node.role in (None, "chain step", "member")


def _planned(plan: Planned, level: int, depth: int) -> str:
    if plan.group:
        members = [_planned(p, level, depth + 1) for p in plan.group]
        body = _planned(plan.body, level, depth + 1) if plan.body else None
        canvas = _canvas(members, body, level, depth)
        if plan.body is None or not plan.body.then:
            return canvas
        # A chord whose body is a chain: the chord, then the body's later steps (as the lane draws it).
        steps = [canvas, *(_planned(step, level, depth + 1) for step in plan.body.then)]
        return "chain(…)" if level >= 2 and depth > 0 else f"chain({' → '.join(steps)})"
    return short_name(plan.task_name)


def _canvas(members: list[str], body: str | None, level: int, depth: int) -> str:
    kind = "chord" if body is not None else "group"
    if level >= 2 and depth > 0:
        return f"{kind}(…)"
    if len(members) > 1 and len(set(members)) == 1:
        listed = f"{len(members)} × {members[0]}"
    elif level >= 1 and len(members) > 3:
        listed = f"{members[0]}, {members[1]}, …{len(members) - 3} more…, {members[-1]}"
    else:
        listed = ", ".join(members)
    return f"chord([{listed}] → {body})" if body is not None else f"group({listed})"


def _lane(nodes: list[Node], level: int, depth: int) -> str:
    steps: list[str] = []
    index = 0
    while index < len(nodes):
        node = nodes[index]
        index += 1
        if isinstance(node, GroupNode):
            members = [_lane(lane, level, depth + 1) for lane in node.lanes]
            body = None
            if index < len(nodes) and not isinstance(nodes[index], GroupNode):
                following = nodes[index]
                if isinstance(following, (TaskNode, MissingNode)) and following.role == "chord body":
                    body = _single(following)
                    index += 1
            steps.append(_canvas(members, body, level, depth))
        elif _is_step(node):
            steps.append(
                _single(node) if isinstance(node, TaskNode) else _planned(node.planned, level, depth)
            )
    if len(steps) == 1:
        return steps[0]
    if level >= 2 and depth > 0:
        return "chain(…)"
    if level >= 1 and len(steps) > 4:
        steps = [*steps[:2], f"…{len(steps) - 3} more…", steps[-1]]
    return f"chain({' → '.join(steps)})"


def _single(node: TaskNode | MissingNode) -> str:
    if isinstance(node, TaskNode):
        return short_name(node.task.name)
    return short_name(node.planned.task_name)


def shape_of(nodes: list[Node]) -> str:
    """The shape of a workflow's top-level nodes, at most :data:`MAX_SHAPE` characters."""
    text = "?"
    for level in range(3):
        text = _lane(nodes, level, 0) if nodes else "?"
        if len(text) <= MAX_SHAPE:
            return text
    return text[: MAX_SHAPE - 2] + "…)"
