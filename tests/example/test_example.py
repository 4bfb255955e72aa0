"""The example project end to end: ``python -m example_project`` on the embedded default and on Redis."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from example_project.celeryconfig import celery_config
from example_project.settings import Settings
from tests.example.support import (
    REPO_ROOT,
    ExampleRun,
    example_command,
    example_env,
    processes_with,
    wait_gone,
)

GOOD = ("q3-report", "release-notes")
BAD = "scanned-contract"
NODES = ["fetch", "parse", "index", "thumbnail", "publish"]
TASK_EVENTS = {"TASK_SCHEDULE", "TASK_START", "TASK_END", "TASK_FAILURE", "TASK_RETRY", "TASK_DISCARD_RESULT"}
FLOW_EVENTS = {"DISPATCHER_WAKEUP", "FLOW_START", "DISPATCHER_RETRY"}


def _flows(records: list[dict[str, Any]]) -> dict[str, str]:
    """Document id -> dispatcher id, from the FLOW_START events of the submitted (top-level) flows."""
    return {
        r["details"]["node_args"]["args"][0]: r["details"]["dispatcher_id"]
        for r in records
        if r["event"] == "FLOW_START" and not r["details"].get("parent_dispatcher_id")
    }


def _subflows(records: list[dict[str, Any]]) -> dict[str, str]:
    """Subflow dispatcher id -> the dispatcher id of the flow that scheduled it (SUBFLOW_SCHEDULE)."""
    return {
        r["details"]["dispatcher_id"]: r["details"]["parent_dispatcher_id"]
        for r in records
        if r["event"] == "SUBFLOW_SCHEDULE"
    }


def _of_flow(records: list[dict[str, Any]], dispatcher_id: str) -> list[dict[str, Any]]:
    return [r for r in records if r["details"].get("dispatcher_id") == dispatcher_id]


def _by_task(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record["event"] in TASK_EVENTS:
            grouped[record["details"]["task_id"]].append(record)
    return grouped


@pytest.mark.e2e
def test_the_run_goes_as_designed_and_says_so(example_run: ExampleRun) -> None:
    """The runner exits 0, left no process behind, and its summary names the outcome and the trace file."""
    assert example_run.returncode == 0, example_run.explain()
    out = example_run.stdout
    assert "Summary" in out
    assert "Done: the run went as designed (2 flows ended, 1 failed on purpose)." in out
    assert str(example_run.trace_file) in out
    assert "failed" in out and "at parse: UnreadableDocument" in out
    assert "Stopping the worker (warm shutdown) ... stopped" in out
    assert "Traceback" not in example_run.stderr, example_run.stderr


@pytest.mark.e2e
def test_good_flows_start_and_end_with_every_node_once(example_run: ExampleRun) -> None:
    """Each good document's flow goes FLOW_START .. FLOW_END, each of its five nodes reported once."""
    records = example_run.records()
    flows = _flows(records)
    assert set(flows) == {*GOOD, BAD}, example_run.explain()
    for doc in GOOD:
        events = _of_flow(records, flows[doc])
        names = [r["event"] for r in events]
        # The client traces its submission (TASK_SCHEDULE of the dispatcher, with the flow's own id).
        assert names[:3] == ["TASK_SCHEDULE", "DISPATCHER_WAKEUP", "FLOW_START"], names
        assert events[0]["details"]["task_id"] == flows[doc]
        assert events[0]["details"]["task_name"] == "example.document_flow"
        assert names.count("FLOW_START") == 1 and names.count("FLOW_END") == 1
        assert "FLOW_FAILURE" not in names and "NODE_FAILURE" not in names
        # Every wake-up but the last ends by rescheduling the dispatcher.
        assert names.count("DISPATCHER_WAKEUP") == names.count("DISPATCHER_RETRY") + 1, names
        succeeded = [r["details"]["node_name"] for r in events if r["event"] == "NODE_SUCCESSFUL"]
        assert sorted(succeeded) == sorted(NODES)
        end = names.index("FLOW_END")
        assert all(r["event"] not in FLOW_EVENTS for r in events[end:]), "the dispatcher ran after FLOW_END"


@pytest.mark.e2e
def test_the_bad_document_fails_its_flow(example_run: ExampleRun) -> None:
    """The scan's parse fails for good: TASK_FAILURE, then NODE_FAILURE and FLOW_FAILURE, no FLOW_END."""
    records = example_run.records()
    events = _of_flow(records, _flows(records)[BAD])
    names = [r["event"] for r in events]
    assert "FLOW_END" not in names
    assert names.count("FLOW_FAILURE") == 1 and names.count("NODE_FAILURE") == 1
    (failure,) = [r for r in events if r["event"] == "TASK_FAILURE"]
    assert failure["details"]["task_name"] == "example.parse"
    assert failure["details"]["exc_type"] == "UnreadableDocument"
    (node_failure,) = [r for r in events if r["event"] == "NODE_FAILURE"]
    assert node_failure["details"]["node_name"] == "parse"
    assert node_failure["details"]["node_id"] == failure["details"]["task_id"]
    assert "UnreadableDocument" in node_failure["details"]["what"]
    assert names.index("TASK_FAILURE") < names.index("NODE_FAILURE") < names.index("FLOW_FAILURE")
    assert not [
        r for r in events if r["event"] == "TASK_SCHEDULE" and r["details"]["task_name"] == "example.index"
    ]


@pytest.mark.e2e
def test_the_transient_failure_retries_then_ends(example_run: ExampleRun) -> None:
    """release-notes' fetch: attempt 1 ends in TASK_RETRY, attempt 2 in TASK_END, under one task id."""
    records = example_run.records()
    events = _of_flow(records, _flows(records)["release-notes"])
    (fetch_id,) = {
        r["details"]["task_id"]
        for r in events
        if r["event"] == "TASK_SCHEDULE" and r["details"].get("node_name") == "fetch"
    }
    attempts = [
        (r["event"], r["details"]["retried_count"])
        for r in _by_task(records)[fetch_id]
        if r["event"] != "TASK_SCHEDULE"
    ]
    assert sorted(attempts) == sorted(
        [("TASK_START", 0), ("TASK_RETRY", 0), ("TASK_START", 1), ("TASK_END", 1)]
    ), attempts
    (retry,) = [r for r in records if r["event"] == "TASK_RETRY"]  # the only retry of the run
    assert retry["details"]["exc_type"] == "SourceTimeout"
    assert retry["details"]["retry_countdown"] == 0.5


@pytest.mark.e2e
def test_every_task_event_names_its_queue_task_and_flow(example_run: ExampleRun) -> None:
    """TASK_* events carry queue and task_id; every task, notify included, carries its flow's context."""
    records = example_run.records()
    flows = _flows(records)
    subflows = _subflows(records)
    documents, media = ("documents", "media")
    task_events = [r for r in records if r["event"] in TASK_EVENTS]
    assert task_events
    for record in task_events:
        details = record["details"]
        assert details["task_id"], record
        expected_queue = media if details["task_name"] == "example.thumbnail" else documents
        assert details["queue"] is not None and details["queue"].endswith(expected_queue), record
        if details["task_name"] == "example.thumbnail":  # the one task of the thumbnail_flow subflow
            assert details["flow_name"] == "thumbnail_flow", record
            assert subflows[details["dispatcher_id"]] in flows.values(), record
        else:
            assert details["flow_name"] == "document_flow", record
            assert details["dispatcher_id"] in flows.values(), record
    for record in records:
        if record["event"] in FLOW_EVENTS:
            assert record["details"]["queue"].endswith(documents), record
    # notify is sent by publish, not by the dispatcher: same flow, and publish is its parent.
    tasks = _by_task(records)
    for doc in GOOD:
        flow_events = _of_flow(records, flows[doc])
        (notify,) = [
            r
            for r in flow_events
            if r["event"] == "TASK_SCHEDULE" and r["details"]["task_name"] == "example.notify"
        ]
        (publish,) = [
            r
            for r in flow_events
            if r["event"] == "TASK_START" and r["details"]["task_name"] == "example.publish"
        ]
        assert notify["details"]["parent"] == publish["details"]["task_id"]
        assert "node_name" not in notify["details"]  # not a node of the flow
        assert notify["details"]["node_args"]["kwargs"]["webhook_token"] == "[redacted]"
        assert [r["event"] for r in tasks[notify["details"]["task_id"]]] == [
            "TASK_SCHEDULE",
            "TASK_START",
            "TASK_END",
        ]
    counts = Counter(r["event"] for r in records)
    assert counts["TASK_END"] == 13 and counts["TASK_FAILURE"] == 1 and counts["TASK_RETRY"] == 1, counts


@pytest.mark.e2e
def test_the_thumbnail_node_is_a_subflow_with_its_own_dispatcher(example_run: ExampleRun) -> None:
    """Each good flow schedules thumbnail_flow (SUBFLOW_SCHEDULE), which runs thumbnail and ends first."""
    records = example_run.records()
    flows = _flows(records)
    subflows = _subflows(records)
    assert sorted(subflows.values()) == sorted(flows[doc] for doc in GOOD), subflows
    for sub_id, parent_id in subflows.items():
        names = [r["event"] for r in _of_flow(records, sub_id)]
        assert names[:3] == ["SUBFLOW_SCHEDULE", "DISPATCHER_WAKEUP", "FLOW_START"], names
        assert names.count("FLOW_END") == 1 and "FLOW_FAILURE" not in names, names
        starts = [r for r in _of_flow(records, sub_id) if r["event"] == "TASK_START"]
        assert [r["details"]["task_name"] for r in starts] == ["example.thumbnail"]
        wakeups = [r for r in _of_flow(records, sub_id) if r["event"] == "DISPATCHER_WAKEUP"]
        assert all(r["details"]["parent_dispatcher_id"] == parent_id for r in wakeups)
        (node,) = [
            r
            for r in _of_flow(records, parent_id)
            if r["event"] == "NODE_SUCCESSFUL" and r["details"]["node_name"] == "thumbnail"
        ]
        assert node["details"]["node_id"] == sub_id


@pytest.mark.e2e
def test_the_logging_sink_writes_the_worker_log(example_run: ExampleRun) -> None:
    """The configuration's logging sink puts SELINON lines into the worker's log."""
    log = (example_run.state_dir / "worker.log").read_text(encoding="utf-8", errors="replace")
    assert " - FLOW_FAILURE : " in log and " - TASK_RETRY : " in log
    assert "SELINON " in log


@pytest.mark.e2e
def test_selinon_trace_reads_the_trace(example_run: ExampleRun) -> None:
    """``selinon-trace summary`` and ``show`` run on the produced file and exit 0."""
    trace = str(example_run.trace_file)
    summary = subprocess.run(
        [sys.executable, "-m", "selinon_celery_trace", "summary", trace],
        capture_output=True,
        text=True,
        timeout=60,
        env=example_env(),
        check=False,
    )
    assert summary.returncode == 0, summary.stderr
    assert "example.fetch" in summary.stdout and "document_flow" in summary.stdout
    flow_id = _flows(example_run.records())["release-notes"]
    show = subprocess.run(
        [sys.executable, "-m", "selinon_celery_trace", "show", flow_id[:8], trace],
        capture_output=True,
        text=True,
        timeout=60,
        env=example_env(),
        check=False,
    )
    assert show.returncode == 0, show.stderr
    assert "example.publish" in show.stdout


@pytest.mark.e2e
def test_ctrl_c_stops_the_worker(tmp_path: Path) -> None:
    """SIGINT while flows run: the runner stops the worker, exits 130, and no worker process remains."""
    state_dir = tmp_path / "state"
    out = tmp_path / "out.txt"
    with open(out, "wb") as sink:
        runner = subprocess.Popen(
            example_command("--state-dir", str(state_dir)),
            cwd=REPO_ROOT,
            env=example_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        trace = state_dir / "trace.jsonl"
        deadline = time.monotonic() + 60
        while not (trace.exists() and trace.stat().st_size > 0):  # the worker is up and running flows
            assert runner.poll() is None, out.read_text()
            assert time.monotonic() < deadline, f"no trace event within 60s:\n{out.read_text()}"
            time.sleep(0.1)
        assert processes_with(str(state_dir)), "the worker's command line should name the state directory"
        runner.send_signal(signal.SIGINT)
        assert runner.wait(timeout=60) == 130, out.read_text()
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert not wait_gone(str(state_dir)), "worker processes left behind"
    text = out.read_text()
    assert "Interrupted." in text and "stopped" in text


def test_help_explains_the_options() -> None:
    """``--help`` lists every option and exits 0."""
    result = subprocess.run(
        example_command("--help"), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    for option in ("--broker", "--result-backend", "--state-dir", "--concurrency", "--timeout", "--no-live"):
        assert option in result.stdout


def test_the_configuration_enables_tracing_by_configuration_only(tmp_path: Path) -> None:
    """Tracing by ``imports`` + ``selinon_trace`` (logging, a JSON file); the default needs no server."""
    settings = Settings(state_dir=tmp_path)
    config = celery_config(settings)
    assert config["imports"][0] == "selinon_celery_trace.auto"
    assert config["selinon_trace"] == [{"logging": True}, {"json": {"path": str(tmp_path / "trace.jsonl")}}]
    assert config["broker_url"] == "filesystem://"
    assert config["broker_transport"] == "example_project.broker:Transport"
    assert config["result_backend"] == f"file://{tmp_path / 'results'}"
    options = config["broker_transport_options"]
    assert options["data_folder_in"] == options["data_folder_out"]
    assert Settings.from_env(settings.to_env()) == settings
    redis = Settings(state_dir=tmp_path, broker_url="redis://localhost:6379/0")
    assert redis.result_backend == "redis://localhost:6379/0"
    assert "broker_transport_options" not in celery_config(redis)


def test_the_embedded_broker_writes_whole_messages(tmp_path: Path) -> None:
    """A message is published under its final name only when complete, and is consumed as sent."""
    from kombu import Connection

    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path)}
    with Connection(
        "filesystem://", transport="example_project.broker:Transport", transport_options=options
    ) as connection:
        queue = connection.SimpleQueue("documents")
        queue.put({"doc_id": "q3-report"})
        names = [path.name for path in folder.iterdir()]
        assert len(names) == 1 and names[0].endswith(".documents.msg"), names
        message = queue.get(timeout=5)
        assert message.payload == {"doc_id": "q3-report"}
        message.ack()
        queue.close()
