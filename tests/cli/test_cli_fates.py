"""The CLI on a message's fates, beat and a worker's life: show, summary, follow and the timeline's data.

Hand-built traces with the adapters' keys (:mod:`tests.cli.fategen`); the same views on real workers'
traces are checked in ``tests/e2e/test_e2e_cli_fates.py``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from selinon_celery_trace.cli import cli
from selinon_celery_trace.cli.model.collector import Collector
from selinon_celery_trace.cli.model.runs import TaskRun
from selinon_celery_trace.cli.model.schedules import parse_crontab, parse_interval
from selinon_celery_trace.cli.reading.files import merged
from selinon_celery_trace.cli.reading.lines import Malformed
from selinon_celery_trace.cli.views.timeline import timeline_data

from . import fategen
from .fategen import CHAIN_FIRST, DROPPED, EXPIRED, KILLED, TERMINATED, UNKNOWN, WORKER

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def run(*args: str | Path) -> Result:
    """The command line, in-process, as a user runs it."""
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=ENV, catch_exceptions=False)


@pytest.fixture
def fates(tmp_path: Path) -> Path:
    """The fates scenario's trace file."""
    path = tmp_path / "fates.jsonl"
    path.write_bytes(b"".join(fategen.fates().lines()))
    return path


@pytest.fixture
def beat(tmp_path: Path) -> Path:
    """The beat scenario's trace file."""
    path = tmp_path / "beat.jsonl"
    path.write_bytes(b"".join(fategen.beat().lines()))
    return path


def _task(path: Path, task_id: str) -> TaskRun:
    run = Collector(task_id).add_all(merged([str(path)], Malformed())).result()
    assert isinstance(run, TaskRun)
    return run


def test_show_says_revoked_before_it_started_when_and_why(fates: Path) -> None:
    """A message revoked before it started reads so, how long after its scheduling, and why."""
    out = run("show", DROPPED, fates).stdout
    assert "⊘ task proj.nap [d0d0d0d0-1111-4000-8000-000000000001] revoked before it started" in out
    assert (
        "revoked before it started, 2.00s after it was scheduled: revoked by task id · celery@host-a" in out
    )
    assert "never started" not in out and "running or lost" not in out


def test_show_says_a_terminated_attempt_was_revoked_while_running(fates: Path) -> None:
    """revoke(terminate=True): the attempt ends revoked, with its runtime and the signal."""
    out = run("show", TERMINATED, fates).stdout
    assert "revoked while running after 2.00s (terminated with SIGTERM)" in out
    assert "attempt 1 revoked while running after 2.00s · celery@host-a pid 101" in out
    assert "running or lost" not in out and "failed" not in out
    assert _task(fates, TERMINATED).outcome == "revoked"


def test_show_says_expired_with_its_deadline(fates: Path) -> None:
    """A message whose expires passed reads expired, with the deadline and how late it was found."""
    out = run("show", EXPIRED, fates).stdout
    assert "⊝ task proj.add [e0e0e0e0-3333-4000-8000-000000000003] expired before it started" in out
    assert "its deadline 11:46:16.038 UTC had passed by 2.50s" in out
    assert "never started" not in out


def test_show_says_rejected_and_why(fates: Path) -> None:
    """A message for an unregistered task reads rejected by the worker, with Celery's reason."""
    out = run("show", UNKNOWN, fates).stdout
    assert "⊗ task proj.nope [0b0b0b0b-4444-4000-8000-000000000004] rejected by the worker" in out
    assert (
        "rejected by the worker: task 'proj.nope' is not registered in this worker · celery@host-a pid 100"
        in out
    )


def test_show_of_a_task_whose_process_was_lost_says_so(fates: Path) -> None:
    """The attempt failed (worker lost), and the pool process lost under it is listed with its signal."""
    out = run("show", KILLED, fates).stdout
    assert "attempt 1 failed after 900ms · celery@host-a pid 102" in out
    assert (
        "WORKER_PROCESS_LOST celery@host-a lost pool process 102 (SIGKILL) running proj.nap[c1c1c1c1]" in out
    )


def test_a_revoked_chain_step_ends_its_chain_in_the_tree(fates: Path) -> None:
    """A chain whose first step was revoked: that step reads revoked, the next ones never scheduled."""
    out = run("show", CHAIN_FIRST, fates).stdout
    assert (
        "⊘ canvas chain(nap → add → add) [root cafe0001-6666-4000-8000-000000000006] revoked at proj.nap"
        " [cafe0001]" in out
    )
    assert "step 1 ⊘ proj.nap [cafe0001] revoked before it started, 1.00s after it was scheduled" in out
    assert out.count("never scheduled: step proj.nap was revoked") == 2  # steps 2 and 3
    assert "step 2 ⊘ proj.add [cafe0002] never scheduled" in out


def test_summary_counts_fates_per_task_and_lists_the_worker(fates: Path) -> None:
    """Tasks: revoked, expired, rejected columns; Workers: its span, warm shutdown, the process lost."""
    out = run("summary", fates).stdout
    header = next(line for line in out.splitlines() if line.strip().startswith("task "))
    columns = header.split()
    tasks = out[out.index("Tasks") : out.index("Canvas workflows")]
    rows = {line.split()[0]: line.split() for line in tasks.splitlines() if line.strip().startswith("proj.")}
    assert columns[:8] == ["task", "runs", "ok", "failed", "retried", "revoked", "expired", "rejected"]
    assert rows["proj.nap"][1:8] == ["2", "·", "1", "·", "3", "·", "·"]  # runs: the terminated and the killed
    assert rows["proj.add"][1:8] == ["·", "·", "·", "·", "·", "1", "·"]
    assert rows["proj.nope"][1:8] == ["·", "·", "·", "·", "·", "·", "1"]
    workers = out[out.index("Workers") :]
    assert f"{WORKER}  prefork \u00d72  11:46:14.238 → 11:46:23.238 (9.00s)  warm shutdown  ⚠ 1" in workers
    assert (
        f"⚠ {WORKER} lost pool process 102 (SIGKILL) at 11:46:20.238 UTC running proj.nap [c1c1c1c1]"
        in workers
    )


def test_summary_flags_the_missed_runs_of_a_beat_entry(beat: Path) -> None:
    """A gap of 8 s in an entry every 2 s is three missed runs; beat's two starts and late send are said."""
    out = run("summary", beat).stdout
    periodic = out[out.index("Periodic tasks") :]
    row = next(line for line in periodic.splitlines() if line.strip().startswith("tick "))
    assert row.split()[:6] == ["tick", "proj.add", "every", "2.00s", "7", "7"]  # entry task schedule runs ok
    assert "8.00s (4.0\u00d7)" in row and "⚠ 3" in row
    assert (
        "⚠ tick: 3 missed runs: longest gap 8.00s (4.0\u00d7 its 2.00s interval); gap ending 11:46:29.238 UTC"
        in out
    )
    assert "⚠ tick: sent late 1\u00d7, the last time by 6.00s" in out
    assert "beat started 2\u00d7, last at 11:46:23.238 UTC on beat pid 8 (before: 11:46:14.738)" in out


def test_summary_without_a_gap_flags_nothing(tmp_path: Path) -> None:
    """An entry sent on time, every time, to the end of the input, has no missed run and no flag line."""
    path = tmp_path / "ontime.jsonl"
    path.write_bytes(b"".join(fategen.beat(sends=(1, 3, 5, 7, 9.1, 11, 13), late=False).lines()))
    out = run("summary", path).stdout
    periodic = out[out.index("Periodic tasks") :]
    row = next(line for line in periodic.splitlines() if line.strip().startswith("tick "))
    assert "\u26a0" not in out and "missed run" not in out
    assert "2.10s (1.1\u00d7)" in row  # the longest gap, within 1.5 intervals


def test_summary_flags_due_times_after_the_last_send(tmp_path: Path) -> None:
    """Beat gone before the input ends: the due times since its last send are missed runs too."""
    path = tmp_path / "stopped.jsonl"
    path.write_bytes(b"".join(fategen.beat(sends=(1, 3, 5), late=False).lines()))  # ends at 9.0s
    out = run("summary", path).stdout
    assert "\u26a0 tick: 2 missed runs: no send since 11:46:19.238 UTC (4.00s before the input ends)" in out


def test_follow_prints_the_new_events_readably(fates: Path, beat: Path) -> None:
    """follow --once: each new event's line says what happened, in words."""
    out = run("follow", "--once", "--from-start", fates).stdout
    lines = {line.split()[2]: line for line in out.splitlines() if len(line.split()) > 2}
    assert (
        "celery@host-a online: prefork \u00d72 queues celery · celery 5.7.0 pid 100" in lines["WORKER_ONLINE"]
    )
    assert (
        "celery@host-a offline (warm shutdown, SIGTERM) after 9.00s online pid 100" in lines["WORKER_OFFLINE"]
    )
    assert "lost pool process 102 (SIGKILL) running proj.nap[c1c1c1c1]" in lines["WORKER_PROCESS_LOST"]
    assert (
        "proj.add[e0e0e0e0] expired before it started: 2.50s past its deadline 11:46:16.038"
        in lines["TASK_EXPIRED"]
    )
    assert (
        "proj.nope[0b0b0b0b] rejected q=celery celery@host-a/100: unregistered task name"
        in lines["TASK_REJECTED"]
    )
    revoked = [line for line in out.splitlines() if " TASK_REVOKED " in line]
    assert any(
        "proj.nap[7e7e7e7e] revoked while running, terminated with SIGTERM" in line for line in revoked
    )
    assert any("proj.nap[d0d0d0d0] revoked before it started" in line for line in revoked)
    out = run("follow", "--once", "--from-start", beat).stdout
    assert "beat started with 1 entry: tick (PersistentScheduler) beat/7" in out
    assert "beat entry 'tick' sent proj.add[beat0004] 6.00s late (due 11:46:23.238) every 2s" in out
    assert "proj.add[beat0000] q=celery periodic entry 'tick' every 2s" in out


def test_the_timeline_draws_a_dropped_message_where_it_was_dropped(fates: Path) -> None:
    """A message revoked before it started is a bar of its fate, waited for since its scheduling."""
    data = timeline_data(_task(fates, DROPPED))
    (bar,) = data["bars"]
    assert (bar["outcome"], bar["fate"], bar["attempt"]) == ("revoked", True, 0)
    assert bar["waitFrom"] == pytest.approx(0.0) and bar["start"] == bar["end"] == pytest.approx(2.0)
    assert bar["error"] == "revoked before it started, 2.00s after it was scheduled: revoked by task id"
    assert data["outcome"] == "revoked"
    terminated = timeline_data(_task(fates, TERMINATED))
    (attempt,) = terminated["bars"]
    assert attempt["outcome"] == "revoked" and attempt["duration"] == pytest.approx(2.0)
    assert (
        attempt["error"] == "revoked while running after 2.00s (terminated with SIGTERM): revoked by task id"
    )


def test_schedules_are_read_back_from_their_text() -> None:
    """Intervals as this package and Celery write them; crontabs with Celery's day rules."""
    assert parse_interval("every 30s") == 30.0
    assert parse_interval("<freq: 1.50 minutes>") == 90.0
    assert parse_interval("crontab */5 * * * *") is None
    weekdays = parse_crontab("crontab 30 9 * * mon-fri")
    assert weekdays is not None and sorted(weekdays.weekdays) == [1, 2, 3, 4, 5]
    monday = datetime(2026, 11, 16, tzinfo=timezone.utc).timestamp()  # a Monday
    dues = list(weekdays.dues(monday, monday + 7 * 86400))
    assert len(dues) == 5 and dues[0] == monday + 9 * 3600 + 30 * 60
    every_five = parse_crontab("<crontab: */5 * * * * (m/h/dM/MY/d)>")
    assert every_five is not None and every_five.last_due(monday + 7 * 60) == monday + 5 * 60
    assert parse_crontab("crontab 61 * * * *") is None


def test_a_crontab_due_time_with_no_send_is_a_missed_run(tmp_path: Path) -> None:
    """A crontab entry due every minute, sent at 0, 1, 2 and then 6: minutes 3, 4 and 5 were missed."""
    builder = fategen.TraceBuilder()
    entry = {"entry": "minutely", "schedule": "crontab * * * * *", "interval": None}
    start = 3600 - fategen.T0.timestamp() % 3600  # seconds from T0 to the next full hour
    for number, minute in enumerate((0, 1, 2, 6)):
        task_id = f"cron{number:04d}-0000-4000-8000-000000000000"
        builder.add(
            start + minute * 60 + 0.01,
            "beat",
            "TASK_SCHEDULE",
            task_name="proj.add",
            task_id=task_id,
            queue="celery",
            periodic=entry,
        )
    path = tmp_path / "cron.jsonl"
    path.write_bytes(b"".join(builder.lines()))
    out = run("summary", path).stdout
    assert "\u26a0 minutely: 3 missed runs: crontab * * * * * due times with no send" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("minutely "))
    assert "crontab * * * * *" in row and "\u26a0 3" in row
