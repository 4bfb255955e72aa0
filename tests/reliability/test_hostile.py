"""Hostile input: any task argument or event detail gives one well-formed record per event in every sink."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from selinon_celery_trace import Trace
from tests.e2e.support import Broker, names, running
from tests.reliability.hostile import Unorderable, Unprintable, deep, hostile_details, hostile_values, shape
from tests.reliability.outputs import AllSinks, eager_app
from tests.reliability.support import RelWorker, whole_lines

PROPERTY = settings(
    max_examples=int(os.environ.get("SELINON_TEST_HOSTILE_EXAMPLES", "60")),  # more for a deeper search
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
LINE_BOUND = 1 << 20  # bytes: what at most 5 values of 12 bounded leaves can take, whatever their size
SINKS = ("json file", "json streams", "logging", "function")


@pytest.fixture
def traced_eager(tmp_path: Path) -> Iterator[tuple[Any, AllSinks]]:
    """An eager app traced to every built-in sink at once."""
    app = eager_app()
    outputs = AllSinks(tmp_path)
    outputs.install(app)
    try:
        yield app, outputs
    finally:
        outputs.uninstall(app)
        app.close()


@PROPERTY
@given(value=hostile_values, details=hostile_details)
def test_any_task_arguments_give_one_record_per_event_in_every_sink(
    traced_eager: tuple[Any, AllSinks], value: Any, details: dict[str, Any]
) -> None:
    """A task called with any arguments returns them untouched, and each sink has one START and one END."""
    app, outputs = traced_eager
    outputs.clear()
    before = (shape(value), shape(details))
    result = app.tasks["hostile.identity"].apply(args=[value], kwargs=details)

    assert result.successful() and result.get() is value
    assert (shape(value), shape(details)) == before, "the tracer changed the task's arguments"
    found = outputs.outputs()
    for sink in SINKS:
        assert [event for event, _ in found[sink]] == ["TASK_START", "TASK_END"], sink
        assert all(d["task_id"] == result.id for _, d in found[sink]), sink
        assert found[sink][0][1]["node_args"]["kwargs"].keys() <= {str(k) for k in details}, sink
    assert max(map(len, outputs.lines())) < LINE_BOUND
    assert Trace.errors() == {}


@PROPERTY
@given(details=hostile_details, event=hostile_values)
def test_any_details_logged_directly_give_one_record_per_sink(
    traced_eager: tuple[Any, AllSinks], details: dict[str, Any], event: Any
) -> None:
    """``Trace.log`` with any details (and a bogus extra value) writes one well-formed record to each sink."""
    _app, outputs = traced_eager
    outputs.clear()
    details = {**details, "extra": event}
    Trace.log(Trace.FLOW_END, details)

    found = outputs.outputs(adapted=False)
    for sink in ("json file", "json streams", "logging"):
        assert [name for name, _ in found[sink]] == ["FLOW_END"], sink
        assert found[sink][0][1].keys() == {*details}, sink
    assert found["function"] == [("FLOW_END", details)]
    assert found["function"][0][1] is not details, "a function sink gets a copy of its own (as in Selinon)"
    assert Trace.errors() == {}


def test_an_unsortable_set_loses_only_itself(traced_eager: tuple[Any, AllSinks]) -> None:
    """A set whose members cannot be ordered is rendered on its own; the details around it are kept."""
    app, outputs = traced_eager
    tags = {Unorderable(), Unorderable()}
    result = app.tasks["hostile.identity"].apply(args=["kept"], kwargs={"tags": tags, "user": "ada"})
    assert result.get() == "kept"
    Trace.log(Trace.FLOW_END, {"flow_name": "kept", "tags": tags})

    found = outputs.outputs(adapted=False)
    for sink in ("json file", "json streams", "logging"):
        (start, start_details), _end, (flow_end, flow_details) = found[sink]
        assert start == "TASK_START" and flow_end == "FLOW_END", sink
        assert flow_details["flow_name"] == "kept", sink  # today the whole details are one string
        kwargs = start_details["node_args"]["kwargs"]  # today node_args is one string
        assert kwargs["user"] == "ada" and len(kwargs["tags"]) == 2, sink


HUNDRED_MB = 100 * 1024 * 1024
SMALL_LINE = 16 * 1024


def test_a_hundred_megabyte_argument_gives_small_lines(traced_eager: tuple[Any, AllSinks]) -> None:
    """A 100 MB string and 100 MB of bytes as arguments: each sink's lines stay a few kilobytes, saying so."""
    app, outputs = traced_eager
    text, raw = "t" * HUNDRED_MB, b"b" * HUNDRED_MB
    started = time.perf_counter()
    result = app.tasks["hostile.identity"].apply(args=[text], kwargs={"raw": raw})
    traced_seconds = time.perf_counter() - started
    assert result.get() is text

    found = outputs.outputs()
    for sink in SINKS:
        assert [event for event, _ in found[sink]] == ["TASK_START", "TASK_END"], sink
        node_args = found[sink][0][1]["node_args"]
        assert node_args["args"][0].endswith(f"...[truncated {HUNDRED_MB - 2048} chars]")
        assert node_args["kwargs"]["raw"].endswith(f"...[truncated {HUNDRED_MB - 2048} bytes]")
    sizes = [len(line) for line in outputs.lines()]
    assert len(sizes) == 6 and max(sizes) < SMALL_LINE, sizes
    print(f"\n100 MB argument: task traced in {traced_seconds:.2f}s; longest line {max(sizes)} bytes")


CYCLE_WITH_BIG_VALUE = """
import json, sys, tracemalloc
from celery import Celery
import selinon_celery_trace
from selinon_celery_trace import Trace

app = Celery("cycle", set_as_current=False)
app.conf.update(broker_url="memory://", selinon_trace=[{"json": {"path": sys.argv[1]}}])

@app.task(name="cycle.size", shared=False)
def size(value):
    return len(value["big"])

selinon_celery_trace.install(app)
value = {"big": "x" * 2_000_000}
value["self"] = value
tracemalloc.start()  # Python's allocations, orjson's buffers included: exact, unlike peak RSS
if sys.argv[2] == "task":
    assert size.apply(args=[value]).get() == 2_000_000
else:
    Trace.log(Trace.FLOW_END, {"loop": value})
print(tracemalloc.get_traced_memory()[1] // (1024 * 1024))
"""


@pytest.mark.parametrize("path", ["task", "direct"])
def test_a_big_value_in_a_cycle_costs_no_more_than_its_size(tmp_path: Path, path: str) -> None:
    """A 2 MB string in a self-referencing argument (or directly logged details) costs little memory.

    Without the cycle check orjson would write the string 254 times (about 500 MB) before failing.
    """
    run = subprocess.run(
        [sys.executable, "-c", CYCLE_WITH_BIG_VALUE, str(tmp_path / "trace.jsonl"), path],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    growth = int(run.stdout)
    print(f"\npeak memory added by a 2 MB string in a cycle ({path}): {growth} MB")
    lines = (tmp_path / "trace.jsonl").read_bytes().split(b"\n")[:-1]
    assert lines and max(map(len, lines)) < 2 * 1024 * 1024
    assert growth < 32, growth  # a fixed encoder adds a few MB


def _pickled_hostile(secret: str) -> dict[Any, Any]:
    value: dict[Any, Any] = {
        1: "int key",
        (2, "t"): "tuple key",
        None: math.nan,
        "inf": [math.inf, -math.inf],
        "big": 2**100,
        "raw": b"\xff\x00" * 10,
        "text": "one\u2028two\x85three\nfour",
        "set": {3, 1, 2},
        "deep": deep(300),
        "unprintable": Unprintable(),
        "huge": "h" * 5_000_000,
        "db_password": secret,
    }
    value["self"] = value
    return value


@pytest.mark.e2e
def test_hostile_argument_through_a_real_worker(
    rel_broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A cyclic, deep, 5 MB argument with odd keys and a secret, and a 100 MB result, in a prefork worker."""
    worker = RelWorker(
        rel_broker,
        tmp_path_factory.mktemp("hostile-worker"),
        {"REL_SERIALIZER": "pickle", "C_FORCE_ROOT": "1"},
    )
    record_file = worker.trace.path.with_name("function-sink.txt")
    worker.configure(
        REL_RECORD_FILE=str(record_file),
        REL_SINKS=json.dumps(
            [
                {"json": {"path": str(worker.trace.path)}},
                {"json": True},  # stdout and stderr: redirected into the worker's log by Celery
                {"logging": True},
                {"function": {"import": "tests.reliability.sinks", "name": "record"}},
            ]
        ),
    )
    secret = "pickled-secret-8d1c"
    with running(worker):
        result = worker.app.send_task(
            "rel.echo",
            args=[_pickled_hostile(secret)],
            kwargs={"odd": {1.5: math.nan}},
            argsrepr="(hostile,)",  # Celery's own log line would call the unprintable repr
        )
        assert result.get(timeout=60) == "dict:1"
        big = worker.app.send_task("rel.big_result", args=[HUNDRED_MB])  # a 100 MB result nobody stores
        events = worker.trace.wait({result.id: ["TASK_END"], big.id: ["TASK_END"]}, settle=0.5)
        seen = events[result.id]
        data = worker.trace.path.read_bytes()
        log = worker.log_text()
    records = whole_lines(data)
    assert names(seen) == ["TASK_START", "TASK_END"]
    node_args = seen[0]["details"]["node_args"]
    argument = node_args["args"][0]
    assert argument["db_password"] == "[redacted]"
    assert argument["self"] == "<cycle>" and argument["1"] == "int key"
    assert argument["huge"].endswith("[truncated 4997952 chars]")
    assert argument["unprintable"] == "<Unprintable>"  # its raising __repr__ is never called
    assert names(events[big.id]) == ["TASK_START", "TASK_DISCARD_RESULT", "TASK_END"]
    discarded = events[big.id][1]["details"]["result"]
    assert discarded.endswith(f"...[truncated {HUNDRED_MB - 2048} chars]")
    assert max(len(line) for line in data.split(b"\n")) < SMALL_LINE
    # The two tasks' five events, and the worker's own WORKER_ONLINE.
    assert sorted(record["event"] for record in records) == [
        "TASK_DISCARD_RESULT",
        "TASK_END",
        "TASK_END",
        "TASK_START",
        "TASK_START",
        "WORKER_ONLINE",
    ]

    logged = [line for line in log.splitlines() if result.id in line]
    assert len([line for line in logged if " - TASK_START : " in line]) == 1, "logging sink"
    assert len([line for line in logged if '{"event":"TASK_START"' in line]) == 1, "json sink on stdout"
    assert len([line for line in logged if '{"event":"TASK_END"' in line]) == 1, "json sink on stdout"
    recorded = [line for line in record_file.read_text().splitlines() if result.id in line]
    assert [line.split(" ", 1)[0] for line in recorded] == ["3", "5"], "function sink"
    for output in (data.decode(), log, record_file.read_text()):
        assert secret not in output
