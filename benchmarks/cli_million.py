"""How long ``selinon-trace`` takes on a million events, and how much memory it needs.

Writes a synthetic trace of flows (wake-ups, three tasks each, some retried, some failing) with the
package's own JSON encoder, then runs the real console command in a subprocess and prints its wall
time and peak resident memory. The same is done for a tenth of the events: the two peaks should be
about equal, which is what "bounded memory" means here. Nothing is asserted; run it and read it::

    python benchmarks/cli_million.py            # 1,000,000 events
    python benchmarks/cli_million.py 200000     # another size
"""

from __future__ import annotations

import os
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


def measure(*args: str) -> tuple[float, float]:
    """Run ``selinon-trace ARGS`` in a fresh process; return (seconds, peak RSS in MiB)."""
    code = (
        "import resource, sys, time\n"
        "from selinon_celery_trace.cli import main\n"
        "started = time.perf_counter()\n"
        "code = 0\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "if code:\n"
        "    raise SystemExit(f'selinon-trace exited with {code}')\n"
        "elapsed = time.perf_counter() - started\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(f'{elapsed} {peak}', file=sys.stderr)\n"
    )
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    seconds, peak = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), float(peak)


def main() -> None:
    """Write the traces, run the commands, print a small table."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    baseline = measure("--version")[1]
    with tempfile.TemporaryDirectory(prefix="selinon-trace-bench-") as folder:
        rows = []
        for size in (count // 10, count):
            path = Path(folder) / f"trace-{size}.jsonl"
            started = time.perf_counter()
            events = write_trace(path, size)
            written = time.perf_counter() - started
            megabytes = path.stat().st_size / 2**20
            print(f"wrote {events:,} events ({megabytes:,.0f} MiB) in {written:.1f}s", flush=True)
            flow_id = f"{(events // 16 // 2):08x}-0000"  # a flow in the middle, by a unique id prefix
            for label, args in (
                ("summary", ("summary", str(path))),
                ("show (one pass)", ("show", flow_id, str(path))),
                ("timeline, no id (two passes)", ("timeline", "-o", str(Path(folder) / "t.html"), str(path))),
            ):
                seconds, peak = measure(*args)
                rows.append((events, label, seconds, peak))
                rate = events / seconds
                print(f"  {label:30} {seconds:6.2f}s  {rate:>12,.0f} events/s  peak RSS {peak:6.1f} MiB")
    print(f"(peak RSS of the interpreter with the CLI imported, doing nothing: {baseline:.1f} MiB)")
    small = {label: peak for events, label, _, peak in rows if events < count}
    large = {label: peak for events, label, _, peak in rows if events >= count}
    for label in large:
        print(f"memory growth for 10x the events, {label}: {large[label] - small[label]:+.1f} MiB")


if __name__ == "__main__":
    main()
