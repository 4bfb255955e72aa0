"""The byte search before parsing: only lines naming an id are parsed, none that matters is missed."""

from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner

from selinon_celery_trace.cli import cli
from selinon_celery_trace.cli.reading.files import merged, read
from selinon_celery_trace.cli.reading.lines import Malformed
from selinon_celery_trace.cli.reading.prefilter import MAX_NEEDLES, Needles, lines_containing

from . import tracegen
from .tracegen import write_trace_files


def _line(event: str, **details: object) -> bytes:
    record = {"event": event, "time": "2026-11-28T00:00:00+00:00", "details": details, "node": "h"}
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def _lines(*lines: bytes) -> io.BytesIO:
    return io.BytesIO(b"".join(lines))


def test_only_lines_with_a_needle_are_yielded_with_their_line_numbers() -> None:
    """Of three events, only the two naming the id come out, numbered as in the file."""
    stream = _lines(_line("A", task_id="t-1"), _line("B", task_id="t-2"), _line("C", parent="t-1"))
    assert [number for number, _ in lines_containing(stream, Needles(["t-1"]))] == [1, 3]


def test_a_needle_added_while_reading_finds_the_lines_after_it() -> None:
    """An id learned from one line (a subflow scheduled) is searched for in every later line."""
    stream = _lines(_line("S", task_id="f-1", child="f-2"), _line("X", id="f-3"), _line("E", id="f-2"))
    needles = Needles(["f-1"])
    seen = []
    for number, _ in lines_containing(stream, needles):
        seen.append(number)
        needles.add("f-2")
    assert seen == [1, 3]


def test_a_block_with_a_line_cut_short_has_every_line_yielded_for_the_report() -> None:
    """A write cut short and continued on the same line, or a foreign line, turns the search off there."""
    cut = _line("A", task_id="t-9")[:20] + _line("B", task_id="t-2")
    assert len(list(lines_containing(_lines(cut, _line("C", task_id="t-3")), Needles(["t-1"])))) == 2
    foreign = _lines(b"celery@host ready.\n", _line("C", task_id="t-3"))
    assert len(list(lines_containing(foreign, Needles(["t-1"])))) == 2


def test_a_needle_a_writer_could_escape_or_too_many_needles_yield_every_line() -> None:
    """An id with a quote or non-ASCII text, or more ids than is worth searching for, means every line."""
    assert Needles(['a"b']).everything
    assert Needles(["tâche"]).everything
    assert Needles(f"id-{n}" for n in range(MAX_NEEDLES + 1)).everything
    assert not Needles(["3f2a9c1e-0000-4000-8000-000000000001"]).everything


def test_reading_with_needles_reports_the_same_damage_as_reading_everything(tmp_path: Path) -> None:
    """Skipped lines are reported with the same reasons and numbers, searched or not, gzip or not."""
    files = write_trace_files(tmp_path)
    for path in (files.combined, files.gzipped):
        everything, searched = Malformed(), Malformed()
        list(read(str(path), everything))
        list(read(str(path), searched, Needles(["no-such-id"])))
        assert searched.report() == everything.report() != []


def test_reading_with_needles_keeps_every_record_that_names_one(tmp_path: Path) -> None:
    """Of a clean file, the records read with a needle are exactly those whose line holds it."""
    files = write_trace_files(tmp_path)
    records = list(read(str(files.host_a), Malformed()))
    ident = next(r.details["task_id"] for r in records if "task_id" in r.details)
    expected = [r for r in records if ident in json.dumps(r.details)]
    assert 0 < len(expected) < len(records)
    assert list(read(str(files.host_a), Malformed(), Needles([ident]))) == expected


def test_merging_files_with_needles_asks_for_a_second_read(tmp_path: Path) -> None:
    """Merging reads ahead in each file, so needles added during the merge are marked to read again."""
    files = write_trace_files(tmp_path)
    single, merging = Needles(["x"]), Needles(["x"])
    list(merged([str(files.combined)], Malformed(), single))
    list(merged([str(files.host_a), str(files.host_b)], Malformed(), merging))
    assert merging.reread and not single.reread


def test_show_of_a_flow_with_a_subflow_reads_the_same_from_one_file_or_merged_ones(tmp_path: Path) -> None:
    """The subflow's id, learned mid-file, finds its events whether the files are one or merged."""
    files = write_trace_files(tmp_path)
    runner = CliRunner()
    two = runner.invoke(cli, ["show", tracegen.CRAWL[:8], str(files.host_a), str(files.host_b)])
    one = runner.invoke(cli, ["show", tracegen.CRAWL[:8], str(files.combined)])
    assert two.exit_code == one.exit_code == 0
    assert f"subflow parse [{tracegen.PARSE[:8]}]" in two.stdout
    assert two.stdout == one.stdout
