"""``summary`` folds lines decoded lean (msgspec) where that is enough: the result is the full parse's.

model/summary_lean.py folds the usual events from a few fields and hands anything else to the full
record's fold. These tests hold both to the same printed summary and the same skipped-line report: on
lines with every field in an unusual form (wrong types, missing, huge numbers, non-ASCII text, a
canvas task, beat's send, damaged lines), on event streams drawn by Hypothesis, whole and cut in parts,
and on the command run without msgspec installed.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selinon_celery_trace.cli import cli
from selinon_celery_trace.cli.model.summary import Summary
from selinon_celery_trace.cli.model.summary_lean import add_lean, fold_lines
from selinon_celery_trace.cli.reading import lean, parts
from selinon_celery_trace.cli.reading.files import batches, read
from selinon_celery_trace.cli.reading.lines import Malformed, timestamp
from selinon_celery_trace.cli.reading.scope import Scope

from .parts_check import in_parts, lean_pass, line_starts, printed
from .test_cli_parts import _benchmark_trace

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}
TIME = "2026-12-06T10:00:{:02d}.{:06d}+00:00"


def _line(event: str, second: int, details: Any, node: Any = "host-a", **top: Any) -> str:
    record = {"event": event, "time": TIME.format(second % 60, second * 7 % 1_000_000), "details": details}
    if node is not None:
        record["node"] = node
    record.update(top)
    return json.dumps(record)


def _at(when: str) -> float:
    moment = timestamp(when)
    assert moment is not None
    return moment


def _both(path: Path) -> tuple[str, str]:
    """(full parse, lean) printed summaries of ``path``, each with its skipped-line report."""
    full_skipped, lean_skipped = Malformed(), Malformed()
    full = Summary().add_all(read(str(path), full_skipped)).finish()
    lean_summary = lean_pass(path, lean_skipped).finish()
    return (
        printed(full) + "\n".join(full_skipped.report()),
        printed(lean_summary) + "\n".join(lean_skipped.report()),
    )


_MAP_ARGS = {"kwargs": {"task": {"task": "shop.add"}}}
_TASK = {"task_id": "t-1", "task_name": "shop.price", "queue": "celery", "hostname": "celery@a"}

ODD_LINES = [
    _line("TASK_SCHEDULE", 1, {**_TASK}),
    _line("TASK_START", 2, {**_TASK, "retried_count": 0}),
    _line("TASK_END", 3, {**_TASK, "retried_count": 0, "runtime": 1.0}),
    # Values of unusual types, each where the fold reads it
    _line("TASK_SCHEDULE", 3, {**_TASK, "task_id": "t-x"}),  # a retry: its publish, then the attempt's end
    _line("TASK_START", 3, {**_TASK, "task_id": "t-x", "retried_count": 0}),
    _line("TASK_SCHEDULE", 4, {**_TASK, "task_id": "t-x", "retried_count": 1}),
    _line("TASK_RETRY", 4, {**_TASK, "task_id": "t-x", "retried_count": 0}),
    _line("TASK_START", 5, {**_TASK, "task_id": "t-x", "retried_count": 1}),
    _line("TASK_END", 6, {**_TASK, "task_id": "t-x", "retried_count": 1}),
    _line("TASK_START", 4, {**_TASK, "task_id": 17, "retried_count": 1.0}),
    _line("TASK_END", 5, {**_TASK, "task_id": 17, "retried_count": "1", "runtime": 2}),
    _line("TASK_START", 6, {**_TASK, "task_id": "t-2", "queue": 5, "hostname": 7}),
    _line(
        "TASK_FAILURE", 7, {**_TASK, "task_id": "t-2", "queue": "", "runtime": "0.5", "what": "ValueError: x"}
    ),
    _line("TASK_START", 8, {**_TASK, "task_id": "t-3", "retried_count": 2**60, "task_name": ""}),
    _line("TASK_RETRY", 9, {**_TASK, "task_id": "t-3", "retried_count": 2**60, "task_name": None}),
    _line("TASK_START", 10, {**_TASK, "task_id": "t-4", "retried_count": 123456789012345678901234567890}),
    _line("TASK_END", 11, {**_TASK, "task_id": "t-4", "runtime": 1e308, "replaced_by": "t-9"}),
    _line("TASK_START", 12, {**_TASK, "task_id": "t-5", "replacement": 1}),
    _line("TASK_END", 13, {**_TASK, "task_id": "t-5", "replacement": "1"}),
    _line("TASK_START", 14, {**_TASK, "task_id": "t-6", "task_name": "celery.starmap"}),
    _line(
        "TASK_END", 15, {**_TASK, "task_id": "t-6", "task_name": "celery.map", "node_args": {"kwargs": {}}}
    ),
    _line("TASK_START", 15, {**_TASK, "task_id": "t-m", "task_name": "celery.map", "node_args": _MAP_ARGS}),
    _line("TASK_END", 15, {**_TASK, "task_id": "t-m", "task_name": "celery.map", "node_args": _MAP_ARGS}),
    _line("TASK_DISCARD_RESULT", 16, {**_TASK, "task_id": "t-7"}),
    _line("TASK_END", 16, {**_TASK, "task_id": "t-7"}),
    _line("TASK_FAILURE", 17, {**_TASK, "task_id": "t-8", "what": "Fehler: Größe ✗", "exc_type": "KeyError"}),
    _line("TASK_START", 17, {**_TASK, "task_id": "", "task_name": "shop.blank"}),
    _line("TASK_END", 18, {**_TASK, "task_id": "", "task_name": "shop.blank"}),
    _line("TASK_END", 18, {**_TASK, "task_id": "", "runtime": -1.5}),
    _line(
        "TASK_START", 12, {**_TASK, "task_id": "t-r", "task_name": "shop.replace"}
    ),  # a task, then its replacement (same id)
    _line("TASK_START", 13, {**_TASK, "task_id": "t-r", "replacement": 1, "task_name": "shop.replace"}),
    _line("TASK_END", 14, {**_TASK, "task_id": "t-r", "replacement": 1, "task_name": "shop.replace"}),
    _line("TASK_END", 17, {**_TASK, "task_id": "t-r", "task_name": "shop.replace"}),
    _line("TASK_END", 18, {"task_name": "shop.orphan"}),
    # A canvas task's, beat's, a fate, a worker's own events
    _line("TASK_SCHEDULE", 19, {**_TASK, "task_id": "c-1", "root_id": "c-1", "chain": []}),
    _line("TASK_START", 19, {**_TASK, "task_id": "c-1", "root_id": "c-1"}),
    _line("TASK_FAILURE", 20, {**_TASK, "task_id": "c-1", "root_id": "c-1", "what": "boom"}),
    _line("TASK_SCHEDULE", 21, {**_TASK, "task_id": "b-1", "periodic": {"name": "tick", "schedule": 5.0}}),
    _line("TASK_START", 22, {**_TASK, "task_id": "b-1"}),
    _line("TASK_END", 23, {**_TASK, "task_id": "b-1", "runtime": 0.25}),
    _line("TASK_REVOKED", 24, {**_TASK, "task_id": "t-1", "terminated": True, "retried_count": 0}),
    _line("WORKER_ONLINE", 25, {"hostname": "celery@a", "pool": "prefork", "concurrency": 2}),
    _line("WORKER_PROCESS_LOST", 26, {"hostname": "celery@a", "exitcode": -9, "task_id": "t-9"}),
    # Flows: ids and names of unusual types
    _line("FLOW_START", 27, {"dispatcher_id": "f-1", "flow_name": "crawl", "queue": "flows"}),
    _line("DISPATCHER_WAKEUP", 27, {"dispatcher_id": "f-1", "flow_name": 3}),
    _line("FLOW_END", 28, {"dispatcher_id": "f-1", "flow_name": "crawl"}),
    _line("FLOW_START", 28, {"dispatcher_id": "", "flow_name": "empty"}),
    _line("FLOW_END", 29, {"dispatcher_id": "", "flow_name": "empty"}),
    _line("FLOW_START", 29, {"dispatcher_id": 42, "flow_name": ""}),
    _line(
        "FLOW_FAILURE",
        30,
        {
            "dispatcher_id": 42,
            "flow_name": None,
            "what": "Traceback (most recent call last):\n  x\nKeyError: 'k'",
        },
    ),
    _line("DISPATCHER_FAILURE", 31, {"dispatcher_id": "f-2", "flow_name": "crawl", "what": "oops"}),
    _line("DISPATCHER_RETRY", 31, {"dispatcher_id": "f-2", "flow_name": "crawl", "queue": ["q"]}),
    # Nodes, times and details in unusual forms; damaged lines
    _line("NODE_SUCCESS", 32, {"queue": "q"}, node=None),
    _line("NODE_SUCCESS", 33, {"queue": "q"}, node=5),
    _line("NODE_SUCCESS", 34, {"queue": "q"}, node=""),
    _line("TASK_SCHEDULE", 35, None),
    _line("TASK_SCHEDULE", 35, [1, 2]),
    json.dumps(
        {"event": "TASK_SCHEDULE", "time": "2026-12-06T10:00:36Z", "details": {"queue": "z"}, "node": "h"}
    ),
    json.dumps({"event": "TASK_SCHEDULE", "time": "2026-12-06T10:00:37.1234567+00:00", "details": {}}),
    json.dumps({"event": "TASK_SCHEDULE", "time": "2026-12-06T10:00:38", "details": {}, "node": "h"}),
    json.dumps({"event": "TASK_SCHEDULE", "time": "2026-12-06T11:00:09+01:00", "details": {}, "node": "h"}),
    json.dumps({"event": "TASK_SCHEDULE", "time": "2026-12-06T09:59:59.5-00:30", "details": {}, "node": "h"}),
    json.dumps({"event": "TASK_SCHEDULE", "time": "not a time", "details": {}}),
    json.dumps({"event": 5, "time": "2026-12-06T10:00:38+00:00", "details": {}}),
    json.dumps({"event": "TASK_SCHEDULE", "details": {}}),
    '{"event": "TASK_SCHEDULE", "time": "2026-12-06T10:00:39+00:00", "details": {"queue": "a", "queue": 1}}',
    '{"event": "TASK_SCHEDULE", "time": "2026-12-06T10:00:39+00:00", "details": {}}{"event": "X"}',
    '{"event": "TASK_SCHEDULE", "time": "2026-12-06T10:00:40+00:00", "details": {"what": "\\ud800"}}',
    "",
    "   ",
    "garbage from a shared log",
    "[1, 2, 3]",
]


def test_odd_lines_fold_as_their_full_records(tmp_path: Path) -> None:
    """Each unusual form is folded (or skipped) as the full parse folds it, including invalid UTF-8
    in a field the lean decoder skips and a last line cut short."""
    assert lean.DECODE is not None, "msgspec (the test extra) is missing: the lean fold would go untested"
    path = tmp_path / "odd.jsonl"
    data = "\n".join(ODD_LINES).encode() + b"\n"
    data += (
        _line("TASK_SCHEDULE", 41, {"queue": "q", "args": "x"}).encode().replace(b'"x"', b'"\xff\xfe"')
        + b"\n"
    )
    data += _line("TASK_START", 42, {**_TASK, "task_id": "t-cut"}).encode()[:-3]  # no newline: cut short
    path.write_bytes(data)
    full, lean_printed = _both(path)
    assert lean_printed == full
    assert "skipped" in full and "truncated" in full  # the damage is reported by both alike
    for cut in line_starts(path)[1:-1]:
        general, lean_parts = in_parts(path, [cut]), in_parts(path, [cut], lean=True)
        assert (general is None) == (lean_parts is None), f"cut at byte {cut}"
        if general is not None and lean_parts is not None:
            assert printed(lean_parts) == printed(general), f"cut at byte {cut}"


_TEXT = st.text(alphabet="ab-é", max_size=3)
_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([2**53, 2**64, 0.5, 1.0, -2.0, 1e300]),
    _TEXT,
    st.lists(st.integers(max_value=2), max_size=2),
    st.dictionaries(st.sampled_from(["k", "name"]), st.integers(max_value=2), max_size=1),
    st.just(_MAP_ARGS),
)
_EVENTS = st.sampled_from(
    [
        "TASK_SCHEDULE",
        "TASK_START",
        "TASK_END",
        "TASK_RETRY",
        "TASK_FAILURE",
        "TASK_DISCARD_RESULT",
        "TASK_REVOKED",
        "FLOW_START",
        "FLOW_END",
        "FLOW_FAILURE",
        "DISPATCHER_WAKEUP",
        "DISPATCHER_RETRY",
        "WORKER_ONLINE",
        "NODE_SUCCESS",
    ]
)
_USUAL = {
    "task_id": st.sampled_from(["t-1", "t-2", "t-3"]),
    "task_name": st.sampled_from(["shop.price", "shop.charge", "celery.map"]),
    "retried_count": st.sampled_from([0, 1, None]),
    "dispatcher_id": st.sampled_from(["f-1", "f-2"]),
    "flow_name": st.sampled_from(["crawl", "report"]),
    "queue": st.sampled_from(["celery", "flows"]),
    "runtime": st.sampled_from([0.5, 1.25]),
    "hostname": st.sampled_from(["celery@a", "celery@b"]),
}
_RARE = [
    "node_args",
    "replacement",
    "replaces",
    "replaced_by",
    "what",
    "exc_type",
    "root_id",
    "periodic",
    "started",
]
_DETAILS = st.fixed_dictionaries(
    {},
    optional={
        **{key: st.one_of(usual, usual, usual, _VALUE) for key, usual in _USUAL.items()},
        **dict.fromkeys(_RARE, _VALUE),
    },
)
_EVENT_LINES = st.lists(
    st.tuples(
        _EVENTS, st.integers(min_value=0, max_value=59), _DETAILS, st.sampled_from(["host-a", "host-b", 3])
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_EVENT_LINES, cut=st.integers(min_value=1, max_value=39))
def test_drawn_event_streams_fold_as_their_full_records(tmp_path: Path, events: list[Any], cut: int) -> None:
    """Any mix of events and field values: the lean fold prints what the full parse prints, in one
    pass and in two parts (where the parts can be put together)."""
    path = tmp_path / "drawn.jsonl"
    path.write_text(
        "".join(_line(event, second, details, node) + "\n" for event, second, details, node in events)
    )
    full, lean_printed = _both(path)
    assert lean_printed == full
    starts = line_starts(path)
    cut_at = starts[min(cut, len(starts) - 2)] if len(starts) > 2 else None
    if cut_at:
        general, lean_parts = in_parts(path, [cut_at]), in_parts(path, [cut_at], lean=True)
        assert (general is None) == (lean_parts is None)
        if general is not None and lean_parts is not None:
            assert printed(lean_parts) == printed(general)


def test_the_command_prints_the_same_without_msgspec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """msgspec is an optional extra (``fast``): without it every line is parsed whole, same output."""
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(ODD_LINES) + "\n")
    with_msgspec = CliRunner().invoke(cli, ["summary", str(path)], env=ENV, catch_exceptions=False)
    monkeypatch.setattr(lean, "DECODE", None)
    without = CliRunner().invoke(cli, ["summary", str(path)], env=ENV, catch_exceptions=False)
    assert with_msgspec.exit_code == without.exit_code == 0, without.output
    assert "shop.price" in with_msgspec.output
    assert with_msgspec.output == without.output


def test_odd_lines_in_a_time_window_fold_as_their_full_records(tmp_path: Path) -> None:
    """``--since`` / ``--until`` with the lean fold: the events in the window, as the full parse
    folds the records the window passes (lines out of it, in any time form, left out alike)."""
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(ODD_LINES) + "\n")
    scope = Scope(since=_at("2026-12-06T10:00:05+00:00"), until=_at("2026-12-06T10:00:30+00:00"))
    skipped = Malformed()
    full = Summary().add_all(scope.apply(read(str(path), skipped))).finish()
    lean_skipped, summary = Malformed(), Summary()
    lines = batches(str(path), lean_skipped)
    fold_lines(lines, str(path), lean_skipped, summary.add, partial(add_lean, summary, None), scope.in_window)
    assert printed(summary.finish()) == printed(full)
    assert lean_skipped.report() == skipped.report()
    assert printed(full) != printed(Summary().add_all(read(str(path), Malformed())).finish())


def test_a_windowed_summary_in_parts_prints_what_one_full_pass_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``summary --since --until`` on a file of eight parts, lean: the output of one pass parsing every
    line whole (msgspec hidden), skipped-line report included."""
    clean = tmp_path / "clean.jsonl"
    _benchmark_trace(clean, 6000)
    path = tmp_path / "trace.jsonl"
    lines = clean.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:4000], b"celery@host-a ready.\n", *lines[4000:]]))
    monkeypatch.setattr(parts, "PART_BYTES", path.stat().st_size // 8)
    window = ["--since", "2026-11-28T00:00:05", "--until", "2026-11-28T00:00:12"]
    outputs = [CliRunner().invoke(cli, ["summary", "-j2", *window, str(path)], env=ENV)]
    monkeypatch.setattr(lean, "DECODE", None)
    outputs.append(CliRunner().invoke(cli, ["summary", "-j1", *window, str(path)], env=ENV))
    whole = CliRunner().invoke(cli, ["summary", "-j1", str(path)], env=ENV)
    assert [result.exit_code for result in outputs] == [0, 0]
    assert outputs[0].output == outputs[1].output != whole.output
    assert outputs[0].stderr == outputs[1].stderr
    assert "skipped 1 malformed line (first at line 4001)" in outputs[0].stderr
