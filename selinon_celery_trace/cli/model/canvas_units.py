"""The units of a Celery canvas and what follows what: tasks, groups, chord bodies, chain order.

What Celery's messages say, and what :class:`Units` makes of it:

- A chain step's ``TASK_SCHEDULE`` lists the steps after it (``chain``); a step that is a group or a
  chord is one entry with the group's id and its tasks (and the chord's body). So a plan tells what
  comes after a task, what a group's members are, and which tasks never ran (their ids are planned).
- A group's (or chord header's) members carry its ``group_id`` and ``group_index``; the members of a
  group nested in another carry the *outer* group's id and their index in the inner one (Celery runs
  nested groups as one, flattened): a plan that lists the inner group tells which members are its own.
  A group applied directly (not frozen first) repeats indexes: its members are then ordered as Celery
  published them, which is the order of their results.
- A chain inside a chord's header is a member by its last step only (frozen as the member, with the
  header's group id and the chord's body); its earlier steps have no group. A chord body is named by
  its header members (``chord_id``); since Celery 5.5 it carries its header's group id too, with no
  index: a task with an index is a member, even when it is also an inner chord's body.

Units are task ids and group ids (the same kind of id); :attr:`Units.before` maps a unit to the unit
it follows in its lane (a chain step to the step before, a chord body to its header, a group step to
the task whose chain it continues), so a group member's lane is walked back to where it starts.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from .canvas_facts import CanvasFacts, Planned
from .runs import TaskRun

__all__ = ["Group", "Member", "Units", "facts_of"]

_NO_FACTS = CanvasFacts()


def facts_of(task: TaskRun) -> CanvasFacts:
    """A task's canvas facts (empty ones for a task outside any canvas)."""
    return task.canvas or _NO_FACTS


@dataclass(slots=True)
class Member:
    """One member of a group: the unit its lane ends with (a task or a group), as far as known."""

    index: int | None
    unit: str | None
    planned: Planned | None = None  # the plan's entry for it (a member that never ran has only this)
    order: float = math.inf  # when it was published (or first seen): Celery's order for its results


@dataclass(slots=True)
class Group:
    """A group or a chord's header: its members and, for a chord, its body."""

    group_id: str
    members: list[Member] = field(default_factory=list)
    body_id: str | None = None
    body_plan: Planned | None = None
    planned: bool = False  # a plan listed its members (they may carry an outer group's id)
    publisher: str | None = None  # the task whose chain continues with this group
    celery_id: str | None = None  # the id Celery gave it, when ``group_id`` is a key of our own

    @property
    def flattened(self) -> bool:
        """Indexes repeat: groups nested in this one, which Celery ran as one group."""
        counts = Counter(m.index for m in self.members if m.index is not None)
        return any(count > 1 for count in counts.values())


def _when(task: TaskRun) -> float:
    return task.scheduled if task.scheduled is not None else task.first_ts


class Units:
    """The groups of one canvas's tasks, the chord bodies, and what follows what (see the module doc)."""

    def __init__(self, tasks: dict[str, TaskRun]) -> None:
        self.tasks = tasks
        self.ordered = sorted(tasks.values(), key=lambda t: (_when(t), t.first_ts, t.task_id))
        self.groups: dict[str, Group] = {}
        self.before: dict[str, str] = {}
        self.body_of: dict[str, str] = {}  # chord body id -> its header's group id
        claimed: set[str] = set()  # tasks a plan puts in a group (whatever group id they carry)
        for task in self.ordered:
            chain = facts_of(task).chain
            if chain:
                self._plan(task.task_id, chain, claimed)
        self._members(claimed)
        self._bodies()
        self.owner = self._owners()

    # -- building ------------------------------------------------------------------------------

    def _group(self, group_id: str) -> Group:
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = Group(group_id)
        return group

    def _plan(self, publisher: str, chain: tuple[Planned, ...], claimed: set[str]) -> None:
        """What a chain's plan says: which unit follows which, and the groups it lists."""
        previous: str | None = publisher
        for step in chain:
            if step.task_id and previous:
                self.before.setdefault(step.task_id, previous)
            if step.is_group and step.task_id:
                self._planned_group(step, claimed)
                if previous == publisher:
                    self.groups[step.task_id].publisher = publisher
            # The unit the next step follows: a chord's body, a task; nothing after a plain group.
            previous = step.body.task_id if step.body else (None if step.is_group else step.task_id)

    def _planned_group(self, step: Planned, claimed: set[str]) -> None:
        assert step.task_id is not None
        group = self._group(step.task_id)
        if group.planned:
            return
        group.planned, group.celery_id = True, step.celery_id
        for position, entry in enumerate(step.group):
            group.members.append(Member(position, entry.task_id, entry))
            if entry.task_id:
                claimed.add(entry.task_id)
            if entry.is_group:
                self._planned_group(entry, claimed)
        if step.body is not None:
            group.body_id, group.body_plan = step.body.task_id, step.body
            if step.body.task_id:
                self.before.setdefault(step.body.task_id, step.task_id)

    def _members(self, claimed: set[str]) -> None:
        """The members the tasks' own facts name, and the planned members of their groups."""
        for task in self.ordered:
            facts = facts_of(task)
            group_id = facts.group_id
            if group_id is None or facts.linked_to is not None:
                continue
            if facts.chord_id == task.task_id and facts.group_index is None:
                continue  # a chord's body (Celery 5.5+ gives it its header's group id)
            group = self._group(group_id)
            known = next((m for m in group.members if m.unit == task.task_id), None)
            if known is not None:
                known.order = min(known.order, _when(task))
            elif task.task_id not in claimed:
                group.members.append(Member(facts.group_index, task.task_id, None, _when(task)))
        for task in self.ordered:  # a member frozen in a plan that never ran (or ran later)
            for step in facts_of(task).chain or ():
                for entry in (step, *step.group):
                    if entry.group_id and entry.task_id and entry.task_id not in claimed:
                        group = self._group(entry.group_id)
                        if not any(m.unit == entry.task_id for m in group.members):
                            group.members.append(Member(entry.group_index, entry.task_id, entry))

    def _bodies(self) -> None:
        """Each chord's body: its plan's, else the one its members name, else a member's plan of it."""
        for group in self.groups.values():
            if group.body_id is None and not group.planned:  # a plan names a chord's body itself
                named = [
                    facts_of(task).chord_id
                    for m in group.members
                    if m.unit and (task := self.tasks.get(m.unit)) is not None
                ]
                group.body_id = next((c for c in named if c), None)
            if group.body_id is not None:
                if group.body_plan is None:
                    group.body_plan = next(
                        (
                            facts_of(task).chord_body
                            for m in group.members
                            if m.unit and (task := self.tasks.get(m.unit)) and facts_of(task).chord_body
                        ),
                        None,
                    )
                self.body_of[group.body_id] = group.group_id
                self.before.setdefault(group.body_id, group.group_id)

    def _owners(self) -> dict[str, str]:
        """Each unit in a group member's lane -> that group (the lane is drawn inside the group)."""
        owner: dict[str, str] = {}
        for group in self.groups.values():
            for member in group.members:
                unit = member.unit
                seen: set[str] = set()
                while unit is not None and unit not in seen and unit != group.group_id:
                    seen.add(unit)
                    owner.setdefault(unit, group.group_id)
                    unit = self.before.get(unit)
        return owner

    # -- reading ---------------------------------------------------------------------------------

    def head(self, unit: str) -> str:
        """Where the lane that ``unit`` is in starts (walking back along :attr:`before`)."""
        seen = {unit}
        while (earlier := self.before.get(unit)) is not None and earlier not in seen:
            seen.add(earlier)
            unit = earlier
        return unit

    def next_of(self, task: TaskRun) -> str | None:
        """The unit a task's chain continues with (its plan's next step), if it planned one."""
        chain = facts_of(task).chain
        return chain[0].task_id if chain else None

    def member_parent(self, group: Group) -> str | None:
        """The task that published the group's members (a task of the canvas), if they say so."""
        for member in group.members:
            task = self.tasks.get(member.unit or "")
            if task is not None and task.parent in self.tasks and self.before.get(task.task_id) is None:
                return task.parent
        return None

    def ordered_members(self, group: Group) -> list[Member]:
        """The members in Celery's order: by index, or as published when nested groups repeat indexes."""
        if group.flattened and not group.planned:
            return sorted(group.members, key=self._published)
        return sorted(group.members, key=lambda m: (m.index is None, m.index or 0, self._published(m)))

    def _published(self, member: Member) -> float:
        """When the member's lane began: its first task's publish (a chain's last step runs late)."""
        if member.unit is None:
            return member.order
        first = self.tasks.get(self.head(member.unit))
        return min(member.order, _when(first)) if first is not None else member.order
