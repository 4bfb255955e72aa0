"""Canvas workflows in the CLI: the model (which tasks belong, how they are arranged) and its views.

The trace is written as the Celery adapters write a canvas's events (every canvas key on every event
of a canvas task, the plan on TASK_SCHEDULE): a chain whose second step fails, a chord with a retried
header member, and a group whose member's events come before the id that is asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from selinon_celery_trace.cli import cli
from selinon_celery_trace.cli.model.canvas import MissingNode, Structure, TaskNode
from selinon_celery_trace.cli.model.canvas_collect import collect_canvas
from selinon_celery_trace.cli.reading.files import merged
from selinon_celery_trace.cli.reading.lines import Malformed

from .test_cli_timeline_browser import _browser, _Page, chromium  # noqa: F401
from .tracegen import TraceBuilder

STEP_1, STEP_2, STEP_3 = (f"a{n}000000-0000-4000-8000-000000000000" for n in (1, 2, 3))
GROUP = "960c0000-0000-4000-8000-000000000000"
MEMBER_0, MEMBER_1, BODY = (f"b{n}000000-0000-4000-8000-000000000000" for n in (0, 1, 9))
PLAIN = "0a1a0000-0000-4000-8000-000000000000"
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def _canvas(root: str, **given: Any) -> dict[str, Any]:
    keys = ("group_id", "group_index", "chord_id", "callback_of", "errback_of")
    return {"root_id": root, **{key: given.get(key) for key in keys}}


def _plan(**given: Any) -> dict[str, Any]:
    return {key: given.get(key) for key in ("chain", "link", "link_error", "chord_body")}


def _task(
    builder: TraceBuilder,
    at: float,
    name: str,
    task_id: str,
    parent: str | None,
    facts: dict[str, Any],
    plan: dict[str, Any],
    outcome: str,
    pid: int = 11,
    attempts: int = 1,
) -> None:
    base = {
        "task_name": name,
        "task_id": task_id,
        "queue": "celery",
        "parent": parent,
        "dispatcher_id": None,
        "flow_name": None,
        "node_args": {"args": [], "kwargs": {}},
    }
    builder.add(at, "host-a", "TASK_SCHEDULE", **base, countdown=None, eta=None, **facts, **plan)
    for attempt in range(attempts):
        run = {**base, "retried_count": attempt, "hostname": "celery@host-a", "pid": pid, **facts}
        builder.add(at + 0.01 + attempt * 0.1, "host-a", "TASK_START", **run)
        if attempt < attempts - 1:
            builder.add(
                at + 0.05 + attempt * 0.1,
                "host-a",
                "TASK_RETRY",
                **run,
                runtime=0.04,
                what=None,
                reason="Retry in 0s",
                exc_type=None,
                retry_countdown=0,
                max_retry=3,
            )
        elif outcome == "failure":
            builder.add(
                at + 0.05 + attempt * 0.1,
                "host-a",
                "TASK_FAILURE",
                **run,
                what="Traceback (most recent call last):\nValueError: step two\n",
                exc_type="ValueError",
                max_retry=3,
            )
        else:
            builder.add(at + 0.05 + attempt * 0.1, "host-a", "TASK_END", **run, runtime=0.04)


def _write(tmp_path: Path) -> Path:
    b = TraceBuilder()
    step = {"task_name": "t.add", "task_id": STEP_3}
    _task(
        b,
        0.0,
        "t.add",
        STEP_1,
        None,
        _canvas(STEP_1),
        _plan(chain=[{"task_name": "t.boom", "task_id": STEP_2}, step]),
        "success",
    )
    _task(b, 0.1, "t.boom", STEP_2, STEP_1, _canvas(STEP_1), _plan(chain=[step]), "failure")
    body = {"task_name": "t.total", "task_id": BODY}
    _task(
        b,
        1.0,
        "t.add",
        MEMBER_0,
        None,
        _canvas(MEMBER_0, group_id=GROUP, group_index=0, chord_id=BODY),
        _plan(chord_body=body),
        "success",
    )
    _task(
        b,
        1.0,
        "t.flaky",
        MEMBER_1,
        None,
        _canvas(MEMBER_1, group_id=GROUP, group_index=1, chord_id=BODY),
        _plan(chord_body=body),
        "success",
        pid=12,
        attempts=2,
    )
    _task(
        b,
        1.3,
        "t.total",
        BODY,
        MEMBER_1,
        _canvas(MEMBER_1, group_id=GROUP, chord_id=BODY),
        _plan(),
        "success",
    )
    plain = {
        "task_name": "t.plain",
        "task_id": PLAIN,
        "queue": "celery",
        "parent": None,
        "dispatcher_id": None,
        "flow_name": None,
        "node_args": {"args": [], "kwargs": {}},
    }
    b.add(2.0, "host-a", "TASK_SCHEDULE", **plain, countdown=None, eta=None)
    b.add(2.1, "host-a", "TASK_START", **plain, retried_count=0, hostname="celery@host-a", pid=11)
    b.add(2.2, "host-a", "TASK_END", **plain, retried_count=0, hostname="celery@host-a", pid=11, runtime=0.1)
    path = tmp_path / "canvas.jsonl"
    path.write_bytes(b"".join(b.lines()))
    return path


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """The canvas trace file."""
    return _write(tmp_path)


def _run(*args: str | Path) -> str:
    result = CliRunner().invoke(cli, [str(arg) for arg in args], env=ENV, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_failed_chain_is_its_steps_in_order_then_the_step_that_never_ran(trace: Path) -> None:
    """The chain's steps come in order, and the step after the failed one is named as never scheduled."""
    found = collect_canvas(lambda needles: merged([str(trace)], Malformed(), needles), STEP_2[:8])
    assert found.run is not None and found.run.root_id == STEP_1 and set(found.run.tasks) == {STEP_1, STEP_2}
    assert found.run.outcome == "failure" and found.run.failed is found.run.tasks[STEP_2]
    nodes = Structure(found.run.tasks).top()
    assert [type(n) for n in nodes] == [TaskNode, TaskNode, MissingNode]
    assert [n.task.task_id for n in nodes if isinstance(n, TaskNode)] == [STEP_1, STEP_2]
    missing = nodes[2]
    assert isinstance(missing, MissingNode) and missing.failed
    assert (missing.planned.task_id, missing.why) == (STEP_3, "never scheduled: step t.boom failed")


def test_a_group_id_finds_every_member_even_those_written_before_it(trace: Path) -> None:
    """Asked for by its group id, the chord has both members and its body: the files are read again."""
    found = collect_canvas(lambda needles: merged([str(trace)], Malformed(), needles), GROUP)
    assert found.run is not None and set(found.run.tasks) == {MEMBER_0, MEMBER_1, BODY}
    assert found.run.outcome == "success"
    assert collect_canvas(lambda needles: merged([str(trace)], Malformed(), needles), PLAIN).run is None


def test_show_draws_the_chord_header_side_by_side_then_its_body(trace: Path) -> None:
    """``show`` of the body: the header's two members (one retried), then the body after them."""
    tree = _run("show", BODY[:8], trace)
    lines = tree.splitlines()
    assert "✔ canvas chord([add, flaky] → total) [root " in lines[0] and "3 tasks, 4 attempts" in lines[0]
    header = next(
        i for i, line in enumerate(lines) if "chord header [960c0000] 2 members side by side: 2 ok" in line
    )
    retried = next(
        i for i, line in enumerate(lines) if "[1] ✔ t.flaky [b1000000] succeeded after 2 attempts" in line
    )
    body = next(i for i, line in enumerate(lines) if "chord body ✔ t.total" in line)
    assert header < retried < body
    assert "waited" in lines[body], "the queue wait: from TASK_SCHEDULE to TASK_START"


def test_show_of_a_task_outside_a_canvas_is_the_task(trace: Path) -> None:
    """A task with no canvas keys is shown as one task, as before."""
    assert "task t.plain [" in _run("show", PLAIN, trace)


def test_summary_lists_canvas_workflows_by_shape_and_each_failure_once(trace: Path) -> None:
    """A row per shape (the chain and the chord both start with t.add: two rows), the failed chain
    counted as a failure, and its failure listed once, with the workflow and the step that failed."""
    out = _run("summary", trace)
    canvases = out[out.index("Canvas workflows") : out.index("Failures")]
    shapes = [
        line.strip().split("  ")[0]
        for line in canvases.splitlines()
        if line.strip().startswith(("chain(", "chord(", "group("))
    ]
    assert shapes == ["chain(add → boom → add)", "chord([add, flaky] → total)"]
    chain_row = next(line for line in canvases.splitlines() if "chain(add → boom → add)" in line)
    assert chain_row.split()[-6:-3] == ["1", "·", "1"]  # runs, ok, failed
    chord_row = next(line for line in canvases.splitlines() if "chord([add, flaky] → total)" in line)
    assert chord_row.split()[-6:-3] == ["1", "1", "·"]
    failures = [line for line in out[out.index("Failures") :].splitlines() if "step two" in line]
    assert len(failures) == 1, out
    assert (
        "canvas chain(add → boom → add)" in failures[0] and "at t.boom: ValueError: step two" in failures[0]
    )
    assert STEP_2[:8] in failures[0], "the failed step's id, to show"


def test_canvas_timeline_renders_one_bar_per_attempt(chromium: str, trace: Path, tmp_path: Path) -> None:  # noqa: F811
    """The chord's timeline draws in headless Chromium with no error, one bar per attempt."""
    page = tmp_path / "canvas.html"
    _run("timeline", "-o", page, MEMBER_0, trace)
    dumped = _browser(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    parsed = _Page()
    parsed.feed(dumped.stdout)
    assert parsed.root.get("data-rendered") == "true"
    assert json.loads(parsed.root.get("data-errors") or "null") == []
    drawn = sorted(
        (bar.get("data-task-id"), bar.get("data-attempt"), bar.get("data-outcome")) for bar in parsed.bars
    )
    assert drawn == sorted(
        [
            (MEMBER_0, "1", "success"),
            (MEMBER_1, "1", "retry"),
            (MEMBER_1, "2", "success"),
            (BODY, "1", "success"),
        ]
    )


def test_a_long_shape_is_shortened_readably(tmp_path: Path) -> None:
    """A chain of twelve steps keeps its first two and last step; the shape fits its column."""
    builder = TraceBuilder()
    ids = [f"c{n:07d}-0000-4000-8000-000000000000" for n in range(12)]
    steps = [{"task_name": f"shop.step_{n}", "task_id": ids[n]} for n in range(12)]
    for n in range(12):
        parent = ids[n - 1] if n else None
        facts, plan = _canvas(ids[0]), _plan(chain=steps[n + 1 :])
        _task(builder, n * 0.1, f"shop.step_{n}", ids[n], parent, facts, plan, "success")
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"".join(builder.lines()))
    found = collect_canvas(lambda needles: merged([str(path)], Malformed(), needles), ids[5])
    assert found.run is not None
    assert found.run.name == "chain(step_0 → step_1 → …9 more… → step_11)"
    out = _run("summary", path)
    assert "chain(step_0 → step_1 → …9 more… → step_11)" in out
