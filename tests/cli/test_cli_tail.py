"""Following a growing trace file like ``tail -F``: the last lines first, half-written lines, rotation."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from selinon_celery_trace.cli.reading.lines import Malformed
from selinon_celery_trace.cli.reading.tail import follow


def _line(event: str, second: int) -> bytes:
    time = f"1970-01-01T00:00:{second:02d}+00:00"
    return f'{{"event":"{event}","time":"{time}","details":{{}},"node":"h"}}\n'.encode()


def test_follow_starts_with_the_last_lines_like_tail(tmp_path: Path) -> None:
    """With lines=2 only the last two events are printed first; line numbers stay those of the file."""
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"".join(_line(f"E{i}", i) for i in range(5)) + b"garbage\n")
    malformed = Malformed()
    events = [r.event for r in follow(str(path), malformed, lines=2, once=True)]
    assert events == ["E4"]
    assert malformed.report() == [f"{path}: skipped 1 malformed line (first at line 6)"]


def test_follow_waits_for_half_written_lines_and_follows_rotation_and_truncation(tmp_path: Path) -> None:
    """A partial line waits for its end; a rotated file is drained before the new one; truncation restarts."""
    path = tmp_path / "trace.jsonl"
    path.write_bytes(_line("FIRST", 1))
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        # Each time the follower has read everything and waits, the writer does the next step.
        calls.append(seconds)
        step = len(calls)
        if step == 1:
            with path.open("ab") as out:
                out.write(_line("PARTIAL", 2)[:20])
        elif step == 2:
            with path.open("ab") as out:
                out.write(_line("PARTIAL", 2)[20:])
        elif step == 3:
            with path.open("ab") as out:
                out.write(_line("LAST_IN_OLD", 3))
            os.replace(path, tmp_path / "trace.jsonl.1")
            path.write_bytes(_line("NEW_FILE", 4) * 3)
        elif step == 4:
            path.write_bytes(_line("TRUNCATED", 5))

    malformed = Malformed()
    stream = follow(str(path), malformed, lines=10, poll=0.01, sleep=sleep)
    seen = [next(stream).event for _ in range(7)]
    stream.close()
    assert seen == ["FIRST", "PARTIAL", "LAST_IN_OLD", "NEW_FILE", "NEW_FILE", "NEW_FILE", "TRUNCATED"]
    assert malformed.total == 0
    assert set(calls) == {0.01}


def test_follow_reads_a_gzip_file_to_its_end(tmp_path: Path) -> None:
    """Following a compressed (finished) file prints it and stops."""
    path = tmp_path / "old.jsonl.gz"
    path.write_bytes(gzip.compress(_line("A", 1) + _line("B", 2)))
    assert [r.event for r in follow(str(path), Malformed(), once=False)] == ["A", "B"]
