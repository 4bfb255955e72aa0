"""The selinon-trace commands on trace files: output, exit codes, damaged input, standard input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from selinon_celery_trace.cli import cli

from . import tracegen
from .tracegen import TraceFiles, write_trace_files

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture
def files(tmp_path: Path) -> TraceFiles:
    """The scenario's trace files."""
    return write_trace_files(tmp_path)


def run(*args: str | Path, input: bytes | None = None) -> Result:
    """Run the command line in-process, as a user would from a shell."""
    return CliRunner().invoke(cli, [str(arg) for arg in args], input=input, env=ENV, catch_exceptions=False)


def _table_row(output: str, first_cell: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.strip().startswith(first_cell + " "))
    return line.split()


def test_summary_lists_tasks_flows_failures_queues_and_hosts(files: TraceFiles) -> None:
    """Every section is there with the scenario's numbers; damaged lines are reported on stderr."""
    result = run("summary", files.combined)
    assert result.exit_code == 0
    out = result.stdout
    assert _table_row(out, "example.fetch")[:6] == ["example.fetch", "4", "3", "·", "1", "·"]
    assert _table_row(out, "crawl")[:5] == ["crawl", "2", "1", "1", "6"]  # runs ok failed wake-ups
    for section in ("Tasks", "Flows", "Slowest flows", "Failures", "Events by queue", "Events by host"):
        assert section in out
    assert "ValueError: bad html: no <body>" in out
    assert tracegen.CRAWL[:8] in out  # slowest flows and failures give short ids to pass to `show`
    assert "skipped 1 malformed line (first at line 6)" in result.stderr
    assert "skipped 1 truncated line" in result.stderr


def test_summary_of_per_host_files_equals_summary_of_the_combined_file(files: TraceFiles) -> None:
    """Merging one file per host gives the same tables as one file with every event."""
    merged = run("summary", files.host_a, files.host_b)
    single = run("summary", files.combined)
    assert merged.stdout.replace("2 inputs", "1 input") == single.stdout
    assert merged.stderr == ""


def test_summary_reads_gzip_and_standard_input(files: TraceFiles) -> None:
    """A gzip file and '-' give the same summary as the plain file."""
    plain = run("summary", files.combined).stdout
    assert run("summary", files.gzipped).stdout == plain
    piped = run("summary", "-", input=files.combined.read_bytes())
    assert piped.stdout == plain
    assert "<stdin>: skipped 1 malformed line" in piped.stderr


def test_show_flow_prints_the_tree_in_the_order_things_happened(files: TraceFiles) -> None:
    """Wake-ups, tasks with attempts, the subflow and the end appear in time order with errors."""
    result = run("show", tracegen.CRAWL[:8], files.combined)
    assert result.exit_code == 0
    out = result.stdout
    order = [
        "flow submitted to q=flows · waited 10.0ms in the queue for its first wake-up",
        "dispatcher wake-up #1",
        f"example.fetch [{tracegen.FETCH_1[:8]}]",
        "attempt 1 retried after 280ms, next in 1.00s",
        "ConnectionError: connection reset by peer",
        "attempt 2 ok in 580ms",
        f"subflow parse [{tracegen.PARSE[:8]}]",
        "example.parse_page",
        "dispatcher wake-ups #2",
        f"example.render [{tracegen.RENDER[:8]}] failed, no start event",
        "dispatcher wake-up #4",
        "flow failed",
    ]
    position = 0
    for text in order:  # each one after the previous
        found = out.find(text, position)
        assert found >= 0, f"{text!r} missing or out of order in:\n{out}"
        position = found + len(text)
    assert "celery@host-b pid 201" in out


def test_show_task_and_its_traceback(files: TraceFiles) -> None:
    """A task id shows its attempts; --traceback adds the whole error text."""
    result = run("show", "--traceback", tracegen.FETCH_1, files.host_a, files.host_b)
    assert result.exit_code == 0
    assert "task example.fetch" in result.stdout
    assert f"selinon-trace show {tracegen.CRAWL[:8]}" in result.stdout
    assert 'File "/app/tasks.py", line 12, in fetch' in result.stdout


def test_show_exits_1_for_an_unknown_or_ambiguous_id(files: TraceFiles) -> None:
    """No match and a prefix of two ids are both 'not found', said on stderr."""
    missing = run("show", "feedface", files.combined)
    assert missing.exit_code == 1
    assert "no flow (dispatcher_id) or task (task_id) starting with 'feedface'" in missing.stderr
    ambiguous = run("show", "3f2a9c1e", files.combined)
    assert ambiguous.exit_code == 1
    assert tracegen.FETCH_1 in ambiguous.stderr and tracegen.FETCH_2 in ambiguous.stderr


def test_usage_errors_exit_2(files: TraceFiles, tmp_path: Path) -> None:
    """Missing files, unknown events and a missing output option are usage errors."""
    assert run("summary", tmp_path / "nope.jsonl").exit_code == 2
    assert run("show", tracegen.CRAWL).exit_code == 2
    bad_event = run("follow", "--once", "-e", "FAILURE", files.combined)
    assert bad_event.exit_code == 2
    assert "did you mean TASK_FAILURE" in bad_event.stderr
    assert run("timeline", files.combined).exit_code == 2
    assert run("timeline", "-o", tmp_path / "t.html", "nope.jsonl").exit_code == 2
    assert run("summary", "-", "-", input=b"").exit_code == 2


def _page_data(page: str) -> dict[str, object]:
    match = re.search(r'<script id="trace-data" type="application/json">(.*?)</script>', page, re.S)
    assert match is not None
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_timeline_without_id_draws_the_flow_that_finished_last_and_says_so(
    files: TraceFiles, tmp_path: Path
) -> None:
    """The failing crawl finished last: six attempts, its subflow's task included."""
    output = tmp_path / "flow.html"
    result = run("timeline", "-o", output, files.host_a, files.host_b)
    assert result.exit_code == 0
    assert f"flow crawl [{tracegen.CRAWL}]" in result.stderr
    assert "the flow that finished last in the input" in result.stderr
    data = _page_data(output.read_text(encoding="utf-8"))
    bars = data["bars"]
    assert isinstance(bars, list)
    assert sorted((bar["taskId"], bar["attempt"]) for bar in bars) == sorted(
        [
            (tracegen.FETCH_1, 1),
            (tracegen.FETCH_1, 2),
            (tracegen.FETCH_2, 1),
            (tracegen.PARSE_PAGE, 1),
            (tracegen.STORE, 1),
            (tracegen.RENDER, 1),
        ]
    )


def test_timeline_takes_an_id_first_and_writes_to_stdout(files: TraceFiles) -> None:
    """`timeline -o - ID FILE` draws that task; the page is self-contained and escapes what it embeds."""
    result = run("timeline", "-o", "-", tracegen.PARSE_PAGE, files.combined)
    assert result.exit_code == 0
    page = result.stdout
    assert page.startswith("<!DOCTYPE html>")
    # The error text holds "<body>": it must not appear raw inside the data block.
    assert "no <body>" not in page.split('id="trace-data"')[1].split("</script>")[0]
    assert _page_data(page)["kind"] == "task"
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", page)
    assert "@import" not in page and "url(http" not in page


def test_timeline_from_standard_input_picks_the_latest_flow(files: TraceFiles, tmp_path: Path) -> None:
    """Standard input is read twice through a temporary copy; reports name it <stdin>."""
    output = tmp_path / "t.html"
    result = run("timeline", "-o", output, "-", input=files.combined.read_bytes())
    assert result.exit_code == 0
    assert _page_data(output.read_text(encoding="utf-8"))["id"] == tracegen.CRAWL
    assert "<stdin>: skipped 1 truncated line" in result.stderr


def test_timeline_with_no_flow_in_the_input_exits_1(tmp_path: Path) -> None:
    """A trace of plain tasks has no flow to pick: the user is told to give a task id."""
    path = tmp_path / "tasks.jsonl"
    line = '{"event":"TASK_START","time":"2026-11-28T11:46:14+00:00","details":{"task_id":"a"},"node":"h"}\n'
    path.write_text(line)
    result = run("timeline", "-o", tmp_path / "t.html", path)
    assert result.exit_code == 1
    assert "give a task id" in result.stderr
    assert run("timeline", "-o", tmp_path / "t.html", "a", path).exit_code == 0


def test_follow_once_filters_by_event_flow_task_and_queue(files: TraceFiles) -> None:
    """Filters combine: one option matches any of its values, all options must match."""
    result = run(
        "follow",
        "--once",
        "--from-start",
        "-e",
        "TASK_*",
        "--flow",
        "crawl",
        "--task",
        "*.fetch",
        "--queue",
        "fetch",
        "-e",
        "FLOW_END",
        files.combined,
    )
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines and all("example.fetch" in line for line in lines)
    assert {line.split()[2] for line in lines} == {"TASK_SCHEDULE", "TASK_START", "TASK_END", "TASK_RETRY"}
    by_id = run("follow", "--once", "--from-start", "--flow", tracegen.PARSE, files.combined)
    assert "example.parse_page" in by_id.stdout and "example.store" not in by_id.stdout
    problems = run("follow", "--once", "-n", "1000", "--problems", files.combined).stdout.splitlines()
    assert {line.split()[2] for line in problems} == {
        "TASK_RETRY",
        "TASK_FAILURE",
        "NODE_FAILURE",
        "FLOW_FAILURE",
        "TASK_DISCARD_RESULT",
    }


def test_follow_starts_with_the_last_ten_lines_and_reports_damage(files: TraceFiles) -> None:
    """Like tail: the last lines by default; the half-written last line is reported at the end."""
    result = run("follow", "--once", files.combined)
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 9  # ten lines, one of them truncated
    assert "skipped 1 truncated line" in result.stderr


def test_colour_is_used_only_when_asked_or_on_a_terminal(files: TraceFiles) -> None:
    """--color always puts ANSI styles in piped output; the default does not."""
    coloured = CliRunner().invoke(cli, ["--color", "always", "follow", "--once", str(files.combined)])
    assert "\x1b[" in coloured.stdout
    assert "\x1b[" not in run("follow", "--once", files.combined).stdout


def test_python_dash_m_runs_the_cli_without_importing_celery(files: TraceFiles) -> None:
    """`python -m selinon_celery_trace` is the same command, and it never loads Celery."""
    code = (
        "import sys, runpy\n"
        "sys.argv = ['selinon-trace', 'summary', sys.argv[1]]\n"
        "try:\n"
        "    runpy.run_module('selinon_celery_trace', run_name='__main__')\n"
        "finally:\n"
        "    assert 'celery' not in sys.modules, 'celery was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(files.combined)],
        capture_output=True,
        text=True,
        env={**ENV, "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert "example.fetch" in done.stdout
    version = subprocess.run(
        [sys.executable, "-m", "selinon_celery_trace", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and "selinon-trace" in version.stdout


def test_follow_names_and_finds_a_starmap_by_the_task_it_runs(tmp_path: Path) -> None:
    """A celery.starmap of proj.add shows and filters as celery.starmap(proj.add), or by its raw name."""
    wrapped = {"args": [], "kwargs": {"task": {"task": "proj.add", "args": []}, "it": [[1, 2]]}}
    events = [
        {"task_name": "celery.starmap", "task_id": "aaaa1111", "node_args": wrapped, "queue": "q"},
        {"task_name": "proj.add", "task_id": "bbbb2222", "node_args": {"args": [1, 2], "kwargs": {}}},
    ]
    path = tmp_path / "trace.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {"event": "TASK_START", "time": f"2026-12-06T02:00:0{i}+00:00", "details": d, "node": "h"}
            )
            + "\n"
            for i, d in enumerate(events)
        )
    )
    for pattern in ("celery.starmap(proj.add)", "celery.starmap(*)", "celery.starmap"):
        lines = run("follow", "--once", "--from-start", "--task", pattern, path).stdout.splitlines()
        assert len(lines) == 1 and "celery.starmap(proj.add)[aaaa1111]" in lines[0], (pattern, lines)
    assert len(run("follow", "--once", "--from-start", "--task", "proj.*", path).stdout.splitlines()) == 1
