"""``--jobs``: a large file read in parts by several processes prints what one pass prints.

Each trace (the example project's real run, the hand-built scenarios of flows, canvases, fates, beat and
workers) is cut at many line boundaries and folded in parts; the command itself runs with parts small
enough to make several pool processes of a small file. Real workers' traces get the same check in the
e2e suites (tests/e2e/test_e2e_canvas.py, test_e2e_cli_fates.py). ``find`` searches parts side by side
too; a child that dies costs nothing but time.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from selinon_celery_trace.cli import cli
from selinon_celery_trace.cli.commands import forked, summary_jobs
from selinon_celery_trace.cli.model.summary import Summary
from selinon_celery_trace.cli.model.tallies import FailureGroups
from selinon_celery_trace.cli.reading import parts
from selinon_celery_trace.cli.reading.files import read
from selinon_celery_trace.cli.reading.lines import Malformed
from selinon_celery_trace.cli.reading.parts import line_ranges
from selinon_celery_trace.cli.reading.scope import Scope
from tests.cli.conftest import REPO_ROOT, RealTrace

from . import fategen, tracegen
from .parts_check import assert_parts_exact, in_parts, line_starts
from .test_cli_canvas import _write as write_canvases
from .tracegen import TraceBuilder, write_trace_files

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def run(*args: str | Path) -> Result:
    """The command line, in-process, as a user runs it."""
    result = CliRunner().invoke(cli, [str(arg) for arg in args], env=ENV, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_parts_of_the_example_run_print_what_one_pass_prints(real_trace: RealTrace) -> None:
    """Flows, subflows, a retry, a failure: every cut of the real run is put together exactly."""
    exact, tried = assert_parts_exact(real_trace.path, samples=80)
    assert exact == tried >= 80  # none fell back to one pass: no id begins twice in a real run


@pytest.mark.parametrize("scenario", ["flows", "canvases", "fates", "beat"])
def test_parts_of_each_scenario_print_what_one_pass_prints(tmp_path: Path, scenario: str) -> None:
    """Canvases (tied across parts), fates, beat's gaps and a worker's spans come out as one pass's."""
    if scenario == "flows":
        path = write_trace_files(tmp_path).combined  # with a garbage line and a truncated last one
    elif scenario == "canvases":
        path = write_canvases(tmp_path)
    else:
        path = tmp_path / f"{scenario}.jsonl"
        path.write_bytes(b"".join(getattr(fategen, scenario)().lines()))
    lines = len(line_starts(path)) - 1
    exact, tried = assert_parts_exact(path, samples=lines)
    assert exact == tried >= lines - 1


def test_a_task_that_begins_twice_falls_back_to_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task id used again (its first start before the cut, a new first publish after it): the parts
    cannot be put together exactly, and the command prints the one pass's summary."""
    builder = TraceBuilder()
    task = {"task_name": "proj.report", "task_id": "daily-report", "queue": "celery"}
    builder.add(0.0, "h", "TASK_START", **task, retried_count=0, hostname="celery@h")  # its publish untraced
    for n in range(40):  # other tasks, to put the cut between the two lives of daily-report
        other = {"task_name": "proj.add", "task_id": f"t-{n}", "queue": "celery"}
        builder.add(1.0 + n, "h", "TASK_SCHEDULE", **other, retried_count=0)
        builder.add(1.1 + n, "h", "TASK_START", **other, retried_count=0, hostname="celery@h")
        builder.add(1.2 + n, "h", "TASK_END", **other, retried_count=0, runtime=0.1, hostname="celery@h")
    builder.add(50.0, "h", "TASK_SCHEDULE", **task, retried_count=0)
    builder.add(51.0, "h", "TASK_END", **task, retried_count=0, hostname="celery@h")
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"".join(builder.lines()))
    middle = line_starts(path)[60]
    assert in_parts(path, [middle]) is None
    monkeypatch.setattr(parts, "PART_BYTES", middle)
    assert run("summary", "--jobs", "2", path).output == run("summary", "--jobs", "1", path).output
    assert "no end" not in run("summary", "--jobs", "2", path).output  # daily-report's start has its end


def _benchmark_trace(path: Path, events: int) -> None:
    """The benchmark's synthetic trace (flows of three tasks, retries, failures): distinct ids."""
    spec = importlib.util.spec_from_file_location("cli_million", REPO_ROOT / "benchmarks" / "cli_million.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_trace(path, events)


def test_summary_jobs_forks_a_pool_and_counts_skipped_lines_by_their_line_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many small parts (as a large file has), folded by two processes: output and the report of
    skipped lines (line numbers in the whole file, not in a part) are one pass's."""
    clean = tmp_path / "clean.jsonl"
    _benchmark_trace(clean, 6000)
    lines = clean.read_bytes().splitlines(keepends=True)
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"".join([*lines[:4000], b"celery@host-a ready.\n", *lines[4000:], b'{"event": "TASK_']))
    size = path.stat().st_size // 8
    monkeypatch.setattr(parts, "PART_BYTES", size)
    assert len(line_ranges(str(path), size)) >= 8
    malformed = Malformed()
    assert summary_jobs.summary_in_parts(str(path), Scope(), 10, 2, malformed) is not None  # exact
    assert malformed.report() == [
        f"{path}: skipped 1 malformed line (first at line 4001)",
        f"{path}: skipped 1 truncated line (first at line {len(lines) + 2})",
    ]
    one_pass = CliRunner().invoke(cli, ["summary", "-j1", str(path)], env=ENV)
    jobs = CliRunner().invoke(cli, ["summary", "-j2", str(path)], env=ENV)
    assert jobs.output == one_pass.output
    assert jobs.stderr == one_pass.stderr
    assert "example.store" in jobs.output and "ValueError: bad input" in jobs.output


def test_line_ranges_cover_the_file_and_end_at_newlines(tmp_path: Path) -> None:
    """Parts together are the file, in order; each but the last ends with a newline; a part holds at
    least one line even when a line is longer than the part size."""
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"a\n" + b"b" * 100 + b"\n" + b"c\nd\ne" * 20)
    data = path.read_bytes()
    for size in (1, 2, 3, 7, 50, 1000):
        ranges = line_ranges(str(path), size)
        assert b"".join(data[start:end] for start, end in ranges) == data
        assert all(data[end - 1 : end] == b"\n" for _, end in ranges[:-1])
        assert all(start < end for start, end in ranges)


def test_failure_groups_past_the_cap_come_out_as_one_pass_groups_them(tmp_path: Path) -> None:
    """Failures are grouped in the order they came, whichever part they were in: the first thousand
    distinct errors keep their rows, the rest go to "other errors", and an error met again after the
    cut is counted in its own row, as one pass counts it."""
    builder = TraceBuilder()
    for index in range(FailureGroups.MAX + 60):
        error = f"KeyError: {index % (FailureGroups.MAX + 30)}"  # the first 30 errors come again
        task = {"task_name": "proj.lookup", "task_id": f"t-{index}", "queue": "celery"}
        builder.add(index, "h", "TASK_SCHEDULE", **task, retried_count=0)
        builder.add(index + 0.1, "h", "TASK_START", **task, retried_count=0, hostname="celery@h")
        builder.add(
            index + 0.2, "h", "TASK_FAILURE", **task, retried_count=0, what=error, exc_type="KeyError"
        )
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"".join(builder.lines()))
    one_pass = Summary().add_all(read(str(path), Malformed())).finish()
    assert len(one_pass.failures) == FailureGroups.MAX + 1
    starts = line_starts(path)
    for cut in (starts[900 * 3], starts[1010 * 3], [starts[500 * 3], starts[1020 * 3]]):
        result = in_parts(path, cut if isinstance(cut, list) else [cut])
        assert result is not None
        assert result.failures == one_pass.failures


@pytest.fixture
def damaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The benchmark's trace (6,000 events) with a foreign line in the middle and a truncated last line,
    in parts of an eighth of it."""
    clean = tmp_path / "clean.jsonl"
    _benchmark_trace(clean, 6000)
    lines = clean.read_bytes().splitlines(keepends=True)
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"".join([*lines[:4000], b"celery@host-a ready.\n", *lines[4000:], b'{"event": "TASK_']))
    monkeypatch.setattr(parts, "PART_BYTES", path.stat().st_size // 8)
    return path


FIND_QUERIES = [
    ["--state", "failed"],
    ["--task", "example.parse"],
    ["--task", "00000040-0002"],
    ["--arg", "n=77"],
    ["--state", "retried", "--task", "example.st*"],
]


@pytest.mark.parametrize("query", FIND_QUERIES, ids=lambda q: " ".join(q))
def test_find_in_parts_lists_what_one_pass_lists(damaged: Path, query: list[str]) -> None:
    """Each part searched by a child: the same attempts, the same count, the same skipped lines."""
    one_pass = CliRunner().invoke(cli, ["find", "-j1", "-n", "0", *query, str(damaged)], env=ENV)
    jobs = CliRunner().invoke(cli, ["find", "-j2", "-n", "0", *query, str(damaged)], env=ENV)
    assert one_pass.exit_code == jobs.exit_code == 0
    assert jobs.output == one_pass.output
    assert jobs.stderr == one_pass.stderr
    assert "skipped 1 malformed line (first at line 4001)" in jobs.stderr


def _dies_in_children(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[object]:
    """Make ``module.name`` end the process it runs in (a child killed under it), except this one;
    return the list of the calls made in this process."""
    parent, real, calls = os.getpid(), getattr(module, name), []

    def dying(*args: object, **kwargs: object) -> object:
        if os.getpid() != parent:
            os._exit(9)
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, dying)
    return calls


def test_a_child_that_dies_costs_time_not_results(damaged: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """find goes on from the part whose child died, in this process; summary folds in one pass."""
    expected = {
        command: CliRunner().invoke(cli, [command, "-j1", *args, str(damaged)], env=ENV)
        for command, args in (("find", ["-n", "0", "--state", "failed"]), ("summary", []))
    }
    searched_here = _dies_in_children(monkeypatch, forked, "picked_lines")
    _dies_in_children(monkeypatch, summary_jobs, "_fold")
    for command, args in (("find", ["-n", "0", "--state", "failed"]), ("summary", [])):
        result = CliRunner().invoke(cli, [command, "-j2", *args, str(damaged)], env=ENV)
        assert (result.output, result.stderr) == (expected[command].output, expected[command].stderr)
    assert len(searched_here) == 2  # find's two passes each went on here from the first part


def test_a_file_rotated_while_it_is_read_in_parts_is_read_as_it_was(
    damaged: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The children read the file the command opened, not whatever has its name by then."""
    commands = (("find", ["-n", "0", "--state", "failed"]), ("summary", []))
    expected = {c: CliRunner().invoke(cli, [c, "-j1", *a, str(damaged)], env=ENV).output for c, a in commands}
    real = forked.shared

    @contextmanager
    def rotated_once_open(path: str) -> Iterator[tuple[int, list[tuple[int, int]]]]:
        with real(path) as opened:
            os.rename(path, f"{path}.1")  # rotated: a new, empty file under the name
            Path(path).write_bytes(b"")
            try:
                yield opened
            finally:
                os.replace(f"{path}.1", path)

    monkeypatch.setattr(forked, "shared", rotated_once_open)
    monkeypatch.setattr(summary_jobs, "shared", rotated_once_open)
    for command, args in commands:
        result = CliRunner().invoke(cli, [command, "-j2", *args, str(damaged)], env=ENV)
        assert result.output == expected[command]


def test_show_and_timeline_search_a_large_file_in_parts_as_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flow whose subflow is learned while its parts are searched (another pass reads it), a task, a
    task outside any flow, one started and never ended: ``show`` and ``timeline`` as one pass draws them."""
    filler_path = tmp_path / "filler.jsonl"
    _benchmark_trace(filler_path, 6000)
    filler = filler_path.read_bytes().splitlines(keepends=True)
    story = tracegen.scenario().lines()
    half = len(story) // 2
    path = tmp_path / "trace.jsonl"
    path.write_bytes(
        b"".join([*filler[:2000], *story[:half], *filler[2000:4000], *story[half:], *filler[4000:]])
    )
    ids = [tracegen.CRAWL, tracegen.PARSE, tracegen.STORE, tracegen.EMAIL, tracegen.PING, tracegen.RENDER]

    def drawn() -> list[str]:
        out = []
        for ident in ids:
            out.append(run("show", "-t", "-v", ident, path).output)
            page = tmp_path / f"{ident}.html"
            run("timeline", "-o", page, ident, path)
            out.append(page.read_text(encoding="utf-8"))
        return out

    monkeypatch.setattr(parts, "PART_BYTES", path.stat().st_size * 2)  # one part: one pass here
    one_pass = drawn()
    monkeypatch.setattr(parts, "PART_BYTES", path.stat().st_size // 8)
    calls = []
    real = forked.in_parts
    monkeypatch.setattr(forked, "in_parts", lambda *args: calls.append(args) or real(*args))
    assert drawn() == one_pass
    assert len(calls) >= 2 * len(ids)  # every show and timeline searched in parts


_KILLED_PARENT = """
import sys, time
from selinon_celery_trace.cli import main
from selinon_celery_trace.cli.commands import summary_jobs
from selinon_celery_trace.cli.reading import parts
parts.PART_BYTES = {part}
summary_jobs.put_together = lambda total, part: time.sleep(60)  # the command stuck on its first part
main(["summary", "-j2", {path!r}])  # {marker}
"""


def test_children_end_when_the_command_is_killed(tmp_path: Path) -> None:
    """SIGTERM to the command alone (not its process group): its children end too, nothing is left."""
    path = tmp_path / "trace.jsonl"
    _benchmark_trace(path, 20000)
    marker = f"parts-{os.getpid()}-{time.monotonic_ns()}"
    code = _KILLED_PARENT.format(part=path.stat().st_size // 16, path=str(path), marker=marker)
    command = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT)

    def running() -> list[int]:
        """The processes whose command line holds the marker (read from /proc: no pgrep needed)."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # ended meanwhile
                continue
        return found

    deadline = time.monotonic() + 30
    while len(running()) < 3 and time.monotonic() < deadline:  # the command and its two children
        time.sleep(0.05)
    assert len(running()) == 3
    command.terminate()
    command.wait(timeout=10)
    deadline = time.monotonic() + 10
    while running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running() == []


def test_a_parts_ids_cross_processes_whole() -> None:
    """A part's result is pickled with its ids packed in one text: any ids come back as they were,
    a newline or an empty id included."""
    import pickle

    from selinon_celery_trace.cli.model.summary_parts import PartResult

    for ids in [
        frozenset(),
        frozenset({"a"}),
        frozenset({"a", "b\nc"}),
        frozenset({""}),
        frozenset({"", "x"}),
    ]:
        result = PartResult(Summary(), [], ids, frozenset({"f-1", "f-2"}), Malformed())
        back = pickle.loads(pickle.dumps(result, pickle.HIGHEST_PROTOCOL))
        assert (back.tasks, back.flows) == (ids, frozenset({"f-1", "f-2"}))
