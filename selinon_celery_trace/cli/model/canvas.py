"""A Celery canvas workflow (chain, group, chord, links) arranged from its tasks, as ``show`` draws it.

:class:`Structure` arranges any set of tasks (a workflow's, :mod:`.canvas_run`, or a flow's) by the
units :mod:`.canvas_units` finds: a chain's steps one after the other, a group's members side by side
(each member a lane, so a chain inside a chord is one lane, with any chord inside it), a chord's body
after its header, link callbacks and errbacks under the task they are linked to, tasks a task's own code
published under it; and what Celery planned but never ran, with the reason (an earlier step failed, a
header member failed, the errback ran inline).
"""

from __future__ import annotations

from .canvas_facts import Planned
from .canvas_nodes import GroupNode, MissingNode, Node, TaskNode, walk
from .canvas_units import Group, Units, facts_of
from .fates import FATES
from .runs import TaskRun

__all__ = ["GroupNode", "MissingNode", "Node", "Structure", "TaskNode", "walk"]

_INLINE_ERRBACK = "fired, in the failed task's worker (an errback of request, exc, traceback): untraced"
_INLINE_CHORD_ERRBACK = "fired by the chord error, inline (an errback of request, exc, traceback): untraced"
_OPEN = ("running", "scheduled", "retry")


def _fired_inline(planned: tuple[Planned, ...], traced: set[str | None], why: str) -> list[Node]:
    """The planned errbacks with no task of their name among ``traced``: Celery called them inline."""
    return [
        MissingNode(errback, "link_error", why, False)
        for errback in planned
        if errback.task_name not in traced
    ]


def _culprit(nodes: list[Node]) -> TaskRun | None:
    """The task that failed (or was revoked, expired, rejected) first among ``nodes``, all lanes and
    children included: a chord's header member that did either is the chord's error."""
    failed = [
        n.task
        for n in walk(nodes)
        if isinstance(n, TaskNode) and (n.task.outcome == "failure" or n.task.outcome in FATES)
    ]
    return min(failed, key=lambda t: t.end if t.end is not None else float("inf")) if failed else None


class Structure:
    """The tasks of one canvas (or of a flow) arranged as a tree of :data:`Node`; each task placed once."""

    def __init__(self, tasks: dict[str, TaskRun]) -> None:
        self.tasks = tasks
        self.units = Units(tasks)
        self.ordered = self.units.ordered
        self.done: set[str] = set()  # tasks, groups and planned ids already placed

    # -- the top level -----------------------------------------------------------------------------

    def top(self) -> list[Node]:
        """The workflow's top level: what no other task of it published, in the order it began."""
        nodes: list[Node] = []
        for task in self.ordered:
            if task.task_id in self.done:
                continue
            unit = self._root(task.task_id)
            if unit is not None and unit not in self.done:
                nodes += self._unit(unit)
        for task in self.ordered:  # what the rules above left out: a cycle (a task replaced by a group)
            if task.task_id not in self.done:
                nodes += self._unit(self._start_of_cycle(task.task_id))
        return nodes

    def _start_of_cycle(self, unit: str) -> str:
        """The task to start from for a unit whose ancestors lead back to it: the last task reached.

        A task that replaces itself with a group is the body of the chord Celery makes of the group,
        whose members it published: the task comes first, and the group hangs under it.
        """
        units, seen, last_task = self.units, set(), unit
        while unit not in seen:
            seen.add(unit)
            if unit in self.tasks:
                last_task = unit
            if unit in units.owner:
                unit = units.owner[unit]
            elif unit in units.before:
                unit = units.before[unit]
            elif unit in units.groups and (parent := units.member_parent(units.groups[unit])) is not None:
                unit = parent
            else:
                break
        return last_task if last_task not in self.done else unit

    def _root(self, unit: str) -> str | None:
        """The outermost unit ``unit`` is drawn in at the top level; None when another task holds it."""
        units, seen = self.units, set()
        while unit not in seen:
            seen.add(unit)
            if unit in units.owner:
                unit = units.owner[unit]
            elif unit in units.before:
                unit = units.before[unit]
            elif unit in units.groups:
                return None if units.member_parent(units.groups[unit]) else unit
            else:
                task = self.tasks.get(unit)
                if task is None:
                    return None
                if facts_of(task).linked_to in self.tasks or task.parent in self.tasks:
                    return None  # placed under the task it belongs to
                return unit
        return None

    def _unit(self, unit: str, role: str | None = None) -> list[Node]:
        """The nodes of a unit: a group's block, or the lane of steps a task starts."""
        if unit in self.units.groups:
            return self.group_block(unit) if unit not in self.done else []
        task = self.tasks.get(unit)
        return self.lane(task, role) if task is not None else []

    # -- lanes -------------------------------------------------------------------------------------

    def lane(self, first: TaskRun, role: str | None = None) -> list[Node]:
        """``first`` and the chain steps after it, then what its chain planned but never ran."""
        nodes: list[Node] = []
        current: TaskRun | None = first
        while current is not None and current.task_id not in self.done:
            self.done.add(current.task_id)
            node = TaskNode(current, role)
            role = None
            nodes.append(node)
            chain = facts_of(current).chain
            following = self._next_step(current)
            after: list[Node] = []
            if following is not None:
                self.done.add(following.task_id)  # not a child of this step: the next one
            elif chain:
                step = chain[0].task_id
                if step in self.units.groups:
                    after = self.group_block(step) if step not in self.done else []
                elif not (step and step in self.done):
                    after = self._missing_steps(current, chain)
            node.children = self.children(current)
            nodes += after
            if following is not None:
                self.done.discard(following.task_id)
            current = following
        return nodes

    def _next_step(self, task: TaskRun) -> TaskRun | None:
        chain = facts_of(task).chain
        if chain:
            step = self.tasks.get(chain[0].task_id or "")
            return step if step is not None and step.task_id not in self.done else None
        if chain is None:  # no TASK_SCHEDULE of it in the files: its next step names it as its parent
            for child in self.ordered:
                facts = facts_of(child)
                if (
                    child.parent == task.task_id
                    and facts.chain is not None
                    and not facts.group_id
                    and facts.linked_to is None
                    and child.task_id not in self.done
                    and child.task_id not in self.units.body_of  # a chord's body: after its header
                ):
                    return child
        return None

    def _missing_steps(self, task: TaskRun, chain: tuple[Planned, ...], after: str = "step") -> list[Node]:
        """The planned steps of ``chain`` that never ran after ``task`` (or after a chord's body)."""
        if task.outcome == "failure":
            why, failed = f"never scheduled: {after} {task.name or '?'} failed", True
        elif task.outcome in FATES:  # a revoked (expired, rejected) step ends its chain there
            why, failed = f"never scheduled: {after} {task.name or '?'} was {task.outcome}", True
        elif task.outcome in _OPEN:
            why, failed = "not scheduled yet (an earlier step has not finished)", False
        else:
            why, failed = "not in these files", False
        return self._planned_steps(chain, why, failed)

    def _planned_steps(self, chain: tuple[Planned, ...], why: str, failed: bool) -> list[Node]:
        nodes: list[Node] = []
        for step in chain:
            if step.task_id:
                if step.task_id in self.done:
                    continue
                self.done.add(step.task_id)
            nodes.append(MissingNode(step, "chain step", why, failed))
        return nodes

    # -- groups and chords -------------------------------------------------------------------------

    def group_block(self, group_id: str) -> list[Node]:
        """The group's members side by side, then its chord body (or why the body never ran)."""
        self.done.add(group_id)
        group = self.units.groups[group_id]
        lanes: list[list[Node]] = []
        tags: list[int | None] = []
        flattened = group.flattened and not group.planned
        for position, member in enumerate(self.units.ordered_members(group)):
            if member.unit is not None and member.unit in self.done:
                continue
            lane = self._member_lane(member.unit, member.planned)
            if lane:
                lanes.append(lane)
                tags.append(position if flattened else member.index)
        nodes: list[Node] = [GroupNode(group.celery_id or group_id, lanes, group.body_id, tags, flattened)]
        if group.body_id is not None:
            nodes += self._body(group, lanes)
        return nodes

    def _member_lane(self, unit: str | None, planned: Planned | None) -> list[Node]:
        if unit is not None:
            head = self.units.head(unit)
            if head in self.tasks or head in self.units.groups:
                lane = self._unit(head)
                if lane:
                    return lane
        if planned is None or (unit is not None and unit in self.done):
            return []
        if unit is not None:
            self.done.add(unit)
        return [MissingNode(planned, "member", "never scheduled", False)]

    def _body(self, group: Group, lanes: list[list[Node]]) -> list[Node]:
        """The chord's body: its lane, or why it never ran (and the chain steps planned after it)."""
        assert group.body_id is not None
        body = self.tasks.get(group.body_id)
        if body is not None:
            return self.lane(body, "chord body") if body.task_id not in self.done else []
        if group.body_id in self.done:
            return []
        self.done.add(group.body_id)
        culprit = _culprit([node for lane in lanes for node in lane])
        if culprit is not None:
            verb = "failed" if culprit.outcome == "failure" else f"was {culprit.outcome}"
            why = (
                f"never ran: header member {culprit.name or '?'} [{culprit.task_id[:8]}] {verb} (chord error)"
            )
        elif any(isinstance(n, TaskNode) and n.task.outcome in _OPEN for lane in lanes for n in walk(lane)):
            why = "not run yet: it waits for every header member"
        else:
            why = "not in these files"
        planned = group.body_plan or Planned(None, group.body_id)
        missing = MissingNode(planned, "chord body", why, culprit is not None)
        if culprit is not None:  # Celery fires the body's errbacks instead
            missing.children = self._chord_errbacks(group.body_id, planned.link_error)
        nodes: list[Node] = [missing]
        publisher = self.tasks.get(group.publisher or "")
        chain = facts_of(publisher).chain if publisher is not None else None
        # The steps after the chord never ran either: the chain's, or the body's own (a chain body).
        after = (*(chain[1:] if chain else ()), *planned.then)
        if culprit is not None:
            nodes += self._planned_steps(after, "never scheduled: the chord before it failed", True)
        else:
            nodes += self._planned_steps(after, "not scheduled yet (the chord has not finished)", False)
        return nodes

    def _chord_errbacks(self, body_id: str, planned: tuple[Planned, ...]) -> list[Node]:
        """The errbacks of a chord body that never ran: the published ones as tasks, the rest as fired."""
        nodes: list[Node] = []
        traced: set[str | None] = set()
        for other in self.ordered:
            if other.task_id not in self.done and facts_of(other).errback_of == body_id:
                traced.add(other.name)
                nodes += self.lane(other, "link_error")
        return nodes + _fired_inline(planned, traced, _INLINE_CHORD_ERRBACK)

    # -- what hangs under a task -------------------------------------------------------------------

    def _outermost(self, unit: str) -> str:
        """The outermost group (or lane start) holding ``unit``, for a canvas a task's code started."""
        units, seen = self.units, set()
        while unit not in seen:
            seen.add(unit)
            if unit in units.owner:
                unit = units.owner[unit]
            elif unit in units.before and units.before[unit] in units.groups:
                unit = units.before[unit]
            else:
                break
        return unit

    def children(self, task: TaskRun) -> list[Node]:
        """What hangs under ``task``: its links and errbacks, groups and tasks its code published."""
        nodes: list[Node] = []
        traced: set[str | None] = set()  # the errbacks published as tasks (the others ran inline)
        units = self.units
        for other in self.ordered:
            other_facts = facts_of(other)
            if other.task_id in self.done:
                continue
            if other_facts.linked_to == task.task_id:
                if other_facts.errback_of:
                    traced.add(other.name)
                nodes += self.lane(other, "link" if other_facts.callback_of else "link_error")
            elif (
                other.parent == task.task_id
                and units.before.get(other.task_id) is None
                and other.task_id not in units.body_of
            ):
                nodes += self._unit(self._outermost(other.task_id))
        if task.outcome == "failure":
            nodes += _fired_inline(facts_of(task).link_error, traced, _INLINE_ERRBACK)
        return nodes
