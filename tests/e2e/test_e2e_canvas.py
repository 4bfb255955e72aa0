"""End to end: Celery canvas (chain, group, chord, link, link_error) on a real prefork worker, both brokers.

Each test runs one canvas shape (and a failing variant) on the module's worker (results in Redis, so
chords are Redis-backend chords on either broker), checks every task's exact event sequence and its
canvas keys, then runs ``selinon-trace show`` on the trace file the worker wrote, as a user would.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from celery import chain, chord, group
from click.testing import CliRunner

from selinon_celery_trace.cli import cli
from tests.cli.parts_check import assert_parts_exact
from tests.e2e.support import Publisher, by_attempt, names

pytestmark = pytest.mark.e2e

SETTLE = 1.0  # after the last expected event: time for an event that must not come to show up
CANVAS = ("root_id", "group_id", "group_index", "chord_id", "callback_of", "errback_of")
PLAN = ("chain", "link", "link_error", "chord_body")
OK = ["TASK_SCHEDULE", "TASK_START", "TASK_END"]
FAILED = ["TASK_SCHEDULE", "TASK_START", "TASK_FAILURE"]


def facts(**given: Any) -> dict[str, Any]:
    """The canvas keys an event must carry: those given, the others null."""
    return {key: given.get(key) for key in CANVAS}


def check_facts(events: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    """Every event of the task carries exactly these canvas facts (TASK_SCHEDULE its plan too)."""
    for event in events:
        details = event["details"]
        assert {key: details[key] for key in CANVAS} == expected, event
        assert all(key in details for key in PLAN) == (event["event"] == "TASK_SCHEDULE"), event


def step(name: str, task_id: str | None) -> dict[str, Any]:
    """A planned task as TASK_SCHEDULE lists it."""
    return {"task_name": name, "task_id": task_id}


def show(e2e: Publisher, ident: str) -> str:
    """``selinon-trace show IDENT`` on the worker's trace file, as plain text."""
    result = CliRunner().invoke(
        cli, ["show", ident, str(e2e.trace.path)], env={"COLUMNS": "220", "NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def lines_with(output: str, *parts: str) -> list[str]:
    """The lines of ``output`` that contain every one of ``parts``."""
    return [line for line in output.splitlines() if all(part in line for part in parts)]


def test_chain_of_three_and_a_chain_that_fails(e2e: Publisher) -> None:
    """A chain's steps share its root and list the steps planned; after a failed step none is scheduled."""
    sig = e2e.app.signature
    done = chain(
        sig("e2e.add", args=[1, 2]), sig("e2e.add", args=[10]), sig("e2e.add", args=[100])
    ).apply_async()
    assert done.get(timeout=30) == 113
    third, second, first = done.id, done.parent.id, done.parent.parent.id
    broken = chain(sig("e2e.add", args=[1, 2]), sig("e2e.boom"), sig("e2e.add", args=[100])).apply_async()
    never, failing, before = broken.id, broken.parent.id, broken.parent.parent.id
    events = e2e.trace.wait(
        {first: OK, second: OK, third: OK, before: OK, failing: ["TASK_FAILURE"]}, settle=SETTLE
    )

    for task_id in (first, second, third, before):
        assert names(events[task_id]) == OK
    assert names(events[failing]) == FAILED
    assert e2e.trace.group([never])[never] == [], "a step after a failed one is never scheduled"
    for task_id, parent in ((first, None), (second, first), (third, second)):
        check_facts(events[task_id], facts(root_id=first))
        assert {e["details"]["parent"] for e in events[task_id]} == {parent}
    assert events[first][0]["details"]["chain"] == [step("e2e.add", second), step("e2e.add", third)]
    assert events[second][0]["details"]["chain"] == [step("e2e.add", third)]
    assert events[third][0]["details"]["chain"] == []
    assert events[failing][0]["details"]["chain"] == [step("e2e.add", never)]

    tree = show(e2e, second[:8])
    assert f"[root {first}]" in tree and "finished in" in tree
    for number, task_id in enumerate((first, second, third), 1):
        assert lines_with(tree, f"step {number} ✔ e2e.add [{task_id[:8]}] ok in", e2e.worker.node_name)
    tree = show(e2e, before)
    assert lines_with(tree, "canvas chain(add → boom → add)", "failed after", f"e2e.boom [{failing[:8]}]")
    assert lines_with(tree, f"step 2 ✖ e2e.boom [{failing[:8]}] failed after")
    assert lines_with(tree, f"step 3 ⊘ e2e.add [{never[:8]}] never scheduled: step e2e.boom failed")


def test_group_of_four_and_a_group_with_a_failing_member(e2e: Publisher) -> None:
    """Group members name their group and index, each its own root; the tree puts them side by side."""
    sig = e2e.app.signature
    grouped = group(sig("e2e.add", args=[i, i]) for i in range(4)).apply_async()
    assert grouped.get(timeout=30) == [0, 2, 4, 6]
    members = [result.id for result in grouped.results]
    mixed = group(
        sig("e2e.add", args=[1, 1]), sig("e2e.boom", args=["member 1"]), sig("e2e.add", args=[3, 3])
    ).apply_async()
    mixed_ids = [result.id for result in mixed.results]
    events = e2e.trace.wait({task_id: ["TASK_END"] for task_id in members} | {mixed_ids[1]: ["TASK_FAILURE"]})

    for index, task_id in enumerate(members):
        assert names(events[task_id]) == OK
        check_facts(events[task_id], facts(root_id=task_id, group_id=grouped.id, group_index=index))
        assert {e["details"]["parent"] for e in events[task_id]} == {None}
    tree = show(e2e, grouped.id)
    assert lines_with(tree, f"group [{grouped.id[:8]}] 4 members side by side: 4 ok")
    for index, task_id in enumerate(members):
        assert lines_with(tree, f"[{index}] ✔ e2e.add [{task_id[:8]}] ok in")
    assert show(e2e, members[2][:8]) == tree, "any member's id shows the whole group"

    events = e2e.trace.wait({mixed_ids[0]: OK, mixed_ids[1]: FAILED, mixed_ids[2]: OK})
    assert names(events[mixed_ids[1]]) == FAILED
    tree = show(e2e, mixed_ids[0])
    assert lines_with(tree, f"group [{mixed.id[:8]}] 3 members side by side: 2 ok, 1 failed")
    assert lines_with(tree, f"[1] ✖ e2e.boom [{mixed_ids[1][:8]}] failed after")
    assert "ValueError: member 1" in tree


def errback_ends(e2e: Publisher, linked_to: str) -> list[dict[str, Any]]:
    """The TASK_END events of the errbacks (published as tasks) of ``linked_to`` so far."""
    return [
        r
        for r in e2e.trace.records()
        if r["event"] == "TASK_END" and r["details"].get("errback_of") == linked_to
    ]


def test_chord_of_three_and_one_and_a_chord_whose_member_fails(e2e: Publisher) -> None:
    """Header members name the chord's body; the body runs after them, or never when a member failed."""
    sig = e2e.app.signature
    joined = chord([sig("e2e.add", args=[i, i]) for i in (1, 2, 3)], sig("e2e.total")).apply_async()
    assert joined.get(timeout=30) == 12
    header, body = [result.id for result in joined.parent.results], joined.id
    events = e2e.trace.wait({task_id: OK for task_id in [*header, body]})
    for index, task_id in enumerate(header):
        assert names(events[task_id]) == OK
        check_facts(
            events[task_id],
            facts(root_id=task_id, group_id=joined.parent.id, group_index=index, chord_id=body),
        )
        assert events[task_id][0]["details"]["chord_body"] == step("e2e.total", body)
    assert names(events[body]) == OK
    last = events[body][0]["details"]["parent"]
    assert last in header, "the header member that completed the chord published its body"
    # Celery 5.5+ gives the body its header's group id; older versions none.
    group_id = events[body][0]["details"]["group_id"]
    assert group_id in (joined.parent.id, None)
    check_facts(events[body], facts(root_id=last, group_id=group_id, chord_id=body))

    tree = show(e2e, body)
    assert lines_with(tree, f"chord header [{joined.parent.id[:8]}] 3 members side by side: 3 ok")
    assert lines_with(tree, f"chord body ✔ e2e.total [{body[:8]}] ok in")
    assert tree.index("chord header") < tree.index("chord body")

    # The body's errbacks are what a chord error fires (Celery's way to handle a failed chord).
    body_errbacks = [sig("e2e.on_error"), sig("e2e.on_error_inline")]
    failing = chord(
        [sig("e2e.add", args=[1, 1]), sig("e2e.boom", args=["no sum"]), sig("e2e.add", args=[3, 3])],
        sig("e2e.total", link_error=body_errbacks),
    ).apply_async()
    failed_header = [result.id for result in failing.parent.results]
    events = e2e.trace.wait(
        {failed_header[0]: OK, failed_header[1]: ["TASK_FAILURE"], failed_header[2]: OK}, settle=SETTLE
    )
    assert e2e.trace.group([failing.id])[failing.id] == [], "the body of a failed chord never runs"
    assert events[failed_header[0]][0]["details"]["chord_body"] == {
        **step("e2e.total", failing.id),
        "link_error": [step("e2e.on_error", None), step("e2e.on_error_inline", None)],
    }
    deadline = time.monotonic() + 30
    while not errback_ends(e2e, failing.id) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(SETTLE)  # a second run of the errback would be there by now
    fired = errback_ends(e2e, failing.id)
    assert [r["details"]["task_name"] for r in fired] == ["e2e.on_error"], "the published errback ran once"
    tree = show(e2e, failed_header[2])
    assert lines_with(tree, "chord header", "3 members side by side: 2 ok, 1 failed")
    assert lines_with(
        tree,
        f"⊘ chord body e2e.total [{failing.id[:8]}] never ran:",
        f"header member e2e.boom [{failed_header[1][:8]}] failed (chord error)",
    )
    body_line = lines_with(tree, "⊘ chord body")[0]
    published = lines_with(tree, f"↳ link_error ✔ e2e.on_error [{fired[0]['details']['task_id'][:8]}] ok in")
    inline = lines_with(tree, "↳ link_error e2e.on_error_inline fired by the chord error", "untraced")
    assert published and inline, tree
    lines = tree.splitlines()
    assert lines.index(body_line) < lines.index(published[0]) and lines.index(body_line) < lines.index(
        inline[0]
    )


def test_chain_inside_a_chord_and_one_that_fails(e2e: Publisher) -> None:
    """A chain as a chord's header member is one lane of the header: its steps in order, then the body."""
    sig = e2e.app.signature
    joined = chord(
        [chain(sig("e2e.add", args=[1, 1]), sig("e2e.add", args=[1])), sig("e2e.add", args=[2, 2])],
        sig("e2e.total"),
    ).apply_async()
    assert joined.get(timeout=30) == 7
    chained_last, other = (result.id for result in joined.parent.results)
    chained_first = joined.parent.results[0].parent.id
    events = e2e.trace.wait({task_id: OK for task_id in (chained_first, chained_last, other, joined.id)})
    for task_id in (chained_first, chained_last, other, joined.id):
        assert names(events[task_id]) == OK
    # The chain's first step is not in the group yet: its next step is.
    check_facts(events[chained_first], facts(root_id=chained_first))
    check_facts(
        events[chained_last],
        facts(root_id=chained_first, group_id=joined.parent.id, group_index=0, chord_id=joined.id),
    )
    tree = show(e2e, joined.id)
    assert lines_with(tree, "[0] ✔ chain of 2")
    assert lines_with(tree, f"step 1 ✔ e2e.add [{chained_first[:8]}]")
    assert lines_with(tree, f"step 2 ✔ e2e.add [{chained_last[:8]}]")
    assert lines_with(tree, f"[1] ✔ e2e.add [{other[:8]}]")
    assert lines_with(tree, f"chord body ✔ e2e.total [{joined.id[:8]}]")

    broken = chord(
        [chain(sig("e2e.add", args=[1, 1]), sig("e2e.boom")), sig("e2e.add", args=[2, 2])], sig("e2e.total")
    ).apply_async()
    boom_id = broken.parent.results[0].id
    events = e2e.trace.wait({boom_id: ["TASK_FAILURE"], broken.parent.results[1].id: OK}, settle=SETTLE)
    assert names(events[boom_id]) == FAILED
    tree = show(e2e, broken.parent.id)
    assert lines_with(tree, "[0] ✖ chain of 2")
    assert lines_with(tree, f"step 2 ✖ e2e.boom [{boom_id[:8]}] failed after")
    assert lines_with(tree, f"⊘ chord body e2e.total [{broken.id[:8]}] never ran")


def test_link_and_link_error(e2e: Publisher) -> None:
    """A callback names the task it follows, a published errback too; an inline errback shows as untraced."""
    sig = e2e.app.signature
    linked = e2e.app.send_task("e2e.add", args=[1, 2], link=sig("e2e.add", args=[10]))
    assert linked.get(timeout=30) == 3
    failing = e2e.app.send_task(
        "e2e.boom", args=["linked"], link_error=[sig("e2e.on_error"), sig("e2e.on_error_inline")]
    )
    events = e2e.trace.wait({linked.id: OK, failing.id: ["TASK_FAILURE"]}, settle=SETTLE)
    callbacks = [r for r in e2e.trace.records() if r["details"].get("callback_of") == linked.id]
    errbacks = [r for r in e2e.trace.records() if r["details"].get("errback_of") == failing.id]
    callback_id = callbacks[0]["details"]["task_id"]
    errback_id = errbacks[0]["details"]["task_id"]
    events = e2e.trace.wait({linked.id: OK, failing.id: FAILED, callback_id: OK, errback_id: OK})

    assert names(events[linked.id]) == OK and names(events[callback_id]) == OK
    assert events[linked.id][0]["details"]["link"] == [step("e2e.add", None)]
    check_facts(events[linked.id], facts(root_id=linked.id))
    check_facts(events[callback_id], facts(root_id=linked.id, callback_of=linked.id))
    assert {e["details"]["parent"] for e in events[callback_id]} == {linked.id}

    assert names(events[failing.id]) == FAILED
    assert events[failing.id][0]["details"]["link_error"] == [
        step("e2e.on_error", None),
        step("e2e.on_error_inline", None),
    ]
    assert names(events[errback_id]) == OK
    assert {e["details"]["task_name"] for e in errbacks} == {"e2e.on_error"}, (
        "the inline errback has no events"
    )
    assert events[errback_id][1]["details"]["node_args"] == {"args": [failing.id], "kwargs": {}}
    # Celery publishes errbacks as a group of their own.
    assert events[errback_id][0]["details"]["errback_of"] == failing.id

    tree = show(e2e, linked.id)
    assert lines_with(tree, f"↳ link ✔ e2e.add [{callback_id[:8]}] ok in")
    tree = show(e2e, errback_id)
    assert lines_with(tree, f"✖ e2e.boom [{failing.id[:8]}] failed after")
    assert lines_with(tree, f"↳ link_error ✔ e2e.on_error [{errback_id[:8]}] ok in")
    assert lines_with(tree, "↳ link_error e2e.on_error_inline fired, in the failed task's worker", "untraced")


def test_a_retried_chord_member(e2e: Publisher) -> None:
    """A member's retry keeps its canvas facts; the body runs once the retried member succeeded."""
    sig = e2e.app.signature
    joined = chord(
        [sig("e2e.retry_once", args=[5]), sig("e2e.add", args=[1, 1])], sig("e2e.total")
    ).apply_async()
    assert joined.get(timeout=30) == 7
    retried, plain = (result.id for result in joined.parent.results)
    events = e2e.trace.wait({retried: ["TASK_RETRY", "TASK_END"], plain: OK, joined.id: OK})
    assert names(events[retried]).count("TASK_SCHEDULE") == 1
    assert by_attempt(events[retried]) == {0: ["TASK_START", "TASK_RETRY"], 1: ["TASK_START", "TASK_END"]}
    check_facts(
        events[retried], facts(root_id=retried, group_id=joined.parent.id, group_index=0, chord_id=joined.id)
    )
    tree = show(e2e, joined.id)
    assert lines_with(tree, f"[0] ✔ e2e.retry_once [{retried[:8]}] succeeded after 2 attempts (1 retry)")
    assert lines_with(tree, "↻ attempt 1 retried after")
    assert lines_with(tree, f"chord body ✔ e2e.total [{joined.id[:8]}] ok in")


def test_a_chord_started_in_a_flow_belongs_to_the_flow(e2e: Publisher) -> None:
    """A chord a flow's node starts keeps the flow's context, and the flow's tree shows it under that node."""
    flow = e2e.app.send_task("e2e.canvas_flow", args=[2])
    deadline = time.monotonic() + 45
    while not any(
        r["event"] == "FLOW_END" and r["details"]["dispatcher_id"] == flow.id for r in e2e.trace.records()
    ):
        assert time.monotonic() < deadline, "the flow did not end"
        time.sleep(0.1)
    fan = next(
        r["details"]["task_id"]
        for r in e2e.trace.records()
        if r["event"] == "TASK_START"
        and r["details"].get("node_name") == "fan"
        and r["details"]["dispatcher_id"] == flow.id
    )
    body = e2e.app.AsyncResult(fan).get(timeout=30)
    assert e2e.app.AsyncResult(body).get(timeout=30) == 2
    members = sorted(
        {r["details"]["task_id"] for r in e2e.trace.records() if r["details"].get("chord_id") == body}
        - {body}
    )
    events = e2e.trace.wait({task_id: OK for task_id in [*members, body]})
    assert len(members) == 2
    for task_id in [*members, body]:
        assert names(events[task_id]) == OK
        for event in events[task_id]:
            details = event["details"]
            assert (details["dispatcher_id"], details["flow_name"]) == (flow.id, "e2e.canvas_flow"), event
            assert details["chord_id"] == body
    assert {e["details"]["parent"] for m in members for e in events[m]} == {fan}

    tree = show(e2e, flow.id)
    assert tree == show(e2e, members[0]), "a member's id shows the flow it runs in"
    lines = tree.splitlines()
    fan_line = next(i for i, line in enumerate(lines) if f"e2e.fan_out [{fan[:8]}]" in line)
    header_line = next(i for i, line in enumerate(lines) if "chord header" in line)
    body_line = next(i for i, line in enumerate(lines) if f"chord body ✔ e2e.total [{body[:8]}]" in line)
    assert fan_line < header_line < body_line
    indent = len(lines[fan_line]) - len(lines[fan_line].lstrip("│├└─ "))
    assert len(lines[header_line]) - len(lines[header_line].lstrip("│├└─ ")) > indent, "under the node"


def test_chunks_and_map_are_named_with_the_task_they_run(e2e: Publisher) -> None:
    """Chunks (a group of ``celery.starmap`` tasks) and a ``celery.map`` are named with their task."""
    add = e2e.app.tasks["e2e.add"]
    chunked = add.chunks([(i, i) for i in range(5)], 2).apply_async()
    assert chunked.get(timeout=30) == [[0, 2], [4, 6], [8]]
    members = [result.id for result in chunked.results]
    mapped = e2e.app.tasks["e2e.total"].map([[1, 2], [3]]).apply_async()
    assert mapped.get(timeout=30) == [3, 3]
    events = e2e.trace.wait({task_id: OK for task_id in [*members, mapped.id]})
    for index, task_id in enumerate(members):
        assert names(events[task_id]) == OK
        assert {e["details"]["task_name"] for e in events[task_id]} == {"celery.starmap"}
        check_facts(events[task_id], facts(root_id=task_id, group_id=chunked.id, group_index=index))

    tree = show(e2e, chunked.id)
    assert lines_with(tree, f"canvas group(3 × starmap(add)) [root {members[0]}] finished in")
    assert lines_with(tree, f"group [{chunked.id[:8]}] 3 members side by side: 3 ok")
    for index, task_id in enumerate(members):
        assert lines_with(tree, f"[{index}] ✔ celery.starmap(e2e.add) [{task_id[:8]}] ok in")
    assert lines_with(show(e2e, mapped.id), f"task celery.map(e2e.total) [{mapped.id}] succeeded")
    summary = (
        CliRunner()
        .invoke(cli, ["summary", str(e2e.trace.path)], env={"COLUMNS": "220", "NO_COLOR": "1"})
        .stdout
    )
    row = lines_with(summary, "celery.starmap(e2e.add) ")
    assert row and row[0].split()[1:3] == ["3", "3"], summary  # 3 runs, 3 ok
    # The module's whole trace (every canvas above), cut anywhere and folded in parts as --jobs does:
    exact, tried = assert_parts_exact(e2e.trace.path)
    assert exact == tried >= 10  # no id begins twice in a real run: no cut fell back to one pass
