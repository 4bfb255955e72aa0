"""celery beat in this process: Celery's own beat ``Service`` and schedulers, on the memory broker.

The e2e suite runs a ``celery beat`` subprocess on real brokers; here a scheduler subclass and a
crontab entry sent late show the hook works for any scheduler built on Celery's and any schedule.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, beat
from celery.schedules import crontab

import selinon_celery_trace
from selinon_celery_trace.core import handoff
from selinon_celery_trace.testing import CapturedEvents, capture_events

from .conftest import wait_for


@pytest.fixture
def app() -> Iterator[Celery]:
    """An app on the memory broker, traced, with two beat entries."""
    app = Celery("beat-tests", broker="memory://", set_as_current=False)
    app.conf.update(
        selinon_trace=[],
        # Not a queue the session's in-process worker consumes (the memory broker is one per process).
        task_default_queue="beat-tests",
        beat_schedule={
            "half": {"task": "beat.add", "schedule": 0.5, "args": (1, 2)},
            "nightly": {"task": "beat.add", "schedule": crontab(minute=0, hour=4), "args": (3, 4)},
        },
    )

    @app.task(name="beat.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    selinon_celery_trace.install(app)
    yield app
    selinon_celery_trace.uninstall(app)
    app.close()


def _sends(events: CapturedEvents) -> list[dict[str, Any]]:
    return [details for name, details in events if name == "TASK_SCHEDULE" and "periodic" in details]


def test_beat_service_starts_and_sends_entries_with_periodic(app: Celery, tmp_path: Path) -> None:
    """beat's Service: one BEAT_START listing both entries; each send of ``half`` carries ``periodic``."""
    service = beat.Service(app, max_interval=0.2, schedule_filename=str(tmp_path / "schedule"))
    with capture_events() as events:
        thread = threading.Thread(target=service.start, daemon=True)
        thread.start()
        try:
            assert wait_for(lambda: len(_sends(events)) >= 2, timeout=15)
        finally:
            service.stop()
            thread.join(10)
        assert handoff.flush(5)

    (start,) = events.of("BEAT_START")
    assert start["scheduler"] == "celery.beat.PersistentScheduler"
    entries = {entry["entry"]: entry for entry in start["entries"]}
    assert entries["half"] == {
        "entry": "half",
        "schedule": "every 0.5s",
        "interval": 0.5,
        "task": "beat.add",
        "last_run_at": None,
        "total_run_count": 0,
    }
    assert (entries["nightly"]["schedule"], entries["nightly"]["interval"]) == ("crontab 0 4 * * *", None)
    for send in _sends(events):
        assert send["periodic"] == {"entry": "half", "schedule": "every 0.5s", "interval": 0.5}
        assert send["node_args"] == {"args": [1, 2], "kwargs": {}}
    assert events.of("BEAT_LATE") == []


class CountingScheduler(beat.Scheduler):
    """A scheduler of one's own (as django-celery-beat's is): it overrides apply_async and calls super()."""

    sent = 0

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True, **kwargs: Any) -> Any:
        self.sent += 1
        return super().apply_async(entry, producer=producer, advance=advance, **kwargs)


def test_a_late_crontab_send_is_beat_late(app: Celery) -> None:
    """A crontab entry last run 20 minutes ago, every 5 minutes: sent now, BEAT_LATE since its next slot."""
    now = datetime.now(timezone.utc)
    last = now - timedelta(minutes=20)
    # The first 5-minute slot after the last run, as cron counts.
    due = last.replace(second=0, microsecond=0) + timedelta(minutes=5 - last.minute % 5)
    scheduler = CountingScheduler(app, schedule={}, lazy=True)
    entry = beat.ScheduleEntry(
        name="five", task="beat.add", schedule=crontab(minute="*/5"), args=(5, 5), last_run_at=last, app=app
    )
    with capture_events() as events:
        scheduler.apply_entry(entry, producer=scheduler.producer)
        assert handoff.flush(5)
    assert scheduler.sent == 1

    (send,) = _sends(events)
    assert send["periodic"] == {"entry": "five", "schedule": "crontab */5 * * * *", "interval": None}
    (late,) = events.of("BEAT_LATE")
    assert (late["entry"], late["task_name"], late["task_id"]) == ("five", "beat.add", send["task_id"])
    assert late["schedule"] == "crontab */5 * * * *"
    assert abs((datetime.fromisoformat(late["due"]) - due).total_seconds()) < 1
    assert late["late"] == pytest.approx((datetime.now(timezone.utc) - due).total_seconds(), abs=2)


def test_an_entry_sent_on_time_is_not_late(app: Celery) -> None:
    """An interval entry sent right at its due time: ``periodic``, no BEAT_LATE."""
    scheduler = beat.Scheduler(app, schedule={}, lazy=True)
    entry = beat.ScheduleEntry(
        name="minutely",
        task="beat.add",
        schedule=timedelta(minutes=1),
        args=(1, 1),
        last_run_at=datetime.now(timezone.utc) - timedelta(seconds=60),
        app=app,
    )
    with capture_events() as events:
        scheduler.apply_entry(entry, producer=scheduler.producer)
        assert handoff.flush(5)
    (send,) = _sends(events)
    assert send["periodic"] == {"entry": "minutely", "schedule": "every 60s", "interval": 60.0}
    assert events.of("BEAT_LATE") == []
