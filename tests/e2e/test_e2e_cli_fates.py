"""The CLI on a real run, Redis and RabbitMQ: beat, revokes, an expiry, an unknown task, a killed process.

One prefork worker and a real ``celery beat`` (stopped for more than two periods, then started again);
meanwhile tasks are revoked before they start and while they run, one expires in the worker, one names
no registered task, a chain and a group lose members to a revoke and an expiry, and a pool process is
SIGKILLed under a task. Then ``summary``, ``show``, ``follow`` and ``timeline`` read the worker's trace
file and must say what happened (the timeline in Chromium too).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from celery import chain, group
from click.testing import CliRunner, Result

import selinon_celery_trace
from selinon_celery_trace.cli import cli
from tests.cli.parts_check import assert_parts_exact
from tests.cli.test_cli_timeline_browser import _browser, _Page, chromium  # noqa: F401
from tests.cli.timeline_dom import assert_inside_frame, draw
from tests.e2e.proj import BEAT_ENTRY
from tests.e2e.support import Beat, Broker, Worker

pytestmark = pytest.mark.e2e

EVERY = 1.0  # beat's interval entry, seconds
TIMEOUT = 45.0
ENV = {"COLUMNS": "220", "NO_COLOR": "1"}


@dataclass
class Run:
    """The run's trace file and the ids of what happened in it."""

    trace: Path
    worker: str
    ids: dict[str, str] = field(default_factory=dict)


def cli_run(*args: str | Path) -> Result:
    """The command line, in-process, as a user runs it."""
    result = CliRunner().invoke(cli, [str(a) for a in args], env=ENV, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _scenario(worker: Worker, beat: Beat) -> dict[str, str]:
    app, trace = worker.app, worker.trace
    sig = app.signature
    ids: dict[str, str] = {}
    beat.start()
    busy = [app.send_task("e2e.nap", args=[4]) for _ in range(2)]
    trace.wait({result.id: ["TASK_START"] for result in busy})  # the pool is busy: the rest waits
    ids["terminated"] = busy[0].id
    ids["expired"] = app.send_task("e2e.add", args=[1, 1], expires=0.5).id
    ids["dropped"] = app.send_task("e2e.nap", args=[0.1]).id
    ids["unknown"] = app.send_task("e2e.nope", args=[1]).id
    steps = chain(sig("e2e.nap", args=[0.1]), sig("e2e.add", args=[1, 2]), sig("e2e.add", args=[3, 4]))
    ids["chain"] = steps.apply_async().parent.parent.id  # the chain's first step
    members = group(
        sig("e2e.nap", args=[0.1]), sig("e2e.add", args=[2, 2]), sig("e2e.add", args=[3, 3], expires=0.5)
    ).apply_async()
    ids["group_revoked"], ids["group_ok"], ids["group_expired"] = (r.id for r in members.results)
    ids["group"] = members.id
    for name in ("dropped", "chain", "group_revoked"):
        app.control.revoke(ids[name])
    time.sleep(1.0)  # the expiring messages' deadlines pass while they wait
    app.control.revoke(ids["terminated"], terminate=True, signal="SIGTERM")
    fates = {"dropped": "TASK_REVOKED", "chain": "TASK_REVOKED", "group_revoked": "TASK_REVOKED"}
    fates.update(terminated="TASK_REVOKED", expired="TASK_EXPIRED", group_expired="TASK_EXPIRED")
    fates.update(unknown="TASK_REJECTED", group_ok="TASK_END")
    trace.wait({ids[name]: [event] for name, event in fates.items()}, timeout=TIMEOUT)

    killed = app.send_task("e2e.nap", args=[6])
    (start,) = trace.wait({killed.id: ["TASK_START"]})[killed.id][-1:]
    os.kill(start["details"]["pid"], signal.SIGKILL)
    ids["killed"] = killed.id
    trace.wait({killed.id: ["TASK_FAILURE"]}, timeout=TIMEOUT)

    # Beat has run all along; stopped for 3.5 periods and started again, it misses runs.
    assert beat.stop() == 0
    time.sleep(3.5 * EVERY)
    before = len(_sends(worker))
    beat.start()
    worker.trace.matching(lambda r: r["event"] == "TASK_SCHEDULE" and "periodic" in r["details"], before + 2)
    assert beat.stop() == 0
    # The last send can be cut short by beat's SIGTERM between the publish hook and the broker (its
    # TASK_SCHEDULE written, no message sent); every earlier one ran.
    trace.wait({send: ["TASK_END"] for send in _sends(worker)[:-1]}, timeout=TIMEOUT)
    return ids


def _sends(worker: Worker) -> list[str]:
    records = worker.trace.records()
    return [
        r["details"]["task_id"]
        for r in records
        if r["event"] == "TASK_SCHEDULE" and "periodic" in r["details"]
    ]


@pytest.fixture(scope="module")
def real_run(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The scenario, once per broker, on a worker and a beat of their own; the worker stopped warm."""
    directory = tmp_path_factory.mktemp(f"cli-fates-{broker.name}")
    worker = Worker(broker, directory, {})
    beat = Beat(worker, directory, EVERY)
    selinon_celery_trace.install(worker.app)  # the test's own sends are traced, as a client's are
    try:
        worker.start()
        ids = _scenario(worker, beat)
    finally:
        selinon_celery_trace.uninstall(worker.app)
        try:
            if beat.process is not None:
                beat.stop()
            worker.stop()
        finally:
            worker.delete_broker_objects()
    yield Run(worker.trace.path, worker.node_name, ids)


def test_summary_counts_fates_flags_missed_runs_and_lists_the_worker(real_run: Run) -> None:
    """summary: revoked/expired/rejected per task; the beat entry's missed runs; the worker and its loss."""
    out = cli_run("summary", real_run.trace).stdout
    tasks = out[out.index("Tasks") : out.index("Canvas workflows")]
    header = next(line.split() for line in tasks.splitlines() if line.strip().startswith("task "))
    rows = {
        line.split()[0]: dict(zip(header, line.split(), strict=False))
        for line in tasks.splitlines()[3:]
        if line.strip()
    }
    nap, add = rows["e2e.nap"], rows["e2e.add"]
    # Revoked: the dropped one, the chain's first step, the group's member, the terminated one.
    assert nap["revoked"] == "4" and nap["failed"] == "1"  # failed: the killed one (worker lost)
    assert add["expired"] == "2" and rows["e2e.nope"]["rejected"] == "1"
    canvases = out[out.index("Canvas workflows") : out.index("Periodic tasks")]
    header = next(line.split() for line in canvases.splitlines() if line.strip().startswith("workflow "))
    values = len(header) - 1  # a row: the workflow's shape (words and arrows), then one value a column
    shapes = {
        " ".join(line.split()[:-values]): dict(zip(header[1:], line.split()[-values:], strict=True))
        for line in canvases.splitlines()
        if line.strip().startswith(("chain(", "group("))
    }
    # Each workflow is named by its shape; a member revoked ends it, dropped, no failure.
    assert set(shapes) == {"chain(nap → add → add)", "group(nap, add, add)"}
    for canvas in shapes.values():
        assert (canvas["runs"], canvas["failed"], canvas["dropped"]) == ("1", "·", "1")
    failures = out[out.index("Failures") :]
    assert "chain(" not in failures and "group(" not in failures  # a revoke is no failure
    periodic = out[out.index("Periodic tasks") : out.index("Workers")]
    row = next(line for line in periodic.splitlines() if line.strip().startswith(BEAT_ENTRY))
    assert "e2e.add" in row and "every 1.00s" in row and "\u26a0" in row
    assert f"\u26a0 {BEAT_ENTRY}: " in periodic and "missed run" in periodic
    assert f"\u26a0 {BEAT_ENTRY}: sent late 1\u00d7" in periodic
    assert "beat started 2\u00d7" in periodic
    workers = out[out.index("Workers") :]
    worker_row = next(line for line in workers.splitlines() if line.strip().startswith(real_run.worker))
    assert "prefork \u00d72" in worker_row and "warm shutdown" in worker_row and "\u26a0 1" in worker_row
    assert f"\u26a0 {real_run.worker} lost pool process" in workers
    assert "(SIGKILL)" in workers and f"running e2e.nap [{real_run.ids['killed'][:8]}]" in workers
    # Fates, beat's sends and gaps, the worker's spans: folded in parts (as --jobs does), the same.
    exact, tried = assert_parts_exact(real_run.trace)
    assert exact == tried >= 10  # no id begins twice in a real run: no cut fell back to one pass


def test_show_tells_each_fate(real_run: Run) -> None:
    """show: revoked (before it started, while running), expired, rejected: when, why; never 'not started'."""
    ids = real_run.ids
    dropped = cli_run("show", ids["dropped"], real_run.trace).stdout
    assert "revoked before it started" in dropped and "revoked by task id" in dropped
    terminated = cli_run("show", ids["terminated"], real_run.trace).stdout
    assert "revoked while running after" in terminated and "(terminated with SIGTERM)" in terminated
    expired = cli_run("show", ids["expired"], real_run.trace).stdout
    assert "expired before it started: its deadline" in expired and "had passed by" in expired
    unknown = cli_run("show", ids["unknown"], real_run.trace).stdout
    assert "rejected by the worker, " in unknown  # and how long after it was scheduled
    assert ": task 'e2e.nope' is not registered in this worker" in unknown
    killed = cli_run("show", ids["killed"], real_run.trace).stdout
    assert "failed" in killed and "WorkerLostError" in killed
    for text in (dropped, terminated, expired, unknown):
        assert "never started" not in text and "running or lost" not in text


def test_show_draws_revoked_and_expired_canvas_members(real_run: Run) -> None:
    """The chain ends at its revoked first step; the group's members read revoked, ok and expired."""
    ids = real_run.ids
    chained = cli_run("show", ids["chain"], real_run.trace).stdout
    assert f"revoked at e2e.nap [{ids['chain'][:8]}]" in chained
    assert "revoked before it started" in chained
    assert chained.count("never scheduled: step e2e.nap was revoked") == 2
    grouped = cli_run("show", ids["group"], real_run.trace).stdout
    assert "3 members side by side: 1 ok, 1 revoked, 1 expired" in grouped
    lines = grouped.splitlines()
    assert any(ids["group_revoked"][:8] in line and "revoked before it started" in line for line in lines)
    assert any(ids["group_expired"][:8] in line and "expired before it started" in line for line in lines)


def test_follow_prints_the_worker_beat_and_fates(real_run: Run) -> None:
    """follow --once: the worker's start and stop, beat, the lost process and each fate, in words."""
    out = cli_run("follow", "--once", "--from-start", real_run.trace).stdout
    assert f"{real_run.worker} online: prefork \u00d72 queues" in out
    assert f"{real_run.worker} offline (warm shutdown, SIGTERM) after" in out
    assert f"{real_run.worker} lost pool process" in out and "(SIGKILL) running e2e.nap" in out
    assert out.count("beat started with") == 2
    assert f"beat entry '{BEAT_ENTRY}' sent e2e.add[" in out and "late (due" in out
    assert f"periodic entry '{BEAT_ENTRY}' every 1s" in out
    assert "revoked while running, terminated with SIGTERM" in out
    assert "e2e.nope[" in out and "rejected" in out and "unregistered task name" in out
    assert "expired before it started:" in out and "past its deadline" in out


def test_timeline_draws_the_groups_revoked_and_expired_members(
    real_run: Run,
    chromium: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The group's page, drawn by Chromium: a revoked mark, an ok bar, an expired mark; a screenshot."""
    page = tmp_path / "group.html"
    cli_run("timeline", "-o", page, real_run.ids["group"], real_run.trace)
    dumped = _browser(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    parsed = _Page()
    parsed.feed(dumped.stdout)
    assert (
        parsed.root.get("data-rendered") == "true"
        and json.loads(parsed.root.get("data-errors") or "[]") == []
    )
    drawn = {bar.get("data-task-id"): bar.get("data-outcome") for bar in parsed.bars}
    ids = real_run.ids
    assert drawn == {
        ids["group_revoked"]: "revoked",
        ids["group_ok"]: "success",
        ids["group_expired"]: "expired",
    }
    # h5's page rules hold with the fates: every label inside the frame, the legend lists what is drawn.
    seen = draw(chromium, page, tmp_path / "profile")
    assert_inside_frame(seen)
    assert (seen.legend["revoked (⊘)"], seen.legend["expired (⊝)"]) == (True, True)
    assert seen.legend["rejected (⊗)"] is False and seen.legend["dispatcher run"] is False
    assert "never started 2 (revoked, expired or rejected)" in seen.facts
    shot = tmp_path / "timeline-group-fates.png"
    taken = _browser(chromium, tmp_path / "profile", f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0 and shot.stat().st_size > 10_000
    print(f"timeline screenshot: {shot}")


def test_find_lists_each_fate_by_state(real_run: Run) -> None:
    """find --state: the revoked, expired and rejected messages of the run, each once, with its id; a
    killed process's task among the failed ones."""
    ids = real_run.ids

    def found(*states: str) -> list[str]:
        out = cli_run("find", "--limit", "0", *(f"--state={s}" for s in states), real_run.trace).stdout
        return [line for line in out.splitlines() if line.strip() and not line.endswith(" found")]

    revoked = found("revoked")
    for name in ("dropped", "chain", "group_revoked", "terminated"):
        assert sum(ids[name][:8] in line for line in revoked) == 1, (name, revoked)
    assert len(revoked) == 4 and all("revoked" in line for line in revoked)
    expired = found("expired")
    assert len(expired) == 2 and {ids["expired"][:8], ids["group_expired"][:8]} == {
        word
        for line in expired
        for word in line.split()
        if word in (ids["expired"][:8], ids["group_expired"][:8])
    }
    (rejected,) = found("rejected")
    assert ids["unknown"][:8] in rejected and "e2e.nope" in rejected
    assert any(ids["killed"][:8] in line and "WorkerLostError" in line for line in found("failed"))
    assert not any(ids["dropped"][:8] in line for line in found("succeeded", "failed", "expired"))
