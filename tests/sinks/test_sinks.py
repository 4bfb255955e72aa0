"""The service-free sinks: JSON lines (streams and files) and the encoder behind them."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from selinon_celery_trace import Trace
from selinon_celery_trace.core import registry
from selinon_celery_trace.core.placeholders import expand_env
from selinon_celery_trace.core.record import HOST, json_line
from selinon_celery_trace.sinks import JsonFileSink


class NoRepr:
    """An object whose repr raises."""

    def __repr__(self) -> str:
        raise ValueError("nope")


def _odd_details() -> dict[object, object]:
    cyclic: dict[str, object] = {"name": "loop"}
    cyclic["self"] = cyclic
    return {
        "when": datetime(2026, 1, 1, 12, 0),
        "amount": Decimal("9.99"),
        "id": UUID(int=7),
        "raw": b"\x00\xffbytes\n",
        "tags": {"b", "a"},
        "obj": object(),
        "norepr": NoRepr(),
        "cycle": cyclic,
        (1, "tuple"): "key",
        "nan": math.nan,
        "huge": 2**80,
        "text": "line one\nline two\u2028\u2029\x85still one JSON line",
    }


def test_every_event_is_one_json_line_whatever_the_details() -> None:
    """Odd values are rendered, not dropped, and the record stays one valid JSON line."""
    line = json_line(Trace.TASK_START, _odd_details())
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    record = json.loads(line)
    details = record["details"]
    assert record["event"] == "TASK_START" and record["node"] == HOST
    assert details["amount"] == "9.99" and details["id"] == str(UUID(int=7))
    assert details["tags"] == ["a", "b"] and details["cycle"]["self"] == "<cycle>"
    assert details["norepr"] == "<NoRepr>"  # never its own __repr__
    assert details["text"].endswith("still one JSON line")
    assert datetime.fromisoformat(record["time"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_event_times_are_utc_whatever_the_local_time_zone(tmp_path: Path) -> None:
    """Both clocks (the adapters' events' and Trace.log's) give UTC with its offset, in any local zone."""
    script = (
        "import sys; from selinon_celery_trace import Trace;"
        "from selinon_celery_trace.core.record import json_line;"
        "from selinon_celery_trace.sinks import JsonFileSink;"
        "sys.stdout.buffer.write(json_line(Trace.TASK_START, {'task_id': 'a'}));"
        "Trace.add_sink(JsonFileSink(sys.argv[1])); Trace.log(Trace.TASK_END, task_id='a')"
    )
    path = tmp_path / "trace.jsonl"
    env = {**os.environ, "TZ": "JST-9"}  # nine hours east of UTC, no time-zone database needed
    done = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, check=True)
    now = datetime.now(timezone.utc)
    for line in (done.stdout, path.read_bytes()):
        stamp = datetime.fromisoformat(json.loads(line)["time"])
        assert stamp.utcoffset() == timedelta(0)
        assert abs((now - stamp).total_seconds()) < 60, line


def test_a_callers_naive_datetime_is_written_as_given(tmp_path: Path) -> None:
    """A naive datetime in Trace.log's details gets no offset the caller did not give it."""
    path = tmp_path / "trace.jsonl"
    Trace.add_sink(JsonFileSink(path))
    Trace.log(Trace.TASK_END, task_id="a", when=datetime(2026, 1, 1, 12, 0))
    record = json.loads(path.read_bytes())
    assert record["details"]["when"] == "2026-01-01T12:00:00"
    assert record["time"].endswith("+00:00")


def test_json_file_sink_appends_whole_lines(tmp_path: Path) -> None:
    """The file sink appends to an existing file, one line per event."""
    path = tmp_path / "trace.jsonl"
    path.write_text('{"event":"EARLIER"}\n')
    Trace.add_sink(JsonFileSink(path))
    Trace.log(Trace.TASK_START, _odd_details())  # type: ignore[arg-type]
    Trace.log(Trace.TASK_END, task_name="t", runtime=0.5)
    lines = path.read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["EARLIER", "TASK_START", "TASK_END"]


def test_json_file_sink_registered_twice_writes_once(tmp_path: Path) -> None:
    """Two file sinks on the same path count as one sink."""
    path = tmp_path / "t.jsonl"
    Trace.add_sink(JsonFileSink(path))
    Trace.add_sink(JsonFileSink(str(path)))
    Trace.log(Trace.TASK_START)
    assert len(path.read_text().splitlines()) == 1


def test_bad_file_path_fails_at_construction(tmp_path: Path) -> None:
    """A path that cannot be opened fails when the sink is created, not at the first event."""
    with pytest.raises(OSError):
        JsonFileSink(tmp_path / "missing-dir" / "trace.jsonl")


WRITER = """
import sys
from selinon_celery_trace import Trace
from selinon_celery_trace.core import registry
from selinon_celery_trace.sinks import JsonFileSink
Trace.add_sink(JsonFileSink(sys.argv[1]))
for i in range(int(sys.argv[3])):
    Trace.log(Trace.TASK_START, writer=sys.argv[2], i=i, payload="x" * (i % 7000))
"""


def test_several_processes_share_one_file_without_interleaving(tmp_path: Path) -> None:
    """Four processes appending large lines to one file: every line parses and nothing is lost."""
    path = tmp_path / "shared.jsonl"
    per_writer = 1500
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{n}", str(per_writer)])
        for n in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    counts: Counter[str] = Counter()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            details = json.loads(line)["details"]
            assert details["payload"] == "x" * (details["i"] % 7000)
            counts[details["writer"]] += 1
    assert counts == {f"w{n}": per_writer for n in range(4)}


def test_forked_children_share_the_descriptor(tmp_path: Path) -> None:
    """A sink opened before fork keeps working in the child (as in Celery's prefork pool)."""
    path = tmp_path / "fork.jsonl"
    Trace.add_sink(JsonFileSink(path))
    Trace.log(Trace.TASK_START, who="parent")
    pid = os.fork()
    if pid == 0:  # child
        try:
            Trace.log(Trace.TASK_START, who="child")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    Trace.log(Trace.TASK_END, who="parent")
    assert [json.loads(line)["details"]["who"] for line in path.read_text().splitlines()] == [
        "parent",
        "child",
        "parent",
    ]


@pytest.mark.tracer_errors
def test_full_disk_is_reported_once_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    """Writing to /dev/full fails quietly for the caller and is reported once."""
    Trace.add_sink(JsonFileSink("/dev/full"))
    for _ in range(3):
        Trace.log(Trace.TASK_START)
    assert sum(Trace.errors().values()) == 3
    assert len([r for r in caplog.records if r.name == "selinon_celery_trace.errors"]) == 1


def test_env_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    """{VAR} placeholders expand from the environment; a missing one is named without echoing values."""
    monkeypatch.setenv("TRACE_DSN", "https://secret@host/1")
    assert expand_env("{TRACE_DSN}") == "https://secret@host/1"
    monkeypatch.delenv("TRACE_DSN")
    with pytest.raises(ValueError, match="'TRACE_DSN' is not set"):
        expand_env("{TRACE_DSN}")


@pytest.mark.parametrize("path", ["Trace.log", "adapter emit"])
def test_one_event_has_one_time_in_every_sink(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    """Two JSON files and the logging sink given one event write the same time, node and details."""
    Trace.add_sink(JsonFileSink(tmp_path / "a.jsonl"))
    Trace.add_sink(JsonFileSink(tmp_path / "b.jsonl"))
    Trace.trace_by_logging("selinon_celery_trace.test_time")
    with caplog.at_level(logging.INFO, logger="selinon_celery_trace.test_time"):
        for number in range(20):  # clocks tick between sinks often enough to catch a second read
            if path == "Trace.log":
                Trace.log(Trace.TASK_START, task_id=str(number))
            else:
                registry.emit(Trace.TASK_START, {"task_id": str(number)})
    first = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    second = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    logged = [r for r in caplog.records if r.name == "selinon_celery_trace.test_time"]
    assert len(first) == len(second) == len(logged) == 20
    assert first == second
    for record, log_record in zip(first, logged, strict=True):
        assert log_record.selinon_time == datetime.fromisoformat(record["time"])  # type: ignore[attr-defined]
        assert log_record.selinon_details == record["details"]  # type: ignore[attr-defined]


CUT_STDOUT = """
import json, os, sys
from selinon_celery_trace import Trace
read, write = os.pipe()
os.set_blocking(write, False)
os.dup2(write, 1)  # stdout: a pipe nobody reads yet, that takes what fits and no more
Trace.trace_by_json()
sent = 0
while not Trace.errors():  # the pipe fills up in the middle of a line
    Trace.log(Trace.FLOW_START, n=sent, payload="x" * 5000)
    sent += 1
data = os.read(read, 1 << 20)
Trace.log(Trace.FLOW_END, n=sent)
data += os.read(read, 1 << 20)
sys.stderr.write(json.dumps({"sent": sent, "data": data.decode()}))
"""


def test_a_stdout_line_cut_short_is_never_glued_to_the_next() -> None:
    """A non-blocking stdout that fills mid-line: the next event starts on a line of its own."""
    run = subprocess.run([sys.executable, "-c", CUT_STDOUT], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stderr[run.stderr.index('{"sent"') :])
    *earlier, last, end = report["data"].split("\n")
    assert end == "" and json.loads(last)["event"] == "FLOW_END", "the next event is whole, on its own line"
    cut = earlier.pop()  # the event the full pipe took only part of
    assert cut.startswith('{"event":"FLOW_START"') and len(cut) < 5000, cut[:100]
    assert [json.loads(line)["details"]["n"] for line in earlier] == list(range(report["sent"] - 1))
