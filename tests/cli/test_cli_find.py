"""``find`` and the ``--since/--until/--task/--queue`` filters of ``summary`` and ``timeline``, on a trace
written by the package's own encoder, its times counted back from now (so ``--since 1h`` means something).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from selinon_celery_trace.cli import cli
from selinon_celery_trace.cli.commands.scope_options import parse_time_bound
from selinon_celery_trace.cli.model.argument_match import parse_condition
from selinon_celery_trace.cli.model.find_query import Query
from selinon_celery_trace.core.record import dumps

NOW = time.time()
"""The moment the ages below are counted from (set again by each test's trace)."""
CHARGE_FAILED = "c0ffee00-0000-4000-8000-000000000001"  # 2 h ago, client 1234, fails
CHARGE_OK = "c0ffee02-0000-4000-8000-000000000002"  # 10 min ago, client 99
PRICE = "ba5eba11-0000-4000-8000-000000000003"  # 30 min ago, args [1234, "EUR"], retried then ok
EMAIL = "e3a1e3a1-0000-4000-8000-000000000004"  # 5 min ago, revoked before it started
PING = "0e0e0e0e-0000-4000-8000-000000000005"  # 1 min ago, started, no end


def _line(ago: float, event: str, **details: Any) -> bytes:
    when = datetime.fromtimestamp(NOW - ago, timezone.utc).isoformat()
    return dumps({"event": event, "time": when, "details": details, "node": "host-a"}) + b"\n"


def _task(name: str, task_id: str, queue: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_name": name,
        "task_id": task_id,
        "queue": queue,
        "node_args": {"args": args, "kwargs": kwargs},
    }


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """The five tasks above, in time order, as the json sink writes them (secrets already masked)."""
    global NOW  # ages are counted from when the test runs: `find --since 15m` reads the clock then
    NOW = time.time()
    failed = _task(
        "shop.charge", CHARGE_FAILED, "payments", [], {"client_id": 1234, "password": "[redacted]"}
    )
    ok = _task("shop.charge", CHARGE_OK, "payments", [], {"client_id": 99, "password": "[redacted]"})
    price = _task("shop.price", PRICE, "prices", [1234, "EUR"], {})
    email = _task("shop.email", EMAIL, "mail", ["ann@example.com"], {})
    ping = _task("shop.ping", PING, "celery", [], {})
    lines = [
        _line(7200.0, "TASK_SCHEDULE", **failed),
        _line(7199.9, "TASK_START", **failed, retried_count=0),
        _line(
            7199.5,
            "TASK_FAILURE",
            **failed,
            retried_count=0,
            exc_type="CardDeclined",
            what="CardDeclined: no",
        ),
        _line(1800.0, "TASK_SCHEDULE", **price),
        _line(1799.9, "TASK_START", **price, retried_count=0),
        _line(1799.8, "TASK_RETRY", **price, retried_count=0, exc_type="Timeout", what="Timeout: slow"),
        _line(1798.0, "TASK_START", **price, retried_count=1),
        _line(1797.5, "TASK_END", **price, retried_count=1, runtime=0.5),
        _line(600.0, "TASK_SCHEDULE", **ok),
        _line(599.9, "TASK_START", **ok, retried_count=0),
        _line(599.7, "TASK_END", **ok, retried_count=0, runtime=0.2),
        _line(300.0, "TASK_SCHEDULE", **email),
        _line(299.0, "TASK_REVOKED", task_id=EMAIL, task_name="shop.email", queue="mail", reason="revoked"),
        _line(60.0, "TASK_SCHEDULE", **ping),
        _line(59.9, "TASK_START", **ping, retried_count=0),
    ]
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def run(*args: str | Path, code: int = 0, input: bytes | None = None) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input, env={"NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


def found(*args: str | Path) -> list[tuple[str, str, str]]:
    """(state, task, short id) of each line ``find`` printed, in order; the count line left out."""
    lines = run("find", *args).stdout.splitlines()
    assert lines[-1].endswith("found") or "found;" in lines[-1]
    rows = []
    for line in lines[:-1]:
        cells = line.split()  # date, clock, mark, state, name, [#N,] short id, queue, ...
        rows.append((cells[3], cells[4], cells[6] if cells[5].startswith("#") else cells[5]))
    return rows


def _ids(rows: list[tuple[str, str, str]]) -> list[str]:
    return [row[2] for row in rows]


def test_find_lists_every_attempt_newest_first_with_the_count(trace: Path) -> None:
    """One line per attempt (the retried task twice), newest first; the count line says how many."""
    out = run("find", trace).stdout
    rows = found(trace)
    assert [row[:2] for row in rows] == [
        ("running", "shop.ping"),
        ("revoked", "shop.email"),
        ("ok", "shop.charge"),
        ("ok", "shop.price"),
        ("retried", "shop.price"),
        ("failed", "shop.charge"),
    ]
    assert out.splitlines()[-1] == "6 attempts found"
    failed = next(line for line in out.splitlines() if "failed" in line)
    assert "payments" in failed and "CardDeclined: no" in failed and CHARGE_FAILED[:8] in failed
    assert "#2" in out and "#1" in out  # the retried task's attempts are numbered
    assert "revoked before it started" in out


def test_find_by_state_names_the_allowed_values_when_wrong(trace: Path) -> None:
    """--state failed, retried, ok, running, revoked (comma or repeated); a wrong word: usage error."""
    assert _ids(found("--state", "failed", trace)) == [CHARGE_FAILED[:8]]
    assert _ids(found("--state", "retried", trace)) == [PRICE[:8]]
    assert _ids(found("--state", "succeeded", trace)) == [CHARGE_OK[:8], PRICE[:8]]
    assert _ids(found("--state", "no-end", trace)) == [PING[:8]]
    assert _ids(found("--state", "failed,revoked", trace)) == [EMAIL[:8], CHARGE_FAILED[:8]]
    assert _ids(found("--state", "ok", "--state", "running", trace)) == [PING[:8], CHARGE_OK[:8], PRICE[:8]]
    wrong = run("find", "--state", "broken", trace, code=2)
    assert "Invalid value for '--state'" in wrong.output and "unknown state 'broken'" in wrong.output
    assert "failed, retried, revoked, expired, rejected, succeeded" in wrong.output
    assert "Traceback" not in wrong.output


def test_find_by_task_name_pattern_or_id_and_by_queue(trace: Path) -> None:
    """--task takes a name, a pattern, an id or its short start; --queue a name or pattern."""
    assert _ids(found("--task", "shop.charge", trace)) == [CHARGE_OK[:8], CHARGE_FAILED[:8]]
    assert _ids(found("--task", "shop.p*", trace)) == [PING[:8], PRICE[:8], PRICE[:8]]
    assert _ids(found("--task", PRICE, trace)) == [PRICE[:8], PRICE[:8]]
    assert _ids(found("--task", EMAIL[:8], trace)) == [EMAIL[:8]]
    # An id is found by a byte search before parsing; a pattern parses every line: the same answer.
    assert found("--task", PRICE, trace) == found("--task", f"{PRICE}*", trace)
    # So is a literal name alone: the same attempts as its pattern, a revoke that names no task included.
    assert Query(tasks=("shop.charge",)).texts() == ["shop.charge"]
    assert Query(tasks=("shop.ch*",)).texts() is None
    assert Query(tasks=("shop.charge",), queues=("payments",)).texts() is None
    with trace.open("ab") as out:  # the charge that succeeded, revoked after its end (no name given)
        out.write(_line(30.0, "TASK_REVOKED", task_id=CHARGE_OK, reason="revoked", terminated=False))
    assert found("--task", "shop.charge", trace) == found("--task", "shop.charg[e]", trace)
    assert found("--task", "shop.charge", "--state", "revoked", trace) == [
        ("revoked", "shop.charge", CHARGE_OK[:8])
    ]
    assert _ids(found("--queue", "pay*", "--state", "failed", trace)) == [CHARGE_FAILED[:8]]
    assert _ids(found("--queue", "mail", "--queue", "prices", trace)) == [EMAIL[:8], PRICE[:8], PRICE[:8]]


def test_find_by_time_relative_and_absolute(trace: Path) -> None:
    """--since 1h leaves out the charge of 2 h ago; --until 1h keeps only it; ISO times work too."""
    recent = _ids(found("--since", "1h", trace))
    assert CHARGE_FAILED[:8] not in recent and len(recent) == 5
    assert _ids(found("--until", "1h", trace)) == [CHARGE_FAILED[:8]]
    assert _ids(found("--since", "15m", "--until", "2m", trace)) == [EMAIL[:8], CHARGE_OK[:8]]
    start = datetime.fromtimestamp(NOW - 2000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert _ids(found("--since", start, "--state", "retried", trace)) == [PRICE[:8]]
    bad = run("find", "--since", "yesterday", trace, code=2)
    assert "Invalid value for '--since'" in bad.output and "30m, 1h, 2d" in bad.output
    backwards = run("find", "--since", "1h", "--until", "2h", trace, code=2)
    assert "'--since'" in backwards.output and "later than --until" in backwards.output


def test_find_by_argument_as_the_trace_has_it_redacted(trace: Path) -> None:
    """--arg KEY=VALUE, N=VALUE and VALUE; a masked kwarg is found by its placeholder, never its secret."""
    assert _ids(found("--arg", "client_id=1234", trace)) == [CHARGE_FAILED[:8]]
    assert _ids(found("--arg", "0=1234", trace)) == [PRICE[:8], PRICE[:8]]
    assert _ids(found("--arg", "1234", trace)) == [PRICE[:8], PRICE[:8], CHARGE_FAILED[:8]]
    assert _ids(found("--arg", "1=EUR", "--arg", "0=12*", trace)) == [PRICE[:8], PRICE[:8]]
    assert _ids(found("--arg", "client_id=1234", "--arg", "password=[redacted]", trace)) == [
        CHARGE_FAILED[:8]
    ]
    assert _ids(found("--arg", "*@example.com", trace)) == [EMAIL[:8]]
    nothing = run("find", "--arg", "password=hunter2", trace, code=1)
    assert nothing.stdout == "" and "no task attempt in trace.jsonl matches" in nothing.stderr
    assert run("find", "--arg", "1=1234", trace, code=1).stdout == ""  # a position that does not hold it
    assert "names no argument" in run("find", "--arg", "=5", trace, code=2).output


def test_find_limit_oldest_first_and_standard_input(trace: Path) -> None:
    """--limit cuts the list and the count says so; --oldest-first reverses it; - is read twice fine."""
    out = run("find", "--limit", "2", trace).stdout.splitlines()
    assert len(out) == 3 and out[-1] == "6 attempts found; showing the newest 2 (--limit 0 for all)"
    oldest = run("find", "--oldest-first", "-n", "1", trace).stdout.splitlines()
    assert CHARGE_FAILED[:8] in oldest[0] and "showing the oldest 1" in oldest[-1]
    piped = run("find", "--state", "failed", "-", input=trace.read_bytes()).stdout
    assert CHARGE_FAILED[:8] in piped and piped.splitlines()[-1] == "1 attempt found"


def test_summary_takes_the_time_task_and_queue_filters(trace: Path) -> None:
    """summary --task / --queue / --since count only what they pass; a bad time is a usage error."""
    charge = run("summary", "--task", "shop.charge", trace).stdout
    assert "shop.charge" in charge and "shop.price" not in charge and "shop.ping" not in charge
    row = next(line.split() for line in charge.splitlines() if line.strip().startswith("shop.charge"))
    assert row[1:4] == ["2", "1", "1"]  # runs, ok, failed
    recent = run("summary", "--since", "1h", "--queue", "payments", trace).stdout
    row = next(line.split() for line in recent.splitlines() if line.strip().startswith("shop.charge"))
    assert row[1:4] == ["1", "1", "·"]
    bad = run("summary", "--until", "5 minutes", trace, code=2)
    assert "Invalid value for '--until'" in bad.output and "Traceback" not in bad.output


def test_timeline_filters_choose_the_newest_matching_task(trace: Path, tmp_path: Path) -> None:
    """timeline --task draws the newest attempt it matches and says so; --task with an ID is refused."""
    page = tmp_path / "page.html"
    result = run("timeline", "-o", page, "--task", "shop.charge", trace)
    assert f"[{CHARGE_OK[:8]}]" in result.stderr and "newest task attempt the filters match" in result.stderr
    assert CHARGE_OK in page.read_text() and CHARGE_FAILED not in page.read_text()
    older = run("timeline", "-o", page, "--task", "shop.charge", "--until", "1h", trace)
    assert f"[{CHARGE_FAILED[:8]}]" in older.stderr
    refused = run("timeline", "-o", page, "--task", "shop.charge", PRICE, trace, code=2)
    assert "--task and --queue choose what to draw" in refused.output
    assert run("timeline", "-o", page, "--task", "nope", trace, code=1).stdout == ""


def test_time_values_and_argument_conditions_parse() -> None:
    """The one time parser (ages, ISO, now) and the --arg forms."""
    assert parse_time_bound("30m", now=10_000.0) == 8200.0
    assert parse_time_bound("1d2h", now=200_000.0) == 200_000.0 - 86400 - 7200
    assert parse_time_bound("now", now=5.0) == 5.0
    assert parse_time_bound("2026-11-28T11:46:00+01:00") == parse_time_bound("2026-11-28T10:46Z")
    assert parse_time_bound("2026-11-28") == datetime(2026, 11, 28, tzinfo=timezone.utc).timestamp()
    with pytest.raises(ValueError, match="not a time"):
        parse_time_bound("1 hour")
    condition = parse_condition("note=a=b")
    assert (condition.key, condition.value) == ("note", "a=b")
    assert condition.matches({"args": [], "kwargs": {"note": "a=b"}})
    assert parse_condition("flag=true").matches({"args": [], "kwargs": {"flag": True}})
    assert not parse_condition("flag=true").matches({"args": [], "kwargs": {"flag": "yes"}})
    assert parse_condition("[redacted]").matches({"args": [], "kwargs": {"password": "[redacted]"}})
    assert not parse_condition("[redacted]").matches({"args": ["r"], "kwargs": {}})  # no char class
