"""How long ``selinon-trace`` takes on a million events, side by side with DuckDB, and its memory.

Writes a synthetic trace of flows (wake-ups, three tasks each, some retried, some failing) with the
package's own JSON encoder, once per size (kept in the temporary folder, keyed by size, with a gzip
copy), then runs each of these a few times, each run in a fresh process:

- DuckDB's ``read_ndjson`` computing what ``summary``'s task and flow tables hold
  (``benchmarks/duckdb_summary.py``: per name the runs, successes, failures, retries, p50/p95/max);
- ``selinon-trace summary``, ``show`` of one flow and of one task, ``find`` by a task id, by an
    argument, by state and by a task name (when this version of the CLI has ``find``), and ``summary``
  and ``show`` of the gzip copy;

at a tenth of the events and at all of them. It prints each one's median wall time (as the process
measured it, interpreter start-up excluded), its ratio to DuckDB's, and the peak resident memory of its
largest process (``summary`` forks one per CPU for a file of several 32 MiB parts, each folding a part
at a time): the peaks at both sizes should be about equal, which is what "bounded memory" means here
(at a tenth of the events the file is one part, so ``summary`` runs in one process there). Nothing is
asserted; run it and read it::

    pip install -e '.[bench]'                   # DuckDB is a benchmark-only dependency
    python benchmarks/cli_million.py            # 1,000,000 events, 3 runs of each
    python benchmarks/cli_million.py 200000 5   # another size, 5 runs of each
"""

from __future__ import annotations

import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from selinon_celery_trace.core.record import dumps

START = datetime(2026, 11, 28, 0, 0, tzinfo=timezone.utc)
HOSTS = ("host-a", "host-b", "host-c", "host-d")
TASKS = ("example.fetch", "example.parse", "example.store")


def _flow_events(index: int) -> list[tuple[float, str, str, dict[str, Any]]]:
    """The events of one flow: 14 to 17 of them, depending on whether a task retries or fails."""
    flow_id = f"{index:08x}-0000-4000-8000-000000000000"
    base = index * 0.05  # a new flow every 50 ms; flows overlap, as on a busy system
    host = HOSTS[index % len(HOSTS)]
    flow = {"dispatcher_id": flow_id, "flow_name": "crawl" if index % 3 else "report"}
    events: list[tuple[float, str, str, dict[str, Any]]] = [
        (base, host, "DISPATCHER_WAKEUP", {**flow, "node_args": {"n": index}, "retry": 0, "queue": "flows"}),
        (base + 0.001, host, "FLOW_START", {**flow, "node_args": {"n": index}, "queue": "flows"}),
    ]
    clock = base + 0.002
    for number, name in enumerate(TASKS):
        task_id = f"{index:08x}-{number + 1:04x}-4000-8000-000000000001"
        worker = HOSTS[(index + number) % len(HOSTS)]
        task = {**flow, "task_name": name, "task_id": task_id, "queue": name.split(".")[1], "parent": flow_id}
        where = {"hostname": f"celery@{worker}", "pid": 1000 + number}
        events.append((clock, host, "TASK_SCHEDULE", {**task, "countdown": None, "node_args": {"n": index}}))
        runtime = 0.01 + (index * 7 + number * 13) % 100 / 1000
        start = clock + 0.003
        events.append((start, worker, "TASK_START", {**task, **where, "retried_count": 0}))
        attempt = 0
        if index % 50 == number:
            what = "Traceback (most recent call last):\n  ...\nConnectionError: reset"
            retry = {**task, **where, "retried_count": 0, "what": what, "retry_countdown": 0.5}
            events.append((start + runtime, worker, "TASK_RETRY", retry))
            start += runtime + 0.5
            attempt = 1  # the attempt after the retry: its start and its end both carry retried_count 1
            events.append((start, worker, "TASK_START", {**task, **where, "retried_count": attempt}))
        if index % 97 == number:
            what = "Traceback (most recent call last):\n  ...\nValueError: bad input"
            failure = {**task, **where, "retried_count": attempt, "what": what, "exc_type": "ValueError"}
            events.append((start + runtime, worker, "TASK_FAILURE", failure))
        else:
            events.append(
                (
                    start + runtime,
                    worker,
                    "TASK_END",
                    {**task, **where, "retried_count": attempt, "runtime": runtime},
                )
            )
        clock = start + runtime + 0.001
    events.append((clock, host, "DISPATCHER_RETRY", {**flow, "retry": 0, "queue": "flows", "parent": None}))
    events.append((clock + 0.2, host, "DISPATCHER_WAKEUP", {**flow, "retry": 1, "queue": "flows"}))
    events.append((clock + 0.201, host, "FLOW_END", {**flow, "state": {"finished": 3}}))
    return events


def write_trace(path: Path, count: int) -> int:
    """Write at least ``count`` events (whole flows) to ``path``, time-ordered; return how many."""
    written = 0
    pending: list[tuple[float, str, str, dict[str, Any]]] = []
    index = 0
    with path.open("wb") as out:
        while written < count:
            pending.extend(_flow_events(index))
            index += 1
            # A flow lasts under two seconds and flows start 50 ms apart: events older than the newest
            # flow's start minus 5 s can no longer be overtaken, so they are written out in order.
            horizon = index * 0.05 - 5.0
            pending.sort(key=lambda event: event[0])
            cut = next((i for i, event in enumerate(pending) if event[0] >= horizon), len(pending))
            for offset, host, event, details in pending[:cut]:
                when = (START + timedelta(seconds=offset)).isoformat()
                out.write(dumps({"event": event, "time": when, "details": details, "node": host}) + b"\n")
            written += cut
            del pending[:cut]
        for offset, host, event, details in pending:
            when = (START + timedelta(seconds=offset)).isoformat()
            out.write(dumps({"event": event, "time": when, "details": details, "node": host}) + b"\n")
            written += 1
    return written


_HERE = Path(__file__).resolve().parent

# The largest resident set of the process or of any child it waited for (summary --jobs forks some).
_PEAK = (
    "import resource\nprint(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
    " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024, file=sys.stderr)\n"
)

_CLI = """import sys, time
from selinon_celery_trace.cli import main
started = time.perf_counter()
code = 0
try:
    main({args!r})
except SystemExit as exit:
    code = exit.code
if code:
    raise SystemExit(f"selinon-trace exited with {{code}}")
print(time.perf_counter() - started, file=sys.stderr)
"""

_DUCKDB = """import sys, runpy
sys.argv = ["duckdb_summary.py", {path!r}]
runpy.run_path({script!r}, run_name="__main__")
"""


def run(code: str) -> tuple[float, float]:
    """Run Python ``code`` in a fresh process; return (the seconds it printed last, peak RSS in MiB)."""
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-c", code + _PEAK], capture_output=True, text=True, env=env)
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit code {done.returncode}")
    *_, seconds, peak = done.stderr.strip().splitlines()
    return float(seconds), float(peak)


def cli(*args: str) -> str:
    """The code that runs ``selinon-trace ARGS`` and prints its time."""
    return _CLI.format(args=list(args))


def trace_for(size: int) -> tuple[Path, Path, int]:
    """The trace of about ``size`` events and its gzip copy, written once (kept in the temporary folder)."""
    folder = Path(tempfile.gettempdir()) / "selinon-trace-bench"
    folder.mkdir(exist_ok=True)
    path = folder / f"trace-{size}-v2.jsonl"  # v2: the end after a retry carries retried_count 1
    packed = folder / f"trace-{size}-v2.jsonl.gz"
    if not packed.exists():
        started = time.perf_counter()
        partial = folder / f"trace-{size}.partial"
        write_trace(partial, size)
        partial.replace(path)
        with path.open("rb") as source, gzip.open(partial, "wb", 6) as target:
            shutil.copyfileobj(source, target, 1 << 20)
        partial.replace(packed)
        print(f"wrote {path} and its gzip copy in {time.perf_counter() - started:.1f}s", flush=True)
    with path.open("rb") as handle:
        events = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    return path, packed, events


def has_find() -> bool:
    """Whether this version of the CLI has the ``find`` command (another change adds it)."""
    code = "import sys\nfrom selinon_celery_trace.cli import cli\nsys.exit('find' not in cli.commands)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True)
    return done.returncode == 0


def main() -> None:
    """Write the traces, run each job a few times, print the medians."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"{os.cpu_count()} CPUs; the median of {repeat} runs of each; peak RSS of the largest process")
    baseline = run(cli("--version"))[1]
    find = has_find()
    results: dict[tuple[int, str], tuple[float, float]] = {}
    for size in (count // 10, count):
        path, packed, events = trace_for(size)
        mib, gz_mib = path.stat().st_size / 2**20, packed.stat().st_size / 2**20
        print(f"\n{events:,} events ({mib:,.0f} MiB; gzip {gz_mib:,.0f} MiB)")
        flow = f"{(events // 16 // 2):08x}-0000"  # a flow in the middle, by a unique id prefix
        task = f"{(events // 16 // 2):08x}-0002"  # its second task
        jobs = [
            (
                "DuckDB read_ndjson (task and flow tables)",
                _DUCKDB.format(path=str(path), script=str(_HERE / "duckdb_summary.py")),
            ),
            ("summary", cli("summary", str(path))),
            ("show FLOW", cli("show", flow, str(path))),
            ("show TASK", cli("show", task, str(path))),
        ]
        if find:
            middle = events // 16 // 2  # the flow in the middle: its node_args are {"n": middle}
            jobs += [
                ("find --task TASK_ID", cli("find", "--task", task, str(path))),
                ("find --arg n=MIDDLE", cli("find", "--arg", f"n={middle}", str(path))),
                ("find --state failed", cli("find", "--state", "failed", str(path))),
                ("find --task example.store", cli("find", "--task", "example.store", str(path))),
            ]
        jobs += [
            ("summary of the .gz", cli("summary", str(packed))),
            ("show FLOW of the .gz", cli("show", flow, str(packed))),
        ]
        duckdb = 0.0
        for label, code in jobs:
            runs = [run(code) for _ in range(repeat)]
            seconds, peak = statistics.median(r[0] for r in runs), max(r[1] for r in runs)
            results[size, label] = (seconds, peak)
            duckdb = duckdb or seconds
            print(
                f"  {label:42} {seconds:6.2f}s  {seconds / duckdb:5.2f}x DuckDB  peak RSS {peak:6.1f} MiB",
                flush=True,
            )
        if not find:
            print("  (find: not in this version of the CLI, skipped)")
    print(f"\n(peak RSS of the interpreter with the CLI imported, doing nothing: {baseline:.1f} MiB)")
    for size, label in list(results):
        if size == count and not label.startswith("DuckDB"):
            growth = results[count, label][1] - results[count // 10, label][1]
            print(f"memory growth for 10x the events, {label}: {growth:+.1f} MiB")


if __name__ == "__main__":
    main()
