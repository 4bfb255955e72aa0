"""Reading trace files: parsing, damage counting, gzip, merging by time."""

from __future__ import annotations

from pathlib import Path

import pytest

from selinon_celery_trace.cli.reading.files import merged, read
from selinon_celery_trace.cli.reading.lines import Malformed, Record, parse_line

from .tracegen import write_trace_files


def test_parse_line_reads_a_record_written_by_the_json_sink() -> None:
    """A line in the sink's format becomes a record with the time as POSIX seconds."""
    record = parse_line(
        b'{"event":"TASK_END","time":"1970-01-01T00:00:01.5+00:00","details":{"a":1},"node":"h"}'
    )
    assert record == Record(1.5, "TASK_END", {"a": 1}, "h")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"event": "TASK_START", "time": "2026-11-', "malformed"),
        (b"celery@host-a ready.", "malformed"),
        (b"\xff\xfe not utf-8", "malformed"),
        (b"[1, 2, 3]", "non-event"),
        (b'{"event": 3, "time": "2026-11-28T11:46:14+00:00"}', "non-event"),
        (b'{"event": "TASK_START", "time": "yesterday"}', "non-event"),
        (b'{"event": "TASK_START"}', "non-event"),
    ],
)
def test_parse_line_names_why_a_line_is_not_an_event(line: bytes, reason: str) -> None:
    """Garbage, cut-off JSON and JSON that is not an event are told apart for the report."""
    assert parse_line(line) == reason


def test_parse_line_accepts_other_writers_time_forms_and_odd_fields() -> None:
    """A "Z" suffix and a naive time both mean UTC; details that are not an object read as empty."""
    zulu = parse_line(b'{"event":"X","time":"1970-01-01T00:00:02Z","details":[1],"node":null}')
    naive = parse_line(b'{"event":"X","time":"1970-01-01T00:00:02","details":null}')
    assert zulu == Record(2.0, "X", {}, "?")
    assert naive == Record(2.0, "X", {}, "?")


def test_read_counts_garbage_and_a_truncated_last_line_and_keeps_the_rest(tmp_path: Path) -> None:
    """Damaged lines are skipped and reported with their line numbers; every good event is read."""
    files = write_trace_files(tmp_path)
    malformed = Malformed()
    records = list(read(str(files.combined), malformed))
    assert len(records) == files.events
    assert malformed.total == 2
    assert malformed.report() == [
        f"{files.combined}: skipped 1 malformed line (first at line 6)",
        f"{files.combined}: skipped 1 truncated line (first at line {files.events + 2})",
    ]


def test_read_recognises_gzip_by_its_content_not_its_name(tmp_path: Path) -> None:
    """A gzip file without a .gz suffix reads the same as the plain file."""
    files = write_trace_files(tmp_path)
    plain, packed = Malformed(), Malformed()
    assert list(read(str(files.gzipped), packed)) == list(read(str(files.combined), plain))
    assert packed.total == plain.total == 2


def test_read_keeps_what_a_cut_off_gzip_file_holds(tmp_path: Path) -> None:
    """A gzip file cut short (rotated while being compressed) yields its complete lines and one report."""
    files = write_trace_files(tmp_path)
    whole = files.gzipped.read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    malformed = Malformed()
    records = list(read(str(cut), malformed))
    assert 0 < len(records) < files.events
    assert any(reason == "truncated gzip" for _, reason in malformed.counts)


def test_merged_files_give_the_same_stream_as_one_file(tmp_path: Path) -> None:
    """One file per host, merged by time, equals the single file holding all events."""
    files = write_trace_files(tmp_path)
    merged_records = list(merged([str(files.host_a), str(files.host_b)], Malformed()))
    single = list(read(str(files.combined), Malformed()))
    assert [r.ts for r in merged_records] == sorted(r.ts for r in merged_records)
    assert sorted(merged_records, key=repr) == sorted(single, key=repr)
