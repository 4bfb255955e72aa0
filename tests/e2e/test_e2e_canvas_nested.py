"""End to end: nested canvases, ``Task.replace`` and what the CLI makes of them, on a real prefork worker.

Each shape runs on the module's worker (both brokers; results in Redis) as Celery runs it: a chain inside
a chord's header with a chord inside the chain, groups inside groups (which Celery flattens), a task that
replaces itself. The events are checked where Celery's messages fall short (the facts written at
publish), then ``selinon-trace`` is run on the worker's trace file as a user would: ``show`` with any id
of the workflow, ``summary`` by shape, ``timeline`` in headless Chromium.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import celery
import pytest
from celery import chain, chord, group
from celery.exceptions import TimeoutError as ResultTimeout
from click.testing import CliRunner

from selinon_celery_trace.cli import cli
from tests.cli.parts_check import assert_parts_exact
from tests.cli.test_cli_timeline_browser import chromium  # noqa: F401
from tests.cli.timeline_dom import assert_inside_frame, draw, screenshot
from tests.e2e.support import Publisher, by_attempt, names
from tests.e2e.test_e2e_canvas import FAILED, OK, SETTLE, lines_with, show

pytestmark = pytest.mark.e2e

# Before 5.7, Celery runs ``chain(a, chord(h, d), e)`` as ``chain(a, chord(h, chain(d, e)))``, and gives a
# group in a chain in a group the outer group's id.
OLD_CANVAS = celery.VERSION < (5, 7)


def add(e2e: Publisher, *args: int) -> Any:
    """``e2e.add``: immutable with two arguments (a chord header member), else taking the result."""
    return e2e.app.signature("e2e.add", args=list(args), immutable=len(args) == 2)


def run(e2e: Publisher, *args: str) -> Any:
    """``selinon-trace ARGS... TRACE`` in-process, wide and plain."""
    return CliRunner().invoke(
        cli, [*args, str(e2e.trace.path)], env={"COLUMNS": "250", "NO_COLOR": "1"}, catch_exceptions=False
    )


def indent(line: str) -> int:
    return len(line) - len(line.lstrip("│├└─ "))


def test_a_chain_with_a_chord_inside_a_chord_header(e2e: Publisher) -> None:
    """``chord([chain(a, chord([b, c], d), e), f], g)``: the header's first member is one lane, the
    chain, with the inner chord as its second step and e as its third; f the second member; g last."""
    total = e2e.app.signature("e2e.total")
    done = chord(
        [chain(add(e2e, 1, 1), chord([add(e2e, 2, 2), add(e2e, 3, 3)], total), add(e2e, 1)), add(e2e, 4, 4)],
        total,
    ).apply_async()
    assert done.get(timeout=30) == 19
    e_step, f_member = (r.id for r in done.parent.results)
    d_body = done.parent.results[0].parent.id
    a_first = done.parent.results[0].parent.parent.parent.id
    events = e2e.trace.wait({task_id: OK for task_id in (a_first, d_body, e_step, f_member, done.id)})
    # a's plan names e as a member frozen in the outer header: what ties a to the outer chord.
    plan = events[a_first][0]["details"]["chain"]
    if OLD_CANVAS:  # the inner chord's body is a chain of d and e (no id of its own): its steps are listed
        ((body_chain, d_planned, e_planned),) = [
            (s["chord_body"], *s["chord_body"]["chain"]) for s in plan if s["task_name"] == "celery.chord"
        ]
        assert body_chain["task_name"] == "celery.chain" and d_planned["task_id"] == d_body
    else:
        (e_planned,) = [step for step in plan if step["task_id"] == e_step]
    assert e_planned == {
        "task_name": "e2e.add",
        "task_id": e_step,
        "group_id": done.parent.id,
        "group_index": 0,
        "chord_id": done.id,
    }
    tree = show(e2e, done.id)
    assert lines_with(tree, "canvas chord([chain(add → chord([2 × add] → total) → add), add] → total)")
    assert lines_with(tree, f"chord header [{done.parent.id[:8]}] 2 members side by side: 2 ok")
    assert lines_with(tree, "[0] ✔ chain of 3")
    assert lines_with(tree, f"step 1 ✔ e2e.add [{a_first[:8]}]")
    inner = lines_with(tree, "step 2 ✔ chord header", "2 members side by side: 2 ok")
    assert lines_with(tree, f"chord body ✔ e2e.total [{d_body[:8]}]")
    assert lines_with(tree, f"step 3 ✔ e2e.add [{e_step[:8]}]")
    assert lines_with(tree, f"[1] ✔ e2e.add [{f_member[:8]}]")
    outer_body = lines_with(tree, f"chord body ✔ e2e.total [{done.id[:8]}]")
    assert inner and outer_body and indent(outer_body[0]) < indent(inner[0])
    assert "not in these files" not in tree
    for ident in (a_first, d_body, e_step, f_member, done.parent.id):
        assert show(e2e, ident) == tree, f"{ident} shows the same workflow"


def test_a_chord_body_that_is_another_chords_member_and_a_nested_chord_that_fails(e2e: Publisher) -> None:
    """The inner chord's body is the outer header's member (never dropped from the header); when the
    inner chord fails, its body, the step after it and the outer body are named as never run."""
    total = e2e.app.signature("e2e.total")
    ok = chord(
        [chain(add(e2e, 1, 1), chord([add(e2e, 2, 2), add(e2e, 3, 3)], total)), add(e2e, 4, 4)], total
    ).apply_async()
    assert ok.get(timeout=30) == 18
    d_body = ok.parent.results[0].id
    e2e.trace.wait({task_id: OK for task_id in (d_body, ok.parent.results[1].id, ok.id)})
    tree = show(e2e, ok.id)
    assert lines_with(tree, "canvas chord([chain(add → chord([2 × add] → total)), add] → total)")
    assert lines_with(tree, f"chord header [{ok.parent.id[:8]}] 2 members side by side: 2 ok")
    assert lines_with(tree, "[0] ✔ chain of 2") and lines_with(tree, f"chord body ✔ e2e.total [{d_body[:8]}]")

    boom = e2e.app.signature("e2e.boom", args=["inner"], immutable=True)
    failing = chord(
        [chain(add(e2e, 1, 1), chord([add(e2e, 2, 2), boom], total), add(e2e, 1)), add(e2e, 4, 4)], total
    ).apply_async()
    if OLD_CANVAS:  # Celery's chord error fails on the body chain (no id): the outer chord never resolves
        with pytest.raises(ResultTimeout):
            failing.get(timeout=5)
        # Unsubscribe now, while Redis runs: else the result's __del__ retries against a stopped server.
        failing.backend.remove_pending_result(failing)
    else:
        with pytest.raises(Exception, match="inner"):
            failing.get(timeout=30)
    never_e = failing.parent.results[0].id
    boom_id = failing.parent.results[0].parent.parent.results[1].id
    events = e2e.trace.wait({boom_id: FAILED, failing.parent.results[1].id: OK}, settle=SETTLE)
    assert e2e.trace.group([never_e, failing.id]) == {never_e: [], failing.id: []}
    tree = show(e2e, failing.id)  # the id apply_async returned: a body that never ran
    assert lines_with(tree, "✖ canvas chord([chain(add → chord([add, boom] → total) → add), add] → total)")
    if OLD_CANVAS:  # Celery's chord error fails on the body chain (no id); 5.3 reports that as boom's error
        (failed,) = lines_with(tree, f"e2e.boom [{boom_id[:8]}] ValueError: ")
        assert "ValueError: inner" in failed or "ValueError: task_id must not be empty" in failed
        assert "ValueError: inner" in events[boom_id][-1]["details"]["what"]
    else:
        assert lines_with(tree, f"e2e.boom [{boom_id[:8]}] ValueError: inner")
    assert lines_with(tree, "[0] ✖ chain of 3")
    assert lines_with(
        tree, "⊘ chord body e2e.total", f"never ran: header member e2e.boom [{boom_id[:8]}] failed"
    )
    assert lines_with(tree, f"step 3 ⊘ e2e.add [{never_e[:8]}] never scheduled: the chord before it failed")
    assert lines_with(tree, f"⊘ chord body e2e.total [{failing.id[:8]}] never ran")
    assert show(e2e, never_e) == tree


def planned_body(e2e: Publisher, last_id: str) -> list[dict[str, Any]]:
    """The two header members whose chord body is a chain ending with ``last_id`` (their schedules)."""

    def wanted(record: dict[str, Any]) -> bool:
        plan = record["details"].get("chord_body") or {}
        steps = [step["task_id"] for step in plan.get("chain", ())]
        return record["event"] == "TASK_SCHEDULE" and steps[-1:] == [last_id]

    return [record["details"] for record in e2e.trace.matching(wanted, count=2)]


def test_a_chord_with_a_chain_body_is_the_chord_then_the_chains_steps(e2e: Publisher) -> None:
    """``chord([a, b], chain(c, d))``: the members plan the body chain's steps and name c (the task
    it starts with) as their body; drawn as the chord with body c, then d; when a member fails, both
    are named as never run."""
    body = chain(e2e.app.signature("e2e.total"), add(e2e, 10))
    ok = chord([add(e2e, 1, 1), add(e2e, 2, 2)], body).apply_async()
    assert ok.get(timeout=30) == 16
    members = planned_body(e2e, ok.id)
    (c_body,) = {m["chord_id"] for m in members}
    events = e2e.trace.wait({c_body: OK, ok.id: OK, **{m["task_id"]: OK for m in members}})
    assert events[c_body][0]["details"]["chain"] == [{"task_name": "e2e.add", "task_id": ok.id}]
    tree = show(e2e, ok.id)
    assert lines_with(tree, "✔ canvas chain(chord([2 × add] → total) → add)")
    assert lines_with(tree, f"chord body ✔ e2e.total [{c_body[:8]}]")
    assert lines_with(tree, f"step 2 ✔ e2e.add [{ok.id[:8]}]")
    assert all(show(e2e, m["task_id"]) == tree for m in members)

    boom = e2e.app.signature("e2e.boom", args=["member"], immutable=True)
    failing = chord([add(e2e, 1, 1), boom], body).apply_async()
    # Before 5.7 Celery's chord error fails on the body chain (no id) and stores that over boom's error.
    with pytest.raises(ValueError, match="member|task_id must not be empty" if OLD_CANVAS else "member"):
        failing.get(timeout=30)
    (failed,) = [m for m in planned_body(e2e, failing.id) if m["task_name"] == "e2e.boom"]
    e2e.trace.wait({failed["task_id"]: FAILED}, settle=SETTLE)
    tree = show(e2e, failing.id)
    assert lines_with(tree, "✖ canvas chain(chord([add, boom] → total) → add)")
    assert lines_with(
        tree,
        f"⊘ chord body e2e.total [{failed['chord_id'][:8]}] never ran: header member e2e.boom",
        failed["task_id"][:8],
    )
    assert lines_with(
        tree, f"step 2 ⊘ e2e.add [{failing.id[:8]}] never scheduled: the chord before it failed"
    )


def test_groups_in_groups(e2e: Publisher) -> None:
    """Celery runs a group inside a group as one group (its results flat); drawn so, with no index
    twice; a group planned inside a chain inside a group is drawn as that inner group."""
    flat = group(group(add(e2e, 1, 1), add(e2e, 2, 2)), add(e2e, 3, 3)).apply_async()
    assert flat.get(timeout=30) == [2, 4, 6]
    members = [r.id for r in flat.results]
    events = e2e.trace.wait({task_id: OK for task_id in members})
    # Celery's own facts: the outer group's id on all, the inner group's indexes: 0, 1, then 1 again.
    assert [events[m][0]["details"]["group_index"] for m in members] == [0, 1, 1]
    tree = show(e2e, flat.id)
    assert lines_with(tree, "canvas group(3 × add)")
    assert lines_with(tree, f"group [{flat.id[:8]}] 3 members side by side: 3 ok (nested groups")
    for position, member in enumerate(members):
        assert lines_with(tree, f"[{position}] ✔ e2e.add [{member[:8]}]")

    nested = group(chain(add(e2e, 1, 1), group(add(e2e, 2, 2), add(e2e, 3, 3))), add(e2e, 4, 4)).apply_async()
    assert nested.get(timeout=30) == [[4, 6], 8]
    inner = nested.results[0]
    events = e2e.trace.wait({r.id: OK for r in [*inner.results, nested.results[1]]})
    tree = show(e2e, nested.results[1].id)
    assert lines_with(tree, "canvas group(chain(add → group(2 × add)), add)")
    assert lines_with(tree, f"group [{nested.id[:8]}] 2 members side by side: 2 ok")
    assert lines_with(tree, "[0] ✔ chain of 2")
    assert lines_with(tree, f"step 2 ✔ group [{inner.id[:8]}] 2 members side by side: 2 ok")
    for position, member in enumerate(inner.results):
        assert lines_with(tree, f"[{position}] ✔ e2e.add [{member.id[:8]}]")
    assert "not in these files" not in tree and "[1] ✔ e2e.add" in tree


def test_task_replace_is_traced_as_a_replacement(e2e: Publisher) -> None:
    """The replacement's publish is a TASK_SCHEDULE naming the task it replaces; its attempt is told apart
    from the replaced one's in the events, in show and in summary."""
    replaced = e2e.app.send_task("e2e.replaced", args=[5, "task"])
    assert replaced.get(timeout=30) == 6
    failing = e2e.app.send_task("e2e.replaced", args=[5, "boom"])
    with pytest.raises(ValueError, match="replacement of 5"):
        failing.get(timeout=30)
    events = e2e.trace.wait(
        {replaced.id: [*OK, "TASK_SCHEDULE", "TASK_START", "TASK_END"], failing.id: ["TASK_FAILURE"]},
        settle=SETTLE,
    )
    mine = events[replaced.id]
    assert names(mine).count("TASK_SCHEDULE") == 2
    scheduled = [e["details"] for e in mine if e["event"] == "TASK_SCHEDULE"]
    assert [(d["task_name"], d.get("replaces"), d.get("replacement")) for d in scheduled] == [
        ("e2e.replaced", None, None),
        ("e2e.add", "e2e.replaced", 1),
    ]
    assert scheduled[1]["parent"] is None, "the replaced task's parent, not the task itself"
    runs = [e["details"] for e in mine if e["event"] != "TASK_SCHEDULE"]
    replacement = [(d["task_name"], d["retried_count"]) for d in runs if d.get("replacement") == 1]
    own = [(d["task_name"], d["retried_count"]) for d in runs if "replacement" not in d]
    assert replacement == [("e2e.add", 0), ("e2e.add", 0)] and own == [("e2e.replaced", 0)] * 2
    (ended,) = [
        e["details"] for e in mine if e["event"] == "TASK_END" and e["details"]["task_name"] == "e2e.replaced"
    ]
    assert (ended["state"], ended["replaced_by"]) == ("IGNORED", "e2e.add")

    tree = show(e2e, replaced.id)
    assert lines_with(tree, "succeeded · replaced by e2e.add (Task.replace)")
    assert lines_with(tree, "⇢ attempt 1 replaced by e2e.add after")
    assert lines_with(tree, "✔ replacement e2e.add attempt 1 ok in")
    assert tree.count("attempt 1") == 2 and "running or lost" not in tree
    tree = show(e2e, failing.id)
    assert lines_with(tree, "✖ replacement e2e.boom attempt 1 failed after")
    assert "ValueError: replacement of 5" in tree

    in_chain = chain(add(e2e, 1, 1), e2e.app.signature("e2e.replaced", args=["chain"]), add(e2e, 100))
    result = in_chain.apply_async()
    assert result.get(timeout=30) == 113
    middle = result.parent.id
    e2e.trace.wait({middle: ["TASK_END", "TASK_END"], result.id: OK})
    tree = show(e2e, result.id)
    assert lines_with(tree, "canvas chain(add → replaced → add)")
    assert lines_with(tree, f"step 2 ✔ e2e.replaced [{middle[:8]}] replaced by e2e.add ok in")

    out = run(e2e, "summary").stdout
    header = next(
        line for line in out.splitlines() if line.strip().startswith("task ") and "replaced" in line
    )
    row = next(line for line in out.splitlines() if line.strip().startswith("e2e.replaced "))
    position = header.index("replaced")
    assert row[position : position + len("replaced")].strip() == "3", out


def test_any_id_of_a_failed_chain_finds_it_and_shapes_group_the_summary(e2e: Publisher) -> None:
    """The id apply_async returns for a chain that failed early (its last step, never run) shows the chain;
    summary names workflows by shape, counts a failing and a succeeding run of one shape in one row,
    and lists a failure once, with its workflow."""
    ok = chain(add(e2e, 1, 1), add(e2e, 2), add(e2e, 3), add(e2e, 4)).apply_async()
    assert ok.get(timeout=30) == 11
    boom = e2e.app.signature("e2e.boom", args=["step three"], immutable=True)
    failed = chain(add(e2e, 1, 1), add(e2e, 2), boom, add(e2e, 4)).apply_async()
    with pytest.raises(ValueError, match="step three"):
        failed.get(timeout=30)
    boom_id = failed.parent.id
    e2e.trace.wait({ok.id: OK, boom_id: FAILED}, settle=SETTLE)
    assert e2e.trace.group([failed.id])[failed.id] == []
    shown = run(e2e, "show", failed.id[:8])
    assert shown.exit_code == 0, shown.output
    assert lines_with(shown.stdout, "✖ canvas chain(add → add → boom → add)", f"e2e.boom [{boom_id[:8]}]")
    assert lines_with(
        shown.stdout, f"step 4 ⊘ e2e.add [{failed.id[:8]}] never scheduled: step e2e.boom failed"
    )

    summary = run(e2e, "summary").stdout
    (row,) = [line for line in summary.splitlines() if "chain(add → add → add → add)" in line]
    assert row.split()[-6:-3] == ["1", "1", "·"]
    (row,) = [
        line for line in summary.splitlines() if line.strip().startswith("chain(add → add → boom → add)")
    ]
    assert row.split()[-6:-3] == ["1", "·", "1"]
    failures = [line for line in summary.splitlines() if "step three" in line]
    assert len(failures) == 1 and "canvas chain(add → add → boom → add)" in failures[0]
    assert boom_id[:8] in failures[0], "the failed step's id, for show"
    # Nested canvases and replacements so far in this module's trace, folded in parts as --jobs does:
    exact, tried = assert_parts_exact(e2e.trace.path)
    assert exact == tried >= 10  # no id begins twice in a real run: no cut fell back to one pass


def test_show_verbose_prints_arguments_and_results(e2e: Publisher) -> None:
    """``show -v``: each attempt's arguments as the trace has them, and its result or exception."""
    kept = e2e.app.send_task("e2e.discard", args=["report-7"])
    boom = e2e.app.send_task("e2e.boom", args=["disk full"])
    boom.get(timeout=30, propagate=False)
    e2e.trace.wait({kept.id: ["TASK_DISCARD_RESULT"], boom.id: FAILED})
    out = run(e2e, "show", "-v", kept.id).stdout
    assert lines_with(out, 'args ["report-7"] kwargs {}')
    assert lines_with(out, 'result {"kept": "report-7"}')
    out = run(e2e, "show", "-v", boom.id).stdout
    assert lines_with(out, 'args ["disk full"] kwargs {}')
    assert lines_with(out, "exception ValueError: disk full at proj.py:", "in boom")
    assert "args" not in run(e2e, "show", boom.id).stdout


def test_timelines_of_a_failed_chain_a_failed_chord_and_a_retried_task(
    e2e: Publisher,
    chromium: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """In headless Chromium: a bar per attempt; the steps and bodies that never ran greyed with why;
    every label inside the frame; one duration; a retry's error as that attempt's; no wake-ups row."""
    boom = e2e.app.signature("e2e.boom", args=["chain step"], immutable=True)
    failed_chain = chain(add(e2e, 1, 1), boom, add(e2e, 3), add(e2e, 4)).apply_async()
    failed_chord = chord(
        [add(e2e, 1, 1), e2e.app.signature("e2e.boom", args=["member"], immutable=True)],
        e2e.app.signature("e2e.total"),
    ).apply_async()
    retried = e2e.app.send_task("e2e.flaky", args=[1])
    assert retried.get(timeout=30) == "done after 1 retries"
    for result in (failed_chain, failed_chord):
        with pytest.raises(Exception, match=r"chain step|member"):
            result.get(timeout=30)
    chain_boom = failed_chain.parent.parent.id
    member_ids = [r.id for r in failed_chord.parent.results]
    e2e.trace.wait(
        {
            chain_boom: FAILED,
            member_ids[0]: OK,
            member_ids[1]: FAILED,
            retried.id: ["TASK_RETRY", "TASK_END"],
        },
        settle=SETTLE,
    )
    assert by_attempt(e2e.trace.group([retried.id])[retried.id]) == {
        0: ["TASK_START", "TASK_RETRY"],
        1: ["TASK_START", "TASK_END"],
    }
    pages = {"failed-chain": failed_chain.id, "failed-chord": failed_chord.id, "retried-task": retried.id}
    drawn = {}
    for name, ident in pages.items():
        page = tmp_path / f"{name}.html"
        result = run(e2e, "timeline", "-o", str(page), ident)
        assert result.exit_code == 0, result.output
        drawn[name] = draw(chromium, page, tmp_path / "profile")
        screenshot(chromium, page, tmp_path / "profile", tmp_path / f"{name}.png")
        assert drawn[name].root.get("data-rendered") == "true" and drawn[name].errors == []
        assert_inside_frame(drawn[name])
        assert "dispatcher wake-ups" not in drawn[name].facts
        assert drawn[name].legend["dispatcher run"] is False

    chain_page = drawn["failed-chain"]
    assert sorted((b["data-name"], b["data-outcome"]) for b in chain_page.bars) == [
        ("e2e.add", "success"),
        ("e2e.boom", "failure"),
    ]
    never = {(n["data-task-id"], n["data-why"]) for n in chain_page.never_ran}
    assert never == {
        (failed_chain.parent.id, "never scheduled: step e2e.boom failed"),
        (failed_chain.id, "never scheduled: step e2e.boom failed"),
    }
    assert "never ran 2" in chain_page.facts and chain_page.error_class == "error-line failure"
    assert chain_page.title.startswith("failedcanvas chain(add → boom → add → add)")

    chord_page = drawn["failed-chord"]
    assert sorted(b["data-outcome"] for b in chord_page.bars) == ["failure", "success"]
    ((body, why),) = [(n["data-task-id"], n["data-why"]) for n in chord_page.never_ran]
    assert body == failed_chord.id and why.startswith(
        f"never ran: header member e2e.boom [{member_ids[1][:8]}]"
    )

    task_page = drawn["retried-task"]
    assert sorted((b["data-attempt"], b["data-outcome"]) for b in task_page.bars) == [
        ("1", "retry"),
        ("2", "success"),
    ]
    assert task_page.never_ran == []
    # The one duration is the axis's (publish to the last end); the first attempt's run is apart.
    assert "duration" in task_page.facts and "first attempt ran" in task_page.facts
    assert task_page.error_line.startswith("attempt 1 retried: Retry") and "retry" in task_page.error_class
    assert "tasks " not in task_page.facts
