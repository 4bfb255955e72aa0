"""A Celery canvas workflow (chain, group, chord, links) arranged from its tasks, as ``show`` draws it.

:class:`Structure` arranges any set of tasks (a workflow's, :mod:`.canvas_run`, or a flow's) by their
canvas facts (:mod:`.canvas_facts`): a chain's steps one after the other, a group's members side by
side (each member a lane, so a chain inside a chord is one lane), a chord's body after its header, link
callbacks and errbacks under the task they are linked to, tasks a task's own code published under it;
and what Celery planned but never ran, with the reason (an earlier step failed, a header member failed,
the errback ran inline).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .canvas_facts import CanvasFacts, Planned
from .runs import TaskRun

__all__ = ["GroupNode", "MissingNode", "Node", "Structure", "TaskNode"]

_NO_FACTS = CanvasFacts()
_INLINE_ERRBACK = "fired, in the failed task's worker (an errback of request, exc, traceback): untraced"
_INLINE_CHORD_ERRBACK = "fired by the chord error, inline (an errback of request, exc, traceback): untraced"


@dataclass(slots=True)
class TaskNode:
    """A task that ran (or was scheduled), what it is in its canvas, and what hangs under it."""

    task: TaskRun
    role: str | None = None  # "link", "link_error", "chord body", or None (a step, a member)
    children: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class GroupNode:
    """A group (or a chord's header): its members side by side, each a lane of tasks in order."""

    group_id: str
    lanes: list[list[Node]]
    chord_id: str | None = None


@dataclass(slots=True)
class MissingNode:
    """Something Celery planned that has no event: a chain step, a chord body, a link; and why."""

    planned: Planned
    role: str
    why: str
    failed: bool  # True when it never ran because something failed (False: may still come)
    children: list[Node] = field(default_factory=list)  # a failed chord's body: the errbacks it fired


Node = TaskNode | GroupNode | MissingNode


def _facts(task: TaskRun) -> CanvasFacts:
    return task.canvas or _NO_FACTS


def _fired_inline(planned: tuple[Planned, ...], traced: set[str | None], why: str) -> list[Node]:
    """The planned errbacks with no task of their name among ``traced``: Celery called them inline."""
    return [
        MissingNode(errback, "link_error", why, False)
        for errback in planned
        if errback.task_name not in traced
    ]


class Structure:
    """The tasks of one canvas (or of a flow) arranged as a tree of :data:`Node`; each task placed once."""

    def __init__(self, tasks: dict[str, TaskRun]) -> None:
        self.tasks = tasks
        self.placed: set[str] = set()
        ordered = sorted(tasks.values(), key=lambda t: (t.first_ts, t.task_id))
        self.ordered = ordered
        self.bodies = {
            f.chord_id for t in ordered if (f := _facts(t)).chord_id and f.chord_id != t.task_id
        } | {t.task_id for t in ordered if _facts(t).chord_id == t.task_id}
        self.groups: dict[str, list[TaskRun]] = {}
        for task in ordered:
            facts = _facts(task)
            if facts.group_id and task.task_id not in self.bodies and facts.linked_to is None:
                self.groups.setdefault(facts.group_id, []).append(task)
        # The chain steps that lead into a group member (a chain inside a chord) belong to its lane.
        self.lane_of: dict[str, str] = {}
        for group_id, members in self.groups.items():
            for member in members:
                for step in self._prefix(member):
                    self.lane_of[step.task_id] = group_id
        self.emitted_groups: set[str] = set()

    # -- what follows what ------------------------------------------------------------------------

    def _prefix(self, member: TaskRun) -> list[TaskRun]:
        """The chain steps before a group member that are not in the group themselves, first first."""
        steps: list[TaskRun] = []
        current = member
        while True:
            before = self.tasks.get(current.parent or "")
            chain = _facts(before).chain if before is not None else None
            if before is None or not chain or chain[0].task_id != current.task_id or _facts(before).group_id:
                return steps
            steps.insert(0, before)
            current = before

    def _group_of(self, plan: Planned) -> str | None:
        for task_id in plan.ids():
            task = self.tasks.get(task_id)
            if task is not None and _facts(task).group_id in self.groups:
                return _facts(task).group_id
        return None

    # -- building ---------------------------------------------------------------------------------

    def top(self) -> list[Node]:
        """The workflow's top level: what no other task of it published, in the order it began."""
        nodes: list[Node] = []
        for task in self.ordered:
            if task.task_id in self.placed:
                continue
            facts = _facts(task)
            group_id = self.lane_of.get(task.task_id) or (
                facts.group_id if facts.group_id in self.groups and task.task_id not in self.bodies else None
            )
            if facts.linked_to in self.tasks or (task.parent in self.tasks and group_id is None):
                continue  # placed under the task it belongs to
            if group_id is not None:
                if group_id not in self.emitted_groups:
                    nodes += self.group_block(group_id)
                continue
            nodes += self.lane(task)
        for task in self.ordered:  # whatever the rules above left out (a cycle of parents, say)
            if task.task_id not in self.placed:
                nodes += self.lane(task)
        return nodes

    def lane(self, first: TaskRun, role: str | None = None) -> list[Node]:
        """``first`` and the chain steps after it, then what its chain planned but never ran."""
        nodes: list[Node] = []
        current: TaskRun | None = first
        while current is not None and current.task_id not in self.placed:
            self.placed.add(current.task_id)
            node = TaskNode(current, role)
            role = None
            nodes.append(node)
            chain = _facts(current).chain
            following = self._next_step(current)
            after: list[Node] = []
            if following is not None:
                self.placed.add(following.task_id)  # not a child of this step: the next one
            elif chain:
                group_id = self._group_of(chain[0]) if chain[0].group else None
                if group_id is not None and group_id not in self.emitted_groups:
                    after = self.group_block(group_id)  # a group or chord as the next step
                elif not (chain[0].task_id and chain[0].task_id in self.placed):
                    after = self._missing_steps(current, chain)
            node.children = self.children(current)
            nodes += after
            if following is not None:
                self.placed.discard(following.task_id)
            current = following
        return nodes

    def _next_step(self, task: TaskRun) -> TaskRun | None:
        chain = _facts(task).chain
        if chain:
            step = self.tasks.get(chain[0].task_id or "")
            return step if step is not None and step.task_id not in self.placed else None
        if chain is None:  # no TASK_SCHEDULE of it in the files: its next step names it as its parent
            for child in self.ordered:
                facts = _facts(child)
                if (
                    child.parent == task.task_id
                    and facts.chain is not None
                    and not facts.group_id
                    and facts.linked_to is None
                    and child.task_id not in self.placed
                ):
                    return child
        return None

    def _missing_steps(self, task: TaskRun, chain: tuple[Planned, ...]) -> list[Node]:
        if task.outcome == "failure":
            why, failed = f"never scheduled: step {task.name or '?'} failed", True
        elif task.outcome in ("running", "scheduled", "retry"):
            why, failed = "not scheduled yet (an earlier step has not finished)", False
        else:
            why, failed = "not in these files", False
        return [MissingNode(step, "chain step", why, failed) for step in chain]

    def group_block(self, group_id: str) -> list[Node]:
        """The group's members side by side, then its chord body (or why the body never ran)."""
        self.emitted_groups.add(group_id)
        members = sorted(
            self.groups.get(group_id, []),
            key=lambda t: (_facts(t).group_index is None, _facts(t).group_index or 0, t.first_ts),
        )
        lanes: list[list[Node]] = []
        for member in members:
            if member.task_id in self.placed:
                continue
            prefix = self._prefix(member)
            lanes.append(self.lane(prefix[0] if prefix else member))
        chord_id = next((_facts(m).chord_id for m in members if _facts(m).chord_id), None)
        nodes: list[Node] = [GroupNode(group_id, lanes, chord_id)]
        if chord_id is None:
            return nodes
        body = self.tasks.get(chord_id)
        if body is not None and body.task_id not in self.placed:
            nodes += self.lane(body, "chord body")
        elif body is None:
            planned = next((_facts(m).chord_body for m in members if _facts(m).chord_body), None)
            failed = next((m for m in members if m.outcome == "failure"), None)
            if failed is not None:
                culprit = f"{failed.name or '?'} [{failed.task_id[:8]}]"
                why = f"never ran: header member {culprit} failed (chord error)"
            elif any(m.outcome in ("running", "scheduled", "retry") for m in members):
                why = "not run yet: it waits for every header member"
            else:
                why = "not in these files"
            planned = planned or Planned(None, chord_id)
            missing = MissingNode(planned, "chord body", why, failed is not None)
            if failed is not None:  # Celery fires the body's errbacks instead
                missing.children = self._chord_errbacks(chord_id, planned.link_error)
            nodes.append(missing)
        return nodes

    def _chord_errbacks(self, body_id: str, planned: tuple[Planned, ...]) -> list[Node]:
        """The errbacks of a chord body that never ran: the published ones as tasks, the rest as fired."""
        nodes: list[Node] = []
        traced: set[str | None] = set()
        for other in self.ordered:
            if other.task_id not in self.placed and _facts(other).errback_of == body_id:
                traced.add(other.name)
                nodes += self.lane(other, "link_error")
        return nodes + _fired_inline(planned, traced, _INLINE_CHORD_ERRBACK)

    def children(self, task: TaskRun) -> list[Node]:
        """What hangs under ``task``: its links and errbacks, groups and tasks its code published."""
        nodes: list[Node] = []
        traced: set[str | None] = set()  # the errbacks published as tasks (the others ran inline)
        for other in self.ordered:
            other_facts = _facts(other)
            if other.task_id in self.placed:
                continue
            if other_facts.linked_to == task.task_id:
                if other_facts.errback_of:
                    traced.add(other.name)
                nodes += self.lane(other, "link" if other_facts.callback_of else "link_error")
            elif other.parent == task.task_id and other.task_id not in self.bodies:
                group_id = self.lane_of.get(other.task_id) or (
                    other_facts.group_id if other_facts.group_id in self.groups else None
                )
                if group_id is not None:
                    if group_id not in self.emitted_groups:
                        nodes += self.group_block(group_id)
                elif other.task_id not in self.lane_of:
                    nodes += self.lane(other)
        if task.outcome == "failure":
            nodes += _fired_inline(_facts(task).link_error, traced, _INLINE_ERRBACK)
        return nodes
