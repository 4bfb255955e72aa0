"""``find`` (and the filters of ``summary`` and ``timeline``) on the trace of a real prefork worker.

Tasks called with keyword and positional arguments (one with ``password=hunter2-secret``, which the
writer masks), one failing, one retried, on two queues; then a second batch after a known moment. Each
filter must find what the worker did, and the secret must not find its task.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import selinon_celery_trace
from selinon_celery_trace.cli import cli
from tests.e2e.support import Publisher, Worker

pytestmark = pytest.mark.e2e

SECRET = "hunter2-secret"
ENV = {"COLUMNS": "220", "NO_COLOR": "1"}


@dataclass
class Run:
    """The worker's trace, its queues, the ids published and the moment between the two batches."""

    trace: Path
    one: str
    two: str
    ids: dict[str, str]
    split: float


def cli_run(*args: str | Path, code: int = 0) -> Result:
    """The command line, in-process, as a user runs it."""
    result = CliRunner().invoke(cli, [str(a) for a in args], env=ENV, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def found_ids(real: Run, *args: str) -> list[str]:
    """The short ids of the lines ``find`` prints, in order (its count line checked, then left out)."""
    lines = cli_run("find", *args, real.trace).stdout.splitlines()
    assert "found" in lines[-1]
    by_short = {ident[:8]: name for name, ident in real.ids.items()}
    names = []
    for line in lines[:-1]:
        short = next(cell for cell in line.split() if cell in by_short)
        names.append(by_short[short])
    return names


@pytest.fixture(scope="module")
def real(worker: Worker) -> Iterator[Run]:
    """The scenario, once per broker, published by a traced client (its TASK_SCHEDULE in the file)."""
    selinon_celery_trace.install(worker.app)
    try:
        pub = Publisher(worker)
        app = pub.app
        ids = {
            "login_ann": app.send_task("e2e.login", kwargs={"user": "ann", "password": SECRET}).id,
            "login_bob": app.send_task("e2e.login", kwargs={"user": "bob", "password": "other"}).id,
            "add": pub.send("e2e.add", 1234, 1),
            "boom": pub.send("e2e.boom", "client 1234 down"),
            "flaky": pub.send("e2e.flaky", 1),
        }
        ends = {name: ["TASK_END"] for name in ("login_ann", "login_bob", "add")}
        ends.update(boom=["TASK_FAILURE"], flaky=["TASK_RETRY", "TASK_END"])
        pub.trace.wait({ids[name]: events for name, events in ends.items()})
        split = time.time()
        time.sleep(1.2)
        ids["late"] = pub.send("e2e.add", 7, 8)
        pub.trace.wait({ids["late"]: ["TASK_END"]})
    finally:
        selinon_celery_trace.uninstall(worker.app)
    yield Run(worker.trace.path, worker.layout.one, worker.layout.two, ids, split)


def test_a_redacted_argument_is_not_found_by_its_secret(real: Run) -> None:
    """--arg password=hunter2-secret finds nothing; the same task is found by its other kwarg."""
    assert SECRET not in real.trace.read_text(encoding="utf-8")  # the writer masked it
    for condition in (f"password={SECRET}", SECRET, "password=hunter2*"):
        nothing = cli_run("find", "--arg", condition, real.trace, code=1)
        assert nothing.stdout == "" and "matches" in nothing.stderr
    assert found_ids(real, "--arg", "user=ann") == ["login_ann"]
    assert found_ids(real, "--arg", "user=ann", "--arg", "password=[redacted]") == ["login_ann"]
    # Two pool processes: the two logins may start in either order.
    assert sorted(found_ids(real, "--arg", "password=[redacted]")) == ["login_ann", "login_bob"]


def test_find_by_positional_argument(real: Run) -> None:
    """--arg 0=1234 and --arg 1234 find the add called with 1234 (a string that contains it is no match)."""
    assert found_ids(real, "--arg", "0=1234") == ["add"]
    assert found_ids(real, "--arg", "1234") == ["add"]
    assert found_ids(real, "--arg", "client 1234*") == ["boom"]


def test_find_by_task_and_state(real: Run) -> None:
    """--task by name and by short id; --state failed, retried, ok: each attempt on its own line."""
    assert sorted(found_ids(real, "--task", "e2e.login")) == ["login_ann", "login_bob"]
    assert found_ids(real, "--task", real.ids["boom"][:8]) == ["boom"]
    failed = cli_run("find", "--state", "failed", real.trace).stdout
    assert real.ids["boom"][:8] in failed and "ValueError: client 1234 down" in failed
    assert failed.splitlines()[-1] == "1 attempt found"
    retried = cli_run("find", "--state", "retried", real.trace).stdout.splitlines()
    assert len(retried) == 2 and "e2e.flaky #1" in retried[0] and real.ids["flaky"][:8] in retried[0]
    ok = cli_run("find", "--state", "ok", "--task", "e2e.flaky", real.trace).stdout
    assert "e2e.flaky #2" in ok and "#1" not in ok


def test_find_by_queue(real: Run) -> None:
    """--queue: flaky runs on the second queue, the rest on the default one."""
    assert found_ids(real, "--queue", real.two) == ["flaky", "flaky"]
    assert "flaky" not in found_ids(real, "--queue", real.one)
    assert len(found_ids(real, "--queue", real.one)) == 5


def test_find_by_time(real: Run) -> None:
    """--since/--until an ISO time split the two batches; ages count back from now."""
    moment = datetime.fromtimestamp(real.split, timezone.utc).isoformat()
    assert found_ids(real, "--since", moment) == ["late"]
    assert "late" not in found_ids(real, "--until", moment)
    assert len(found_ids(real, "--since", "10m")) == 7  # every attempt (flaky has two)
    cli_run("find", "--until", "10m", real.trace, code=1)


def test_the_short_id_find_prints_is_what_show_takes(real: Run) -> None:
    """The id on a find line opens that task in show."""
    line = cli_run("find", "--state", "failed", real.trace).stdout.splitlines()[0]
    short = real.ids["boom"][:8]
    assert short in line.split()
    shown = cli_run("show", short, real.trace).stdout
    assert "e2e.boom" in shown and "client 1234 down" in shown


def test_summary_and_timeline_take_the_filters(real: Run, tmp_path: Path) -> None:
    """summary --queue/--since counts only those; timeline --task draws the newest task it matches."""
    two = cli_run("summary", "--queue", real.two, real.trace).stdout
    tasks = two[two.index("Tasks") :]
    assert "e2e.flaky" in tasks and "e2e.login" not in tasks
    moment = datetime.fromtimestamp(real.split, timezone.utc).isoformat()
    late = cli_run("summary", "--since", moment, real.trace).stdout
    row = next(line.split() for line in late.splitlines() if line.strip().startswith("e2e.add"))
    assert row[1] == "1" and "e2e.login" not in late
    page = tmp_path / "boom.html"
    drawn = cli_run("timeline", "-o", page, "--task", "e2e.boom", real.trace)
    assert f"[{real.ids['boom'][:8]}]" in drawn.stderr and real.ids["boom"] in page.read_text()
