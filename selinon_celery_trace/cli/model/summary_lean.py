"""``summary``'s fold of raw trace lines: decoded lean (reading/lean.py) where that is enough.

:func:`fold_lines` folds the lines of one file into a :class:`.summary.Summary` (or a part of one,
:class:`.summary_parts.Part`): each line decoded lean, with a UTC time, is folded by :func:`add_lean`,
which does what :meth:`.summary.Summary.add` does with its record (and, for a part, what
``Part.add`` does to route it) for the events that need no more than the lean fields: a task's start
and end, a flow's events, the events only counted. Anything else (a line that did not decode lean,
workers' events, fates, beat's ends, a discarded result, a map's name) is parsed whole and folded by
``add``: the result is the one of ``add`` on every record, only sooner (tests/cli/test_cli_lean.py
holds both to it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Final

from ..reading import lean
from ..reading.event_names import (
    BEAT_LATE,
    BEAT_START,
    DISPATCHER_FAILURE,
    DISPATCHER_WAKEUP,
    FATE_OUTCOME,
    FLOW_END,
    FLOW_FAILURE,
    FLOW_START,
    TASK_DISCARD_RESULT,
    TASK_END,
    TASK_FAILURE,
    TASK_RETRY,
    TASK_SCHEDULE,
    TASK_START,
    WORKER_EVENTS,
)
from ..reading.fields import MAPPING_TASKS
from ..reading.files import parsed
from ..reading.lean import LeanLine
from ..reading.lines import Malformed, Record, parse_line
from .summary import UNNAMED, Summary

__all__ = ["FLOW_STATE", "HANDED_BACK", "Routes", "add_lean", "fold_lines"]

_fromisoformat: Final = datetime.fromisoformat
_UTC: Final = timezone.utc


def fold_lines(
    batches: Iterable[tuple[int, list[bytes]]],
    name: str,
    malformed: Malformed,
    add: Callable[[Record], object],
    add_lean_line: Callable[[datetime, LeanLine], bool],
    in_window: Callable[[float], bool] | None = None,
) -> None:
    """Fold the lines of the file ``name`` in order, in ``batches`` as :func:`.files.batches` gives them:
    with ``add_lean_line`` (:func:`add_lean` of a summary, or a part's) each line decoded lean that it
    takes, with ``add`` the record of any other; the lines that are no trace events (blank ones apart)
    are counted in ``malformed``, as :func:`.files.read` counts them. With ``in_window``, only the
    events whose time (POSIX seconds) it accepts are folded (``--since`` / ``--until``)."""
    decode, lean_error = lean.DECODE, lean.LeanError
    if decode is None:  # no msgspec: every line parsed whole
        for before, lines in batches:
            for record in parsed(enumerate(lines, before + 1), name, malformed):
                if in_window is None or in_window(record.ts):
                    add(record)
        return
    for before, lines in batches:
        for index, line in enumerate(lines, before + 1):
            if line.isascii():
                try:
                    item = decode(line)
                    moment = _fromisoformat(item.time)
                except (lean_error, ValueError):
                    pass
                else:
                    # A UTC time (the writer's) as it is; any other is read as lines.timestamp reads it.
                    if moment.tzinfo is _UTC:
                        if in_window is not None and not in_window(moment.timestamp()):
                            continue  # an event, out of the window
                        if add_lean_line(moment, item):
                            continue
            result = parse_line(line)
            if isinstance(result, Record):
                if in_window is None or in_window(result.ts):
                    add(result)
            else:
                malformed.note_line(name, index, line, result)


# What add_lean does with an event: count it only (the default), fold a start, an end or a flow's event
# from the lean fields, or nothing (None: its record is read whole).
_COUNTS_ONLY: Final = "counts"
_START, _END, _FLOW = "start", "end", "flow"
_LEAN_KINDS: Final[dict[str, str | None]] = {
    TASK_START: _START,
    **dict.fromkeys((TASK_END, TASK_FAILURE, TASK_RETRY), _END),
    **dict.fromkeys((FLOW_START, FLOW_END, FLOW_FAILURE, DISPATCHER_WAKEUP), _FLOW),
    **dict.fromkeys({TASK_DISCARD_RESULT, DISPATCHER_FAILURE, BEAT_START, BEAT_LATE}, None),
    **dict.fromkeys(FATE_OUTCOME, None),
    **dict.fromkeys(WORKER_EVENTS, None),
}

HANDED_BACK: Final = frozenset(WORKER_EVENTS) | {BEAT_START, BEAT_LATE}
"""The events a part of the input folded apart hands back (summary_parts.py), whatever their ids."""
FLOW_STATE: Final = frozenset({FLOW_START, FLOW_END, FLOW_FAILURE})
"""The flow events a part folds only for flows that began in it (a task's: every ``TASK_*``)."""
_BY_TASK, _BY_FLOW = "task", "flow"


class _Table(dict[str, tuple["str | None", "str | bool"]]):
    """An event name's kind (above) and its route in a part: by its task's id, by its flow's id, or
    folded there (True) or handed back (False) whatever its ids. Memoised per name."""

    def __missing__(self, event: str) -> tuple[str | None, str | bool]:
        if event.startswith("TASK_"):
            route: str | bool = _BY_TASK
        elif event in FLOW_STATE:
            route = _BY_FLOW
        else:
            route = event not in HANDED_BACK
        entry = (_LEAN_KINDS.get(event, _COUNTS_ONLY), route)
        if len(self) < 256:  # (names from the input: a bounded memo)
            self[event] = entry
        return entry


_TABLE: Final = _Table()

_UNREAD: Final = float("nan")  # the time of an end that end_attempt does not read (see add_lean)

Routes = tuple[dict[str, bool], dict[str, bool]]
"""A part's routes (summary_parts.py): whether it folds a task's, a flow's events (by id)."""


def add_lean(summary: Summary, routes: Routes | None, moment: datetime, line: LeanLine) -> bool:
    """Fold a line decoded lean (reading/lean.py), its time read as ``moment`` (aware, UTC), into
    ``summary`` as :meth:`.summary.Summary.add` folds its record; False, folding nothing, when that
    needs more than the lean fields: fold its record then.

    With ``routes`` (not None), ``summary`` is a part's (summary_parts.py): a task's or flow's event
    is folded only when its story began in the part (its first event there was its first publish, its
    start), as ``Part.add`` routes a record; False hands it back.
    """
    # This runs once per line: what EventCounts.count, Summary.add and Part.add do is written out inline
    # (the counting with the line's datetime instead of its seconds: tallies.EventCounts).
    event, details = line.event, line.details
    kind, route = _TABLE[event]
    if routes is not None:
        if route is _BY_TASK:
            task_id = details.task_id
            # Its first event here decides (a lean line is no replacement and no beat send: lean.py).
            if not task_id or not routes[0].setdefault(
                task_id, event == TASK_SCHEDULE and not details.retried_count
            ):
                return False
        elif route is _BY_FLOW:
            flow_id = details.dispatcher_id
            if not flow_id or not routes[1].setdefault(flow_id, event == FLOW_START):
                return False
        elif not route:
            return False
    if kind is None:
        return False
    if kind is _FLOW:
        flow_id = details.dispatcher_id
        if not flow_id:  # (no id: as_str's None, read whole)
            return False
    elif kind is not _COUNTS_ONLY:
        task_id, name = details.task_id, details.task_name
        if not task_id or not name or name in MAPPING_TASKS:
            return False
        if kind is _END and summary.periodic.pending:
            return False  # beat's sends awaiting their ends read the ends whole
    key = (event, line.node, details.queue)
    cell = summary.counts.get(key)
    if cell is None:
        cell = summary.counts[key] = [0]
    cell[0] += 1
    last = summary.last_moment
    if last is None:
        summary.first_moment = summary.last_moment = moment
    elif moment > last:
        summary.last_moment = moment
    elif moment < summary.first_moment:  # type: ignore[operator]
        summary.first_moment = moment
    if kind is _COUNTS_ONLY:
        return True
    if kind is _FLOW:
        summary.flow_event(moment.timestamp(), event, flow_id, details.flow_name or UNNAMED, details.what)
    elif kind is _START:
        ts = moment.timestamp()
        summary.open_attempts[task_id, details.retried_count, None] = (ts, name)  # type: ignore[index, assignment]
        worker = details.hostname
        if worker:
            summary.workers.task_run(worker, ts)
    else:
        runtime = details.runtime
        # The end's time counts only for a duration without runtime and for a failure (end_attempt).
        ts = moment.timestamp() if runtime is None or event == TASK_FAILURE else _UNREAD
        key = (task_id, details.retried_count, None)  # type: ignore[assignment]
        replaced = details.replaced_by is not None
        summary.end_attempt(ts, event, key, name, replaced, details, runtime)  # type: ignore[arg-type]
    return True
