"""Canvas facts: where a task stands in a chain, group, chord or link, read from what Celery carries.

Celery gives every task message of a canvas its facts: ``root_id`` and ``parent_id`` (headers),
``group`` / ``group_index`` (headers: a group's or a chord header's member), and in the message's
embed the planned ``chain`` (the steps still to run after this one, last first, each with its task id),
the ``chord`` body (with its task id), the ``callbacks`` (``link``) and ``errbacks`` (``link_error``).
The worker hands them to the task tracer in the request. Three facts Celery does not carry: that a
task *is* a link callback, an errback, or a chord's body. The process that publishes such a task is
running the task it belongs to, so the publish hook tells (:func:`link_of`) and our header carries it
(:data:`CARRIED`).

A task is *in a canvas* when any of these facts is there; only then do its events carry the canvas
keys (absent facts as ``None``). The publish hook finds that out (:func:`schedule_facts`) and says so in
our header (``canvas``), so the worker reads the facts only for tasks whose message says so: tasks
outside a canvas get no new key and no extra work. A canvas applied in a process that does not trace
(no ``install``) gives its first tasks no header: their events have no canvas keys; the tasks the
workers publish from there on (chain steps, chord bodies, callbacks) have them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["CARRIED", "link_of", "schedule_facts", "task_facts"]

CARRIED: Final = ("callback_of", "errback_of", "chord_id")
"""The canvas facts our header carries: what only the publishing process knows."""

_MAX_ENTRIES: Final = 50  # planned steps listed per event: a chain of thousands is cut, saying so
_MAX_DEPTH: Final = 3


def task_facts(fields: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
    """The canvas keys of a TASK_* event of a task in a canvas (``fields``: the request as a mapping)."""
    return {
        "root_id": _text(fields.get("root_id")),
        "group_id": _text(fields.get("group")),
        "group_index": _index(fields.get("group_index")),
        # A chord header member names the body it feeds; the body names itself (from our header).
        "chord_id": _body_id(fields.get("chord")) or ctx.get("chord_id"),
        "callback_of": ctx.get("callback_of"),
        "errback_of": ctx.get("errback_of"),
    }


def schedule_facts(headers: Mapping[str, Any], body: Any, ctx: Mapping[str, Any]) -> dict[str, Any] | None:
    """The canvas keys of a TASK_SCHEDULE, with what Celery plans after the task; None outside a canvas.

    ``headers`` and ``body`` are the message's (protocol 2: ``body[2]`` is the embed); ``ctx`` the flow
    context going out with it (our header).
    """
    embed = body[2] if isinstance(body, (tuple, list)) and len(body) >= 3 else None
    if not isinstance(embed, dict):
        embed = {}
    chain, chord = embed.get("chain"), embed.get("chord")
    callbacks, errbacks = embed.get("callbacks"), embed.get("errbacks")
    group = headers.get("group")
    if (
        group is None
        and chain is None
        and chord is None
        and not callbacks
        and not errbacks
        and not any(ctx.get(name) for name in CARRIED)
    ):
        return None
    return {
        "root_id": _text(headers.get("root_id")),
        "group_id": _text(group),
        "group_index": _index(headers.get("group_index")),
        "chord_id": _body_id(chord) or ctx.get("chord_id"),
        "callback_of": ctx.get("callback_of"),
        "errback_of": ctx.get("errback_of"),
        # Celery keeps the chain's remaining steps last first (it pops the next one off the end).
        "chain": _entries(list(reversed(chain)), 0) if isinstance(chain, (list, tuple)) else None,
        "link": _entries(callbacks, 0) if isinstance(callbacks, (list, tuple)) and callbacks else None,
        "link_error": _entries(errbacks, 0) if isinstance(errbacks, (list, tuple)) and errbacks else None,
        "chord_body": _body(chord, 0) if isinstance(chord, dict) else None,
    }


def link_of(request: Any, task_id: Any, name: Any, args: Any, parent_id: Any) -> dict[str, str]:
    """What the task being published is to the running task ``request``: its callback, errback, chord body.

    Celery publishes a link callback (``link``) with ``(result, *signature args)``, and an errback it
    applies asynchronously with ``(failed task id, *signature args)``, both naming the running task as
    their parent; a chord's body is published by the header member that completes the chord, with the
    task id the member's ``chord`` names. ``{}`` for any other task (one the task's own code publishes).
    """
    chord = getattr(request, "chord", None)
    body_id = _body_id(chord)
    if body_id is not None and body_id == task_id:
        return {"chord_id": body_id}
    current_id = getattr(request, "id", None)
    if not isinstance(name, str) or current_id is None:
        return {}
    given = list(args) if isinstance(args, (list, tuple)) else []
    if parent_id == current_id:
        for callback in _signatures(getattr(request, "callbacks", None)):
            if callback.get("task") == name and _applied_with(callback, given, 1):
                return {"callback_of": current_id}
        for errback in _signatures(getattr(request, "errbacks", None)):
            if errback.get("task") == name and given[:1] == [current_id] and _applied_with(errback, given, 1):
                return {"errback_of": current_id}
    elif (  # the chord failed: Celery applies the body's errbacks, as the body's, from this header member
        body_id is not None
        and parent_id == body_id
        and given[:1] == [body_id]
        and any(errback.get("task") == name for errback in _errbacks_of(chord))
    ):
        return {"errback_of": body_id}
    return {}


def _applied_with(signature: Mapping[str, Any], given: list[Any], prepended: int) -> bool:
    """Whether ``given`` are the arguments Celery applies ``signature`` with (its own after ``prepended``)."""
    own = signature.get("args")
    own = list(own) if isinstance(own, (list, tuple)) else []
    if signature.get("immutable"):
        return given == own
    return given[prepended:] == own


def _signatures(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, dict)]
    return []


def _entries(signatures: Any, depth: int) -> list[dict[str, Any]]:
    """Planned tasks as ``{"task_name", "task_id"}`` (a group or chord step lists its tasks too)."""
    found = [_entry(item, depth) for item in signatures[:_MAX_ENTRIES] if isinstance(item, dict)]
    if len(signatures) > _MAX_ENTRIES:
        found.append({"task_name": f"...[{len(signatures) - _MAX_ENTRIES} more]", "task_id": None})
    return found


def _entry(signature: dict[str, Any], depth: int) -> dict[str, Any]:
    name = signature.get("task")
    entry: dict[str, Any] = {"task_name": _text(name), "task_id": _signature_id(signature)}
    options = signature.get("options")
    if isinstance(options, dict):
        # A chain's last step inside a chord's header (or a group) is frozen as that header's member
        # before it runs: these tie a step that never ran to the header and the body it belonged to.
        group_id, index = _text(options.get("group_id")), _index(options.get("group_index"))
        if group_id is not None and index is not None:
            entry.update(group_id=group_id, group_index=index)
            chord = _body_id(options.get("chord"))
            if chord is not None:
                entry["chord_id"] = chord
    if depth >= _MAX_DEPTH:
        return entry
    kwargs = signature.get("kwargs")
    kwargs = kwargs if isinstance(kwargs, dict) else {}
    if name == "celery.group" and isinstance(kwargs.get("tasks"), (list, tuple)):
        entry["group"] = _entries(kwargs["tasks"], depth + 1)
    elif name == "celery.chord":
        header = kwargs.get("header")
        tasks = header.get("kwargs", {}).get("tasks") if isinstance(header, dict) else None
        if isinstance(tasks, (list, tuple)):
            entry["group"] = _entries(tasks, depth + 1)
        body = kwargs.get("body")
        if isinstance(body, dict):
            entry["chord_body"] = _body(body, depth + 1)
    return entry


def _body(signature: dict[str, Any], depth: int) -> dict[str, Any]:
    """A chord body's entry, with its errbacks: when a header member fails the body never runs, and
    Celery fires the body's ``link_error`` instead (inline when it takes ``request, exc, traceback``,
    so only this plan tells it was there).

    A body that is a chain lists its steps (``chain``, first first): before 5.7, Celery makes a chord
    followed by steps in a chain into a chord whose body is a chain of its body and those steps, and
    the chain itself has no task id; only its steps' ids tie them to the rest of the canvas.
    """
    entry = _entry(signature, depth)
    steps = _chain_steps(signature)
    if steps and depth < _MAX_DEPTH:
        entry["chain"] = _entries(steps, depth + 1)
    errbacks = _errbacks_of(signature)
    if errbacks and depth < _MAX_DEPTH:
        entry["link_error"] = _entries(errbacks, depth + 1)
    return entry


def _errbacks_of(signature: Any) -> list[dict[str, Any]]:
    """The ``link_error`` signatures a signature (as a dict) carries in its options."""
    options = signature.get("options") if isinstance(signature, dict) else None
    return _signatures(options.get("link_error") if isinstance(options, dict) else None)


def _chain_steps(signature: Any) -> list[Any]:
    """The steps of a ``celery.chain`` signature (as a dict), first first; ``[]`` for anything else."""
    if not isinstance(signature, dict) or signature.get("task") != "celery.chain":
        return []
    kwargs = signature.get("kwargs")
    tasks = kwargs.get("tasks") if isinstance(kwargs, dict) else None
    return list(tasks) if isinstance(tasks, (list, tuple)) else []


def _body_id(signature: Any) -> str | None:
    """The task id a chord body runs as: its own, or a chain's first step's (the task published first)."""
    steps = _chain_steps(signature)
    if steps:
        return _signature_id(steps[0])
    return _signature_id(signature)


def _signature_id(signature: Any) -> str | None:
    """The task id a signature (as a dict) was given, if any."""
    if not isinstance(signature, dict):
        return None
    options = signature.get("options")
    return _text(options.get("task_id")) if isinstance(options, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _index(value: Any) -> int | None:
    return value if type(value) is int else None
