"""Trace files for the CLI tests: realistic event sequences, encoded by the package's own writer.

The events follow SPEC section 4 as the Celery adapters emit them: a flow whose dispatcher wakes up
several times, parallel nodes on two hosts, a retry, a failure, a subflow that fails, a worker lost
without a TASK_START, a task outside any flow whose result is discarded, and a task still running at
the end. Lines are encoded with :func:`selinon_celery_trace.core.record.dumps`, as the json sink does.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from selinon_celery_trace.core.record import dumps

T0 = datetime(2026, 11, 28, 11, 46, 14, 238884, tzinfo=timezone.utc)

CRAWL_OK = "0a6f1c2e-6d0c-4f7e-9a51-6f3c1a0b9e01"  # a crawl flow that succeeded, earlier
CRAWL = "9a8b7c6d-1111-4e0f-8a2b-3c4d5e6f7081"  # the crawl flow that fails, the most recent
PARSE = "5e5e5e5e-2222-4d3c-9b8a-0f1e2d3c4b5a"  # its subflow, which fails
FETCH_1 = "3f2a9c1e-aaaa-4bbb-8ccc-000000000001"  # retried once, then succeeds
FETCH_2 = "3f2a9c1e-aaaa-4bbb-8ccc-000000000002"  # succeeds (shares FETCH_1's short id on purpose)
PARSE_PAGE = "7c7c7c7c-bbbb-4ccc-8ddd-000000000003"  # fails (in the subflow)
STORE = "d00dfeed-cccc-4ddd-8eee-000000000004"  # succeeds
RENDER = "bad0beef-dddd-4eee-8fff-000000000005"  # worker lost: TASK_FAILURE without TASK_START
OK_FETCH = "1b1b1b1b-eeee-4fff-8aaa-000000000006"  # the task of the earlier, successful flow
EMAIL = "e3a1e3a1-ffff-4aaa-8bbb-000000000007"  # outside any flow, result discarded
PING = "0e0e0e0e-abab-4cdc-8efe-000000000008"  # started, never ended

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/tasks.py", line 12, in fetch\n'
    "    response = session.get(url, timeout=5)\n"
    "ConnectionError: connection reset by peer (example.com:443)\n"
)
PARSE_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "/app/tasks.py", line 40, in parse_page\n'
    "    raise ValueError('bad html: no <body>')\n"
    "ValueError: bad html: no <body>\n"
)

WORKERS = {
    ("host-a", 101): "celery@host-a",
    ("host-a", 102): "celery@host-a",
    ("host-b", 201): "celery@host-b",
}


@dataclass
class TraceBuilder:
    """Collects events as (time, host, line) and writes them the way the json sink would."""

    events: list[tuple[datetime, str, str, dict[str, Any]]] = field(default_factory=list)

    def add(self, seconds: float, host: str, event: str, **details: Any) -> None:
        """Record ``event`` emitted on ``host`` at ``T0 + seconds``."""
        self.events.append((T0 + timedelta(seconds=seconds), host, event, details))

    def lines(self, host: str | None = None) -> list[bytes]:
        """All lines in time order, optionally only those one host wrote."""
        ordered = sorted(self.events, key=lambda item: item[0])
        return [
            dumps({"event": event, "time": when.isoformat(), "details": details, "node": node}) + b"\n"
            for when, node, event, details in ordered
            if host is None or node == host
        ]


def _task(
    name: str, task_id: str, flow: tuple[str, str] | None, queue: str, parent: str | None
) -> dict[str, Any]:
    return {
        "task_name": name,
        "task_id": task_id,
        "queue": queue,
        "parent": parent,
        "dispatcher_id": flow[1] if flow else None,
        "flow_name": flow[0] if flow else None,
        "node_args": {"url": "https://example.com/"},
    }


def _start(b: TraceBuilder, at: float, host: str, pid: int, base: dict[str, Any], retried: int = 0) -> None:
    b.add(at, host, "TASK_START", **base, retried_count=retried, hostname=WORKERS[(host, pid)], pid=pid)


def _wakeup(b: TraceBuilder, at: float, host: str, flow: tuple[str, str], retry: int, **extra: Any) -> None:
    b.add(
        at,
        host,
        "DISPATCHER_WAKEUP",
        dispatcher_id=flow[1],
        flow_name=flow[0],
        node_args={"url": "x"},
        state=None if retry == 0 else {"active": 1},
        retry=retry,
        queue="flows",
        selective=False,
        **extra,
    )


def scenario() -> TraceBuilder:
    """The whole story, on two hosts (see the module docstring)."""
    b = TraceBuilder()
    crawl_ok, crawl, parse = ("crawl", CRAWL_OK), ("crawl", CRAWL), ("parse", PARSE)

    # An earlier crawl flow that succeeds, with one fetch.
    b.add(
        0.000,
        "host-a",
        "TASK_SCHEDULE",
        **_task("example.crawl", CRAWL_OK, None, "flows", None),
        countdown=None,
        eta=None,
    )
    _wakeup(b, 0.005, "host-a", crawl_ok, 0)
    b.add(
        0.006,
        "host-a",
        "FLOW_START",
        dispatcher_id=CRAWL_OK,
        flow_name="crawl",
        node_args={"url": "x"},
        queue="flows",
    )
    b.add(
        0.007,
        "host-a",
        "TASK_SCHEDULE",
        **_task("example.fetch", OK_FETCH, crawl_ok, "fetch", CRAWL_OK),
        countdown=None,
    )
    b.add(
        0.008,
        "host-a",
        "DISPATCHER_RETRY",
        dispatcher_id=CRAWL_OK,
        flow_name="crawl",
        retry=0,
        queue="flows",
        state_dict={"active": [OK_FETCH]},
        parent=None,
    )
    base = _task("example.fetch", OK_FETCH, crawl_ok, "fetch", CRAWL_OK)
    _start(b, 0.010, "host-b", 201, base)
    b.add(
        0.110, "host-b", "TASK_END", **base, retried_count=0, hostname="celery@host-b", pid=201, runtime=0.1
    )
    _wakeup(b, 0.500, "host-a", crawl_ok, 1)
    b.add(
        0.501,
        "host-a",
        "NODE_SUCCESSFUL",
        dispatcher_id=CRAWL_OK,
        flow_name="crawl",
        node_name="example.fetch",
        node_id=OK_FETCH,
    )
    b.add(
        0.502, "host-a", "FLOW_END", dispatcher_id=CRAWL_OK, flow_name="crawl", state={"finished": [OK_FETCH]}
    )

    # A task outside any flow whose result no backend keeps.
    email = _task("example.send_email", EMAIL, None, "mail", None)
    b.add(0.600, "host-b", "TASK_SCHEDULE", **email, countdown=None, eta=None)
    _start(b, 0.610, "host-b", 201, email)
    b.add(
        0.640,
        "host-b",
        "TASK_DISCARD_RESULT",
        **email,
        retried_count=0,
        hostname="celery@host-b",
        pid=201,
        runtime=0.03,
        result={"sent": True},
    )

    # The crawl flow that fails: two parallel fetches (one retried), a failing subflow, a lost worker.
    s = 10.0
    b.add(
        s,
        "host-a",
        "TASK_SCHEDULE",
        **_task("example.crawl", CRAWL, None, "flows", None),
        countdown=None,
        eta=None,
    )
    _wakeup(b, s + 0.010, "host-a", crawl, 0)
    b.add(
        s + 0.011,
        "host-a",
        "FLOW_START",
        dispatcher_id=CRAWL,
        flow_name="crawl",
        node_args={"url": "x"},
        queue="flows",
    )
    for task_id in (FETCH_1, FETCH_2):
        b.add(
            s + 0.012,
            "host-a",
            "TASK_SCHEDULE",
            **_task("example.fetch", task_id, crawl, "fetch", CRAWL),
            countdown=None,
        )
    b.add(
        s + 0.013,
        "host-a",
        "SUBFLOW_SCHEDULE",
        **{**_task("example.parse", PARSE, crawl, "flows", CRAWL), "flow_name": "parse"},
        countdown=None,
        parent_dispatcher_id=CRAWL,
    )
    b.add(
        s + 0.014,
        "host-a",
        "DISPATCHER_RETRY",
        dispatcher_id=CRAWL,
        flow_name="crawl",
        retry=0,
        queue="flows",
        state_dict={"active": [FETCH_1, FETCH_2, PARSE]},
        parent=None,
    )
    fetch_1 = _task("example.fetch", FETCH_1, crawl, "fetch", CRAWL)
    fetch_2 = _task("example.fetch", FETCH_2, crawl, "fetch", CRAWL)
    _start(b, s + 0.020, "host-a", 101, fetch_1)
    _start(b, s + 0.021, "host-b", 201, fetch_2)

    _wakeup(b, s + 0.025, "host-b", parse, 0)
    b.add(
        s + 0.026,
        "host-b",
        "FLOW_START",
        dispatcher_id=PARSE,
        flow_name="parse",
        node_args={"url": "x"},
        queue="flows",
    )
    page = _task("example.parse_page", PARSE_PAGE, parse, "parse", PARSE)
    b.add(s + 0.027, "host-b", "TASK_SCHEDULE", **page, countdown=None)
    b.add(
        s + 0.028,
        "host-b",
        "DISPATCHER_RETRY",
        dispatcher_id=PARSE,
        flow_name="parse",
        retry=0,
        queue="flows",
        state_dict={"active": [PARSE_PAGE]},
        parent=CRAWL,
    )

    b.add(
        s + 0.300,
        "host-a",
        "TASK_RETRY",
        **fetch_1,
        retried_count=0,
        hostname="celery@host-a",
        pid=101,
        what=TRACEBACK,
        reason="connection reset by peer",
        retry_countdown=1.0,
        max_retry=3,
    )
    b.add(s + 0.301, "host-a", "TASK_SCHEDULE", **fetch_1, countdown=1.0)
    b.add(
        s + 0.400,
        "host-b",
        "TASK_END",
        **fetch_2,
        retried_count=0,
        hostname="celery@host-b",
        pid=201,
        runtime=0.379,
    )
    _start(b, s + 0.500, "host-a", 102, page)
    b.add(
        s + 0.700,
        "host-a",
        "TASK_FAILURE",
        **page,
        retried_count=0,
        hostname="celery@host-a",
        pid=102,
        what=PARSE_ERROR,
        exc_type="ValueError",
        max_retry=0,
    )

    _wakeup(b, s + 1.000, "host-a", crawl, 1)
    b.add(
        s + 1.001,
        "host-a",
        "NODE_SUCCESSFUL",
        dispatcher_id=CRAWL,
        flow_name="crawl",
        node_name="example.fetch",
        node_id=FETCH_2,
    )
    b.add(
        s + 1.002,
        "host-a",
        "DISPATCHER_RETRY",
        dispatcher_id=CRAWL,
        flow_name="crawl",
        retry=1,
        queue="flows",
        state_dict={},
        parent=None,
    )
    _wakeup(b, s + 1.010, "host-b", parse, 1)
    b.add(
        s + 1.011,
        "host-b",
        "NODE_FAILURE",
        dispatcher_id=PARSE,
        flow_name="parse",
        node_name="example.parse_page",
        node_id=PARSE_PAGE,
        what="ValueError: bad html: no <body>",
    )
    b.add(
        s + 1.012,
        "host-b",
        "FLOW_FAILURE",
        dispatcher_id=PARSE,
        flow_name="parse",
        state={},
        what="node example.parse_page failed: ValueError: bad html: no <body>",
    )

    _start(b, s + 1.320, "host-b", 201, fetch_1, retried=1)
    b.add(
        s + 1.900,
        "host-b",
        "TASK_END",
        **fetch_1,
        retried_count=1,
        hostname="celery@host-b",
        pid=201,
        runtime=0.58,
    )

    _wakeup(b, s + 2.000, "host-a", crawl, 2)
    b.add(
        s + 2.001,
        "host-a",
        "NODE_SUCCESSFUL",
        dispatcher_id=CRAWL,
        flow_name="crawl",
        node_name="example.fetch",
        node_id=FETCH_1,
    )
    b.add(
        s + 2.002,
        "host-a",
        "NODE_FAILURE",
        dispatcher_id=CRAWL,
        flow_name="crawl",
        node_name="parse",
        node_id=PARSE,
        what="flow parse failed",
    )
    store = _task("example.store", STORE, crawl, "store", CRAWL)
    render = _task("example.render", RENDER, crawl, "render", CRAWL)
    b.add(s + 2.003, "host-a", "TASK_SCHEDULE", **store, countdown=None)
    b.add(s + 2.004, "host-a", "TASK_SCHEDULE", **render, countdown=None)
    b.add(
        s + 2.005,
        "host-a",
        "DISPATCHER_RETRY",
        dispatcher_id=CRAWL,
        flow_name="crawl",
        retry=2,
        queue="flows",
        state_dict={},
        parent=None,
    )
    _start(b, s + 2.100, "host-a", 101, store)
    b.add(
        s + 2.350,
        "host-a",
        "TASK_END",
        **store,
        retried_count=0,
        hostname="celery@host-a",
        pid=101,
        runtime=0.25,
    )
    # The worker process running render died: the main process reports the failure, no start was seen.
    b.add(
        s + 4.000,
        "host-b",
        "TASK_FAILURE",
        **render,
        retried_count=0,
        hostname="celery@host-b",
        pid=None,
        what="WorkerLostError('Worker exited prematurely: signal 9 (SIGKILL) Job: 7.')",
        exc_type="WorkerLostError",
        max_retry=0,
    )

    _wakeup(b, s + 4.500, "host-a", crawl, 3)
    b.add(
        s + 4.501,
        "host-a",
        "NODE_SUCCESSFUL",
        dispatcher_id=CRAWL,
        flow_name="crawl",
        node_name="example.store",
        node_id=STORE,
    )
    b.add(
        s + 4.502,
        "host-a",
        "NODE_FAILURE",
        dispatcher_id=CRAWL,
        flow_name="crawl",
        node_name="example.render",
        node_id=RENDER,
        what="WorkerLostError",
    )
    b.add(
        s + 4.503,
        "host-a",
        "FLOW_FAILURE",
        dispatcher_id=CRAWL,
        flow_name="crawl",
        state={},
        what="nodes failed: parse, example.render",
    )

    # A task still running when the file ends.
    ping = _task("example.ping", PING, None, "celery", None)
    b.add(s + 5.000, "host-b", "TASK_SCHEDULE", **ping, countdown=None, eta=None)
    _start(b, s + 5.010, "host-b", 201, ping)
    return b


@dataclass
class TraceFiles:
    """The files written from :func:`scenario`, and how many events they hold."""

    combined: Path  # every event, plus a garbage line and a truncated last line
    host_a: Path
    host_b: Path
    gzipped: Path  # combined, gzip-compressed (no .gz suffix on purpose: content decides)
    events: int


def write_trace_files(folder: Path) -> TraceFiles:
    """Write the scenario as one combined file (with damage), one file per host, and a gzip copy."""
    builder = scenario()
    lines = builder.lines()
    damaged = [
        *lines[:5],
        b"celery@host-a ready.\n",
        *lines[5:],
        b'{"event": "TASK_START", "time": "2026-11-',
    ]
    combined = folder / "trace.jsonl"
    combined.write_bytes(b"".join(damaged))
    host_a = folder / "host-a.jsonl"
    host_a.write_bytes(b"".join(builder.lines("host-a")))
    host_b = folder / "host-b.jsonl"
    host_b.write_bytes(b"".join(builder.lines("host-b")))
    gzipped = folder / "trace-copy"
    gzipped.write_bytes(gzip.compress(b"".join(damaged)))
    return TraceFiles(combined, host_a, host_b, gzipped, len(lines))
