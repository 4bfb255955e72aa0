"""The JSON file sink across its file's life: rotation, deletion, a full disk; real files, a real tmpfs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from selinon_celery_trace import Trace
from selinon_celery_trace.sinks import JsonFileSink, jsonl

AFTER_CHECK = jsonl.CHECK_INTERVAL + 0.2  # seconds after which the sink has looked at its path again


def _details(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["details"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_rename_and_create_rotation_is_followed_within_a_second(tmp_path: Path) -> None:
    """logrotate's default (rename, create): events go on in the renamed file, then in the new one."""
    path = tmp_path / "trace.jsonl"
    Trace.add_sink(JsonFileSink(path))
    Trace.log(Trace.FLOW_START, n=0)
    path.rename(tmp_path / "trace.jsonl.1")
    path.touch()
    Trace.log(Trace.FLOW_START, n=1)  # within the second: the renamed file, still open, gets it
    time.sleep(AFTER_CHECK)
    Trace.log(Trace.FLOW_START, n=2)
    Trace.log(Trace.FLOW_START, n=3)
    assert [d["n"] for d in _details(tmp_path / "trace.jsonl.1")] == [0, 1]
    assert [d["n"] for d in _details(path)] == [2, 3]


def test_a_deleted_file_is_created_again(tmp_path: Path) -> None:
    """The file removed under the sink: the next event after the check makes it anew."""
    path = tmp_path / "trace.jsonl"
    Trace.add_sink(JsonFileSink(path))
    Trace.log(Trace.FLOW_START, n=0)
    path.unlink()
    time.sleep(AFTER_CHECK)
    Trace.log(Trace.FLOW_START, n=1)
    assert [d["n"] for d in _details(path)] == [1]


def test_a_deleted_directory_is_made_again(tmp_path: Path) -> None:
    """The file's directory removed (a cleanup job, a volume remounted): made again, events go on."""
    folder = tmp_path / "logs" / "celery"
    path = folder / "trace.jsonl"
    folder.mkdir(parents=True)
    Trace.add_sink(JsonFileSink(path))
    Trace.log(Trace.FLOW_START, n=0)
    shutil.rmtree(tmp_path / "logs")
    time.sleep(AFTER_CHECK)
    Trace.log(Trace.FLOW_START, n=1)
    Trace.log(Trace.FLOW_START, n=2)
    assert [d["n"] for d in _details(path)] == [1, 2]


@pytest.mark.tracer_errors
def test_a_path_that_cannot_be_made_again_is_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The directory replaced by a plain file: reported once, the caller never sees it, events go on."""
    folder = tmp_path / "logs"
    folder.mkdir()
    Trace.add_sink(JsonFileSink(folder / "trace.jsonl"))
    received: list[int] = []
    Trace.trace_by_func(lambda event, details: received.append(details["n"]))
    shutil.rmtree(folder)
    folder.write_text("not a directory")
    for n in range(3):
        time.sleep(AFTER_CHECK)
        Trace.log(Trace.FLOW_START, n=n)
    assert received == [0, 1, 2]
    reports = [r for r in caplog.records if r.name == "selinon_celery_trace.errors"]
    assert len(reports) == 1 and f"reopening {folder / 'trace.jsonl'}" in reports[0].getMessage()
    assert Trace.errors() == {f"reopening {folder / 'trace.jsonl'}": 3}


def test_the_path_is_looked_at_once_a_second_not_per_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of events cost one stat of the path per second at most (the hot path reads a clock)."""
    looked: list[str] = []
    real_stat = os.stat

    def counting_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if str(path).endswith("trace.jsonl"):
            looked.append(str(path))
        return real_stat(path, *args, **kwargs)

    Trace.add_sink(JsonFileSink(tmp_path / "trace.jsonl"))
    monkeypatch.setattr(os, "stat", counting_stat)
    began = time.monotonic()
    for n in range(2000):
        Trace.log(Trace.FLOW_START, n=n)
    elapsed = time.monotonic() - began
    assert len(looked) <= int(elapsed / jsonl.CHECK_INTERVAL) + 1, (len(looked), elapsed)
    assert len(_details(tmp_path / "trace.jsonl")) == 2000


FILLER = """
import json, sys
from selinon_celery_trace import Trace
from selinon_celery_trace.sinks import JsonFileSink
Trace.add_sink(JsonFileSink(sys.argv[1]))
for i in range(int(sys.argv[3])):
    Trace.log(Trace.TASK_START, writer=sys.argv[2], i=i, payload="x" * (40 + i * 37 % 900))
print(json.dumps(sum(Trace.errors().values())))
"""

# Runs in a mount namespace of its own (no clean-up on the host; root is not needed where unprivileged
# user namespaces are allowed): a 64 KiB tmpfs over $1, three writers filling it together, the file
# copied out to $2 for the test to read.
FILL_TMPFS = """
set -e
mount -t tmpfs -o size=64k tmpfs "$1"
for writer in 1 2 3; do
    "$PYTHON" -c "$FILLER" "$1/trace.jsonl" "w$writer" 400 > "$2/errors-$writer" &
done
wait
df -k "$1" | tail -1 > "$2/df"
cp "$1/trace.jsonl" "$2/trace.jsonl"
"""


def test_a_tmpfs_that_fills_up_holds_only_whole_lines(tmp_path: Path) -> None:
    """Three processes filling a 64 KiB tmpfs: every line parses; each event is written or counted, once."""
    mount_point, out = tmp_path / "small", tmp_path / "out"
    mount_point.mkdir()
    out.mkdir()
    namespace = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        namespace[1:1] = ["--user", "--map-root-user"]
    env = {**os.environ, "PYTHON": sys.executable, "FILLER": FILLER}
    run = subprocess.run(
        [*namespace, "sh", "-c", FILL_TMPFS, "fill", str(mount_point), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"could not fill a tmpfs in a mount namespace: {run.stderr}"
    data = (out / "trace.jsonl").read_bytes()
    assert data.endswith(b"\n")
    written = []
    for number, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            written.append(json.loads(line)["details"])
        except ValueError:
            pytest.fail(f"line {number} is cut or glued to another: {line[:120]!r}...{line[-120:]!r}")
    dropped = sum(int((out / f"errors-{n}").read_text()) for n in (1, 2, 3))
    assert dropped > 0, "the tmpfs never filled up"
    keys = [(d["writer"], d["i"]) for d in written]
    assert len(keys) == len(set(keys)), "an event written twice"
    assert all(d["payload"] == "x" * (40 + d["i"] * 37 % 900) for d in written)
    assert len(written) + dropped == 3 * 400, "every event is in the file or counted in Trace.errors()"
    usage = (out / "df").read_text().split()[1:5]
    print(f"\nfull tmpfs: {len(written)} whole lines, {dropped} events dropped and counted; df: {usage}")
