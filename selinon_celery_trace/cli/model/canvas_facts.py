"""The canvas facts of one task as the CLI reads them from its events (chain, group, chord, links).

Events of a task in a Celery canvas carry ``root_id``, ``group_id``, ``group_index``, ``chord_id``,
``callback_of`` and ``errback_of`` (its ``TASK_SCHEDULE`` also what Celery plans after it: ``chain``,
``link``, ``link_error``, ``chord_body``); events of other tasks have none of these keys. A
:class:`CanvasFacts` folds them, whatever the order of the events, and says which ids tie the task to
the rest of its workflow (:func:`linked_ids`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..reading.fields import as_int, as_str

__all__ = ["CanvasFacts", "Planned", "chain_plan", "is_canvas_event", "linked_ids", "planned_list"]

_LINK_KEYS = ("task_id", "root_id", "group_id", "chord_id", "callback_of", "errback_of", "parent")


def is_canvas_event(details: Mapping[str, Any]) -> bool:
    """True for an event of a task in a canvas (the writer puts ``root_id`` on all of them, else none)."""
    return "root_id" in details


def linked_ids(details: Mapping[str, Any]) -> set[str]:
    """The ids that tie a canvas event's task to its workflow: itself, root, group, chord, link, parent,
    and every id its plan names (the steps after it, a chord's header and body: tasks that may never
    run, such as the last step of a chain that failed early, whose id ``apply_async`` returned)."""
    found = {as_str(details, key) for key in _LINK_KEYS}
    for key in _PLAN_KEYS:
        entries = details.get(key)
        if entries:
            _plan_ids(entries, found, 0)
    found.discard(None)
    return found  # type: ignore[return-value]


_PLAN_KEYS = ("chain", "chord_body", "link", "link_error")
_ENTRY_KEYS = ("task_id", "group_id", "chord_id")


def _plan_ids(value: Any, found: set[str | None], depth: int) -> None:
    """Add the ids a plan (an entry or a list of them, nested groups and bodies included) names."""
    if depth > 6:
        return
    if isinstance(value, list):
        for item in value:
            _plan_ids(item, found, depth + 1)
    elif isinstance(value, Mapping):
        for key in _ENTRY_KEYS:
            found.add(as_str(value, key))
        for key in ("group", "chord_body", "link_error", "chain"):
            inner = value.get(key)
            if inner:
                _plan_ids(inner, found, depth + 1)


@dataclass(frozen=True, slots=True)
class Planned:
    """A task Celery planned to run (a chain step, a link, a chord body): its name and id, as far as known.

    A chain step that is a group or a chord lists its tasks (``group``) and the chord's ``body``; a chord
    body its errbacks (``link_error``), which Celery fires instead of the body when a header member fails.
    A step already frozen as a member of a group or chord header (a chain's last step inside a chord)
    names that group, its index in it and the chord's body (``group_id``, ``group_index``, ``chord_id``).

    Read as Celery 5.7 plans, whatever Celery wrote it: a chord body that is a chain (Celery before 5.7
    makes ``chain(..., chord(h, d), e)`` a chord whose body is ``chain(d, e)``) is its first step with
    the others ``then``, and in a chain's plan those follow the chord as steps of their own; a group
    Celery gave the id of the group it is a member of (before 5.7: a group in a chain in a group) gets
    a key of its own as ``task_id``, its id kept as ``celery_id``.
    """

    task_name: str | None
    task_id: str | None
    group: tuple[Planned, ...] = ()
    body: Planned | None = None
    link_error: tuple[Planned, ...] = ()
    group_id: str | None = None
    group_index: int | None = None
    chord_id: str | None = None
    then: tuple[Planned, ...] = ()  # a chord body's later steps, when the body is a chain
    celery_id: str | None = None  # the id Celery gave it, when ``task_id`` is a key of our own

    @property
    def is_group(self) -> bool:
        """Whether this step is a group or a chord (``celery.group`` / ``celery.chord``) with its tasks."""
        return bool(self.group)

    @property
    def shown_id(self) -> str | None:
        """The id to show: the one Celery gave it."""
        return self.celery_id or self.task_id

    @property
    def label(self) -> str:
        """How a person reads it: a task's name, or what a group or chord step holds."""
        if self.group:
            names = sorted({p.task_name or "?" for p in self.group})
            what = f"{'chord' if self.body else 'group'} of {len(self.group)} ({', '.join(names)})"
            return what + (f" then {self.body.label}" if self.body else "")
        return self.task_name or "?"  # a chain body's later steps (``then``) are drawn as steps

    def ids(self) -> set[str]:
        """Every task id this plan names, nested ones included."""
        found = {self.task_id} if self.task_id else set()
        for item in (*self.group, *self.then):
            found |= item.ids()
        if self.body is not None:
            found |= self.body.ids()
        return found


def _planned(value: Any) -> Planned | None:
    if not isinstance(value, Mapping):
        return None
    task_id, group_id, errbacks = as_str(value, "task_id"), as_str(value, "group_id"), value.get("link_error")
    steps = _steps(value.get("chain"))
    if steps:  # a chain (a chord's body): its first step, the others after it
        first = steps[0]
        return replace(first, then=steps[1:], link_error=planned_list(errbacks) or first.link_error)
    group = planned_list(value.get("group")) or ()
    celery_id = None
    if group and task_id is not None and task_id == group_id:  # an inner group with its outer one's id
        celery_id, task_id = task_id, f"{task_id}/{as_int(value, 'group_index')}"
    return Planned(
        as_str(value, "task_name"),
        task_id,
        group,
        _planned(value.get("chord_body")),
        planned_list(errbacks) or (),
        group_id,
        as_int(value, "group_index"),
        as_str(value, "chord_id"),
        celery_id=celery_id,
    )


def _steps(value: Any) -> tuple[Planned, ...]:
    """A chain's plan, a chord whose body is a chain followed by that chain's later steps."""
    found: list[Planned] = []
    for item in planned_list(value) or ():
        if item.body is not None and item.body.then:
            found += [replace(item, body=replace(item.body, then=())), *item.body.then]
        else:
            found.append(item)
    return tuple(found)


def planned_list(value: Any) -> tuple[Planned, ...] | None:
    """A plan's list (``link``, ``link_error``, a group's tasks) as :class:`Planned` items; None when
    absent (a chain's plan: :func:`chain_plan`)."""
    if not isinstance(value, list):
        return None
    return tuple(item for item in (_planned(entry) for entry in value) if item is not None)


def chain_plan(value: Any) -> tuple[Planned, ...] | None:
    """A chain's plan (the steps after a task, next first) as Celery 5.7 plans it; None when absent."""
    return _steps(value) if isinstance(value, list) else None


@dataclass(slots=True)
class CanvasFacts:
    """Where one task stands in its canvas; the first event that knows a fact sets it."""

    root_id: str | None = None
    group_id: str | None = None
    group_index: int | None = None
    chord_id: str | None = None
    callback_of: str | None = None
    errback_of: str | None = None
    chain: tuple[Planned, ...] | None = None  # steps still to run after this one, next first
    link: tuple[Planned, ...] = field(default=())
    link_error: tuple[Planned, ...] = field(default=())
    chord_body: Planned | None = None

    def apply(self, details: Mapping[str, Any]) -> None:
        """Fold the canvas keys of one event."""
        self.root_id = self.root_id or as_str(details, "root_id")
        self.group_id = self.group_id or as_str(details, "group_id")
        if self.group_index is None:
            self.group_index = as_int(details, "group_index")
        self.chord_id = self.chord_id or as_str(details, "chord_id")
        self.callback_of = self.callback_of or as_str(details, "callback_of")
        self.errback_of = self.errback_of or as_str(details, "errback_of")
        if self.chain is None:
            self.chain = chain_plan(details.get("chain"))
        self.link = self.link or planned_list(details.get("link")) or ()
        self.link_error = self.link_error or planned_list(details.get("link_error")) or ()
        self.chord_body = self.chord_body or _planned(details.get("chord_body"))

    @property
    def linked_to(self) -> str | None:
        """The task this one is a link callback or errback of."""
        return self.callback_of or self.errback_of
