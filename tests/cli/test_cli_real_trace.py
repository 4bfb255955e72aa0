"""``selinon-trace`` on the trace of a real run of the example project: three flows, a retry, a
failure, a subflow, and each flow's submission traced by the client that sent it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from selinon_celery_trace.cli import cli
from tests.cli.conftest import RealTrace

ENV = {"COLUMNS": "120", "NO_COLOR": "1"}


def run(*args: str | Path, columns: int = 120) -> Result:
    """Run the command line in-process at a terminal width of ``columns``."""
    env = {**ENV, "COLUMNS": str(columns)}
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=env, catch_exceptions=False)


def _row(output: str, first_cell: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.strip().startswith(first_cell + " "))
    return line.split()


def _in_order(out: str, *texts: str) -> None:
    position = 0
    for text in texts:
        found = out.find(text, position)
        assert found >= 0, f"{text!r} missing or out of order in:\n{out}"
        position = found + len(text)


def test_summary_counts_attempts_flows_and_subflows(real_trace: RealTrace) -> None:
    """Runs per task and flow are the run's; the client's flow submissions are not counted as tasks."""
    result = run("summary", real_trace.path)
    assert result.exit_code == 0 and result.stderr == ""
    out = result.stdout
    assert _row(out, "example.fetch")[:5] == ["example.fetch", "4", "3", "·", "1"]
    assert _row(out, "example.parse")[:5] == ["example.parse", "3", "2", "1", "·"]
    assert _row(out, "document_flow")[:4] == ["document_flow", "3", "2", "1"]
    assert _row(out, "thumbnail_flow")[:4] == ["thumbnail_flow", "2", "2", "·"]
    assert "example.document_flow" not in out and "example.thumbnail_flow" not in out
    assert "UnreadableDocument: scanned-contract: no text layer" in out
    assert real_trace.flows["scanned-contract"][:8] in out


def test_summary_through_a_pipe_fits_80_columns(real_trace: RealTrace) -> None:
    """`python -m selinon_celery_trace summary FILE | cat` at COLUMNS=80: whole headers, one-line errors."""
    piped = subprocess.run(
        f"{sys.executable} -m selinon_celery_trace summary {real_trace.path} | cat",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    lines = piped.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for header in ("runs", "failed", "retried", "p95", "max", "wake-ups", "duration", "error", "last id"):
        assert re.search(rf"\b{header}\b", piped.stdout), header
    assert "…   " not in piped.stdout.split("Failures")[0]  # no header or number cut short
    (error_row,) = [line for line in lines if "UnreadableDocument" in line]
    assert "example.parse" in error_row


def test_show_a_good_flow_with_its_submission_and_subflow(real_trace: RealTrace) -> None:
    """q3-report: submitted, woken, five nodes with thumbnail as a subflow, notify under publish, finished."""
    result = run("show", real_trace.flows["q3-report"][:8], real_trace.path)
    assert result.exit_code == 0
    _in_order(
        result.stdout,
        "✔ flow document_flow",
        "flow submitted to q=documents · waited",
        "dispatcher wake-up #1",
        "example.fetch",
        "example.parse",
        "subflow thumbnail_flow",
        "example.thumbnail",
        "flow finished",
        "example.publish",
        "example.notify",
        "flow finished",
    )


def test_show_the_retried_flow(real_trace: RealTrace) -> None:
    """release-notes: fetch's attempt 1 retried on SourceTimeout (the cause, not Retry), attempt 2 ok."""
    result = run("show", real_trace.flows["release-notes"], real_trace.path)
    assert result.exit_code == 0
    _in_order(
        result.stdout,
        "example.fetch",
        "succeeded after 2 attempts (1 retry)",
        "↻ attempt 1 retried after",
        "next in 500ms",
        "SourceTimeout: GET https://slow-mirror.example.com/releases/2.4/notes.html: read timed out",
        "✔ attempt 2 ok in",
    )
    assert "Retry in" not in result.stdout and "example_project.tasks." not in result.stdout


def test_show_the_failed_flow(real_trace: RealTrace) -> None:
    """scanned-contract: parse failed with its error line, then the flow failed; nothing after parse ran."""
    result = run("show", real_trace.flows["scanned-contract"][:8], real_trace.path)
    assert result.exit_code == 0
    out = result.stdout
    _in_order(
        out,
        "✖ flow document_flow",
        "failed after",
        "example.fetch",
        "✖ example.parse",
        "UnreadableDocument: scanned-contract: no text layer",
        "✖ flow failed",
    )
    assert "example.index" not in out and "subflow" not in out


def test_show_a_task_id_with_its_traceback(real_trace: RealTrace) -> None:
    """The retried fetch by its short id: both attempts; -t prints the causing error's traceback."""
    (fetch,) = real_trace.task_ids(real_trace.flows["release-notes"], "example.fetch")
    result = run("show", "-t", fetch[:8], real_trace.path)
    assert result.exit_code == 0
    out = result.stdout
    _in_order(out, "task example.fetch", "scheduled on q=documents", "attempt 1 retried", "attempt 2 ok")
    assert f"selinon-trace show {real_trace.flows['release-notes'][:8]}" in " ".join(out.split())
    assert "raise SourceTimeout(" in out


def _page_data(page: str) -> dict[str, object]:
    match = re.search(r'<script id="trace-data" type="application/json">(.*?)</script>', page, re.S)
    assert match is not None
    data: dict[str, object] = json.loads(match.group(1))
    return data


def _bars(data: dict[str, object]) -> set[tuple[str, int, str]]:
    bars = data["bars"]
    assert isinstance(bars, list)
    return {(bar["taskId"], bar["attempt"], bar["outcome"]) for bar in bars}


def test_timeline_of_each_flow_has_one_bar_per_attempt(real_trace: RealTrace, tmp_path: Path) -> None:
    """Every attempt of every flow (subflow tasks included) is one bar: the retry and the failure too."""
    for doc, flow_id in real_trace.flows.items():
        page = tmp_path / f"{doc}.html"
        result = run("timeline", "-o", page, flow_id[:8], real_trace.path)
        assert result.exit_code == 0, result.stderr
        data = _page_data(page.read_text(encoding="utf-8"))
        assert _bars(data) == real_trace.attempts(flow_id), doc
        assert len(data["bars"]) == len(real_trace.attempts(flow_id))  # type: ignore[arg-type]
        wakeups = data["wakeups"]
        assert isinstance(wakeups, list)
        assert wakeups[0]["waitFrom"] == 0.0  # the client's submission starts the axis: queue wait drawn
    outcomes = {bar[2] for bar in real_trace.attempts(real_trace.flows["release-notes"])}
    assert outcomes == {"retry", "success"}
    failed = _page_data((tmp_path / "scanned-contract.html").read_text(encoding="utf-8"))
    assert failed["outcome"] == "failure" and {bar[2] for bar in _bars(failed)} == {"success", "failure"}


def test_timeline_without_an_id_draws_the_flow_that_finished_last(
    real_trace: RealTrace, tmp_path: Path
) -> None:
    """With no ID the top-level flow that ended last is drawn, and the message says why it was chosen."""
    page = tmp_path / "latest.html"
    result = run("timeline", "-o", page, real_trace.path)
    assert result.exit_code == 0
    chosen = real_trace.finished_last()
    assert f"[{chosen}]" in result.stderr
    assert "the flow that finished last in the input" in result.stderr
    assert _page_data(page.read_text(encoding="utf-8"))["id"] == chosen


def test_follow_once_prints_every_event_and_filters_problems(real_trace: RealTrace) -> None:
    """--from-start --once prints one line per event; --problems keeps the retry and the failures."""
    result = run("follow", "--once", "--from-start", real_trace.path, columns=200)
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == len(real_trace.records)
    assert any("SUBFLOW_SCHEDULE" in line and "subflow thumbnail_flow[" in line for line in lines)
    (retry,) = [line for line in lines if " TASK_RETRY " in line]
    assert (
        "SourceTimeout: GET https://slow-mirror.example.com" in retry and "attempt" not in retry.split(":")[0]
    )
    problems = run("follow", "--once", "--from-start", "--problems", real_trace.path, columns=200)
    names = [line.split()[2] for line in problems.stdout.splitlines()]
    assert sorted(names) == ["FLOW_FAILURE", "NODE_FAILURE", "TASK_FAILURE", "TASK_RETRY"]
