"""celery beat (its own process): BEAT_START, BEAT_LATE, and the ``periodic`` key of TASK_SCHEDULE.

- ``beat_init`` (sent once the scheduler exists, before the first tick): BEAT_START, with the
  scheduler's class and its entries (name, task, schedule, and when each last ran).
- A named hook on ``celery.beat.Scheduler.apply_async``, which every send of an entry goes through
  (``tick`` -> ``apply_entry`` -> ``apply_async``, and callers that send an entry at once). Any scheduler
  built on Celery's (``PersistentScheduler``, django-celery-beat's ``DatabaseScheduler``, ...) inherits
  it, unless it overrides ``apply_async`` without calling ``super()``. While it runs, this thread's
  ``runtime.periodic`` holds the entry, so the publish hook adds ``periodic`` (entry name, schedule as
  text, interval) to the message's TASK_SCHEDULE. Before sending, the hook asks the entry's schedule
  how long ago it was due (``remaining_estimate`` of its last run, negative once due): sent more than
  :data:`LATE_AFTER` seconds after its due time (beat was stopped, or blocked), BEAT_LATE follows,
  with the task id of the send. Celery sends a missed entry once, not once per missed run: a late
  send, and the gap between two sends of one entry against its ``interval``, tell a reader the runs
  that never happened.

Beat's own events are handed off (beat's loop never waits on a sink); its TASK_SCHEDULE events are the
publish hook's, delivered as the message is sent, as in any process.
"""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from ..core.handoff import emit_in_background
from ..core.registry import report_internal_error, wants
from ..trace import Trace
from . import patching
from .runtime import runtime

__all__ = ["LATE_AFTER", "on_beat_init", "patch_scheduler", "periodic_of", "unpatch_scheduler"]

LATE_AFTER: Final = 1.0
"""Seconds after its due time from which a send is late (beat wakes for each due entry on time)."""

_MAX_ENTRIES: Final = 200  # entries listed in BEAT_START


def on_beat_init(sender: Any = None, **_: Any) -> None:
    """BEAT_START (``sender`` is beat's ``Service``); the scheduler hooked if it was not yet."""
    runtime.beat = True
    try:
        patch_scheduler()
        if not wants(Trace.BEAT_START):
            return
        scheduler = sender.scheduler
        entries = [_entry_facts(entry) for entry in list(scheduler.schedule.values())[:_MAX_ENTRIES]]
        details = {
            "hostname": socket.gethostname(),
            "pid": runtime.pid,
            "scheduler": f"{type(scheduler).__module__}.{type(scheduler).__qualname__}",
            "max_interval": getattr(scheduler, "max_interval", None),
            "entries": entries,
        }
        emit_in_background(Trace.BEAT_START, details)
    except Exception as exc:
        report_internal_error("beat_init receiver", exc)


def periodic_of(entry: Any) -> dict[str, Any]:
    """The ``periodic`` key of an entry's TASK_SCHEDULE: its name, its schedule as text, its interval."""
    schedule = getattr(entry, "schedule", None)
    return {"entry": _text(getattr(entry, "name", None)), **_schedule_facts(schedule)}


def _entry_facts(entry: Any) -> dict[str, Any]:
    runs = getattr(entry, "total_run_count", 0)
    last = getattr(entry, "last_run_at", None)
    return {
        **periodic_of(entry),
        "task": _text(getattr(entry, "task", None)),
        # A fresh entry's last_run_at is its creation time: only a count says it really ran.
        "last_run_at": _iso(entry, last) if isinstance(runs, int) and runs > 0 else None,
        "total_run_count": runs if isinstance(runs, int) else None,
    }


def _schedule_facts(schedule: Any) -> dict[str, Any]:
    """``schedule`` as text (``every 30s``, ``crontab 0 4 * * *``), and ``interval`` in seconds or null."""
    from celery.schedules import crontab, solar
    from celery.schedules import schedule as interval_schedule

    if isinstance(schedule, crontab):
        fields = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")  # cron's order
        return {
            "schedule": "crontab " + " ".join(str(getattr(schedule, f"_orig_{f}", "?")) for f in fields),
            "interval": None,
        }
    if isinstance(schedule, solar):
        return {"schedule": f"solar {schedule.event} ({schedule.lat}, {schedule.lon})", "interval": None}
    if isinstance(schedule, interval_schedule):
        seconds = schedule.run_every.total_seconds()
        return {"schedule": f"every {seconds:g}s", "interval": seconds}
    return {
        "schedule": _text(runtime.text(str(schedule))) if schedule is not None else None,
        "interval": None,
    }


def _lateness(entry: Any) -> float | None:
    """Seconds since the entry was due (negative: not yet due); None when its schedule cannot tell."""
    try:
        remaining = entry.schedule.remaining_estimate(entry.last_run_at)
    except Exception:
        return None
    if isinstance(remaining, timedelta):
        return -remaining.total_seconds()
    return None


def _hooked(original: Any) -> Any:
    def apply_async(self: Any, entry: Any, producer: Any = None, advance: bool = True, **kwargs: Any) -> Any:
        late = facts = None
        try:
            runtime.beat = True
            facts = periodic_of(entry)
            late = _lateness(entry) if wants(Trace.BEAT_LATE) else None
        except Exception as exc:
            report_internal_error("Scheduler.apply_async hook", exc)
        holder = runtime.periodic
        outer, holder.entry = holder.entry, facts
        try:
            result = original(self, entry, producer, advance, **kwargs)
        finally:
            holder.entry = outer
        if late is not None and late > LATE_AFTER:
            _late(entry, facts, late, result)
        return result

    return apply_async


def _late(entry: Any, facts: Any, late: float, result: Any) -> None:
    try:
        task_id = getattr(result, "id", None)
        due = datetime.now(timezone.utc) - timedelta(seconds=late)
        details = {
            "entry": facts.get("entry") if isinstance(facts, dict) else None,
            "task_name": _text(getattr(entry, "task", None)),
            "task_id": task_id if isinstance(task_id, str) else None,
            "schedule": facts.get("schedule") if isinstance(facts, dict) else None,
            "due": due.isoformat(),
            "late": round(late, 3),
            "hostname": socket.gethostname(),
            "pid": runtime.pid,
        }
        emit_in_background(Trace.BEAT_LATE, details)
    except Exception as exc:
        report_internal_error("Scheduler.apply_async hook", exc)


def _iso(entry: Any, value: Any) -> str | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        try:  # a naive time is in the app's timezone, as the schedule reads it
            value = entry.schedule.maybe_make_aware(value)
        except Exception:
            value = value.replace(tzinfo=timezone.utc)
    return str(value.isoformat())


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def patch_scheduler() -> None:
    """Hook ``celery.beat.Scheduler.apply_async`` (imported only when installing)."""
    from celery.beat import Scheduler

    patching.hook(Scheduler, "apply_async", _hooked)


def unpatch_scheduler() -> None:
    """Undo :func:`patch_scheduler`."""
    from celery.beat import Scheduler

    patching.unhook(Scheduler, "apply_async")
