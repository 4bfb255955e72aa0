"""The nodes of an arranged canvas (:mod:`.canvas`): tasks, groups side by side, what never ran."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .canvas_facts import Planned
from .runs import TaskRun

__all__ = ["GroupNode", "MissingNode", "Node", "TaskNode", "walk"]


@dataclass(slots=True)
class TaskNode:
    """A task that ran (or was scheduled), what it is in its canvas, and what hangs under it."""

    task: TaskRun
    role: str | None = None  # "link", "link_error", "chord body", or None (a step, a member)
    children: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class GroupNode:
    """A group (or a chord's header): its members side by side, each a lane of nodes in order.

    ``tags`` are the members' numbers, one per lane: Celery's ``group_index``, or the member's place
    in the group when nested groups (which Celery runs as one) repeat indexes (``flattened``).
    """

    group_id: str
    lanes: list[list[Node]]
    chord_id: str | None = None
    tags: list[int | None] = field(default_factory=list)
    flattened: bool = False


@dataclass(slots=True)
class MissingNode:
    """Something Celery planned that has no event: a chain step, a chord body, a member; and why."""

    planned: Planned
    role: str
    why: str
    failed: bool  # True when it never ran because something failed (False: may still come)
    children: list[Node] = field(default_factory=list)  # a failed chord's body: the errbacks it fired


Node = TaskNode | GroupNode | MissingNode


def walk(nodes: list[Node]) -> Iterator[Node]:
    """Every node of a tree, depth first (lanes of groups, children of tasks and missing nodes)."""
    for node in nodes:
        yield node
        if isinstance(node, GroupNode):
            for lane in node.lanes:
                yield from walk(lane)
        else:
            yield from walk(node.children)
