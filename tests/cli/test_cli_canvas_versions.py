"""Nested canvases as Celery before 5.7 runs them, and as 5.7 does: ``show`` and ``summary`` alike.

Each trace is written as the adapters write it on each version (the facts of the e2e suite's runs on
Celery 5.3.6 and 5.7.0), with the same ids and times, so the two drawings can be compared line by line.
Before 5.7, Celery runs ``chain(a, chord([b, c], d), e)`` as ``chain(a, chord([b, c], chain(d, e)))``:
the plan lists the body chain's steps, d names no group, and the header members name d as their body.
It also gives a group planned inside a chain inside a group the outer group's id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .test_cli_canvas import _canvas, _plan, _run, _task
from .tracegen import TraceBuilder

A, B, C, D, E, F, G = (f"{n}a000000-0000-4000-8000-000000000000" for n in range(1, 8))
INNER, OUTER = "1c000000-0000-4000-8000-000000000000", "2c000000-0000-4000-8000-000000000000"


def _entry(name: str, task_id: str | None, **more: Any) -> dict[str, Any]:
    return {"task_name": name, "task_id": task_id, **more}


def _chord_in_chord(tmp_path: Path, old: bool, fails: bool = False) -> Path:
    """``chord([chain(a, chord([b, c], d), e), f], g)``; ``c`` fails when ``fails`` (then only a, b, c,
    f ran)."""
    e_step = _entry("t.add", E, group_id=OUTER, group_index=0, chord_id=G)
    d_body = _entry("t.total", D)
    body = _entry("celery.chain", None, chain=[d_body, e_step]) if old else d_body
    header = [_entry("t.add", B), _entry("t.boom" if fails else "t.add", C)]
    chord_step = _entry("celery.chord", INNER, group=header, chord_body=body)
    b = TraceBuilder()
    plan = [chord_step] if old else [chord_step, e_step]
    _task(b, 0.0, "t.add", A, None, _canvas(A), _plan(chain=plan), "success")
    g_body = _plan(chord_body=_entry("t.total", G))
    _task(b, 0.0, "t.add", F, None, _canvas(F, group_id=OUTER, group_index=1, chord_id=G), g_body, "success")
    for index, (name, task_id) in enumerate((("t.add", B), ("t.boom" if fails else "t.add", C))):
        facts = _canvas(A, group_id=INNER, group_index=index, chord_id=D)
        outcome = "failure" if fails and index else "success"
        _task(b, 0.1 + index / 10, name, task_id, A, facts, _plan(chord_body=body), outcome)
    if not fails:
        facts = _canvas(A, chord_id=D) if old else _canvas(A, group_id=INNER, chord_id=D)
        _task(b, 0.4, "t.total", D, C, facts, _plan(chain=[e_step]), "success")
        facts = _canvas(A, group_id=OUTER, group_index=0, chord_id=G)
        _task(b, 0.5, "t.add", E, D, facts, g_body, "success")
        _task(b, 0.6, "t.total", G, E, _canvas(A, chord_id=G), _plan(), "success")
    path = tmp_path / f"chords-{'old' if old else 'new'}-{fails}.jsonl"
    path.write_bytes(b"".join(b.lines()))
    return path


def _group_in_chain_in_group(tmp_path: Path, old: bool) -> Path:
    """``group(chain(a, group(b, c)), d)``: before 5.7 the inner group has the outer group's id."""
    inner = OUTER if old else INNER
    members = [
        _entry("t.add", B, group_id=OUTER, group_index=0),
        _entry("t.add", C, group_id=OUTER, group_index=1),
    ]
    step = _entry("celery.group", inner, group_id=OUTER, group_index=0, group=members)
    b = TraceBuilder()
    _task(b, 0.0, "t.add", A, None, _canvas(A), _plan(chain=[step]), "success")
    _task(b, 0.0, "t.add", D, None, _canvas(D, group_id=OUTER, group_index=1), _plan(), "success")
    for index, task_id in enumerate((B, C)):  # before 5.7 both carry the inner group's index, 0
        facts = _canvas(A, group_id=OUTER, group_index=0 if old else index)
        _task(b, 0.1 + index / 10, "t.add", task_id, A, facts, _plan(), "success")
    path = tmp_path / f"groups-{'old' if old else 'new'}.jsonl"
    path.write_bytes(b"".join(b.lines()))
    return path


def _shapes(out: str) -> list[str]:
    section = out[out.index("Canvas workflows") :]
    return [line.split("  ")[0].strip() for line in section.splitlines() if line.strip().startswith("chord(")]


def test_a_chord_with_a_chain_body_is_drawn_as_the_chord_then_the_steps(tmp_path: Path) -> None:
    """The same tree from any id on either version: the inner chord, its body d, then e, in the lane."""
    old, new = _chord_in_chord(tmp_path, old=True), _chord_in_chord(tmp_path, old=False)
    tree = _run("show", G, new)
    assert "canvas chord([chain(add → chord([2 × add] → total) → add), add] → total)" in tree
    for ident in (A, B, C, D, E, F, G, INNER, OUTER):
        assert _run("show", ident, old) == tree, ident
    lines = tree.splitlines()
    order = [
        next(i for i, line in enumerate(lines) if part in line)
        for part in (
            "[0] ✔ chain of 3",
            "step 2 ✔ chord header [1c000000]",
            "chord body ✔ t.total [4a000000]",
        )
    ]
    assert order == sorted(order)
    assert "step 3 ✔ t.add [5a000000]" in lines[order[2] + 1]
    assert (
        _shapes(_run("summary", old))
        == _shapes(_run("summary", new))
        == ["chord([chain(add → chord([2 × add] → total) → add), add] → total)"]
    )


def test_a_failed_chord_with_a_chain_body_names_its_body_and_the_step_after_as_never_run(
    tmp_path: Path,
) -> None:
    """Before 5.7, nothing but the body chain's listed steps names d, e and g: they are found and drawn
    as never run, for the member that failed, as on 5.7."""
    old, new = _chord_in_chord(tmp_path, True, fails=True), _chord_in_chord(tmp_path, False, fails=True)
    tree = _run("show", G, old)
    assert tree == _run("show", G, new) == _run("show", E, old) == _run("show", A, old)
    assert "✖ canvas chord([chain(add → chord([add, boom] → total) → add), add] → total)" in tree
    assert "⊘ chord body t.total [4a000000] never ran: header member t.boom [3a000000] failed" in tree
    assert "step 3 ⊘ t.add [5a000000] never scheduled: the chord before it failed" in tree
    assert "⊘ chord body t.total [7a000000] never ran: header member t.boom [3a000000] failed" in tree


def test_a_group_with_its_outer_groups_id_is_drawn_as_its_own_group(tmp_path: Path) -> None:
    """Before 5.7 the inner group of ``group(chain(a, group(b, c)), d)`` has the outer group's id:
    still drawn as a step of its own, with that id, and the outer group has two members."""
    tree = _run("show", D, _group_in_chain_in_group(tmp_path, old=True))
    assert "canvas group(chain(add → group(2 × add)), add)" in tree
    assert "group [2c000000] 2 members side by side: 2 ok" in tree
    assert "step 2 ✔ group [2c000000] 2 members side by side: 2 ok" in tree
    for position, task_id in enumerate((B, C)):
        assert f"[{position}] ✔ t.add [{task_id[:8]}]" in tree
    assert "[1] ✔ t.add [4a000000]" in tree and tree.count("✔ t.add") == 4
    new = _run("show", D, _group_in_chain_in_group(tmp_path, old=False))
    assert new == tree.replace("step 2 ✔ group [2c000000]", "step 2 ✔ group [1c000000]")
