"""Following the trace file while the worker writes it: each new event, and what the run has done so far.

The runner reads ``trace.jsonl`` as it grows (the worker's pool processes append whole lines), prints
each event with the package's own line renderer (:func:`selinon_celery_trace.cli.render_record`)
and keeps a :class:`RunState` from the same events: which flows ended or failed, which tasks ran,
retried or failed. The run is over when every submitted flow ended or failed and every task that was
sent finished (``notify`` is sent by ``publish`` and may still run after its flow ended).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from selinon_celery_trace.cli.reading.fields import error_line
from selinon_celery_trace.cli.reading.lines import Record, parse_line

__all__ = ["FlowOutcome", "RunState", "TraceTail"]

_TASK_DONE: Final = frozenset({"TASK_END", "TASK_FAILURE"})


class TraceTail:
    """Reads the complete lines added to a JSON-lines file since the last call (``tail -f``, polled)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._pending = b""
        self.skipped = 0
        """Lines that were not trace events (there should be none)."""

    def read(self) -> Iterator[Record]:
        """Yield the records of the lines completed since the last call; a partial line waits."""
        try:
            with open(self.path, "rb") as stream:
                stream.seek(self._offset)
                chunk = stream.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            record = parse_line(line)
            if isinstance(record, Record):
                yield record
            else:
                self.skipped += 1


@dataclass
class FlowOutcome:
    """What one submitted flow did, as its events tell."""

    doc_id: str
    flow_id: str
    expected: str
    """``"ended"`` or ``"failed"``: what the example is designed to show for this document."""
    status: str = "submitted"
    """``submitted``, ``running``, ``ended`` or ``failed``."""
    started: float | None = None
    finished: float | None = None
    failed_node: str | None = None
    error: str | None = None
    retried: list[str] = field(default_factory=list)
    """The node names of the flow's tasks that retried, once per retry."""

    @property
    def done(self) -> bool:
        """True once the flow ended or failed."""
        return self.status in ("ended", "failed")

    @property
    def as_designed(self) -> bool:
        """True when the flow finished the way the example means it to."""
        return self.status == self.expected

    @property
    def duration(self) -> float | None:
        """Seconds from FLOW_START to FLOW_END / FLOW_FAILURE."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


@dataclass
class RunState:
    """The run so far, folded from trace events."""

    flows: dict[str, FlowOutcome] = field(default_factory=dict)
    """The submitted flows by dispatcher id (= the dispatcher's task id)."""
    events: int = 0
    sent: set[str] = field(default_factory=set)
    """Ids of the tasks published (TASK_SCHEDULE), dispatchers excluded."""
    finished: set[str] = field(default_factory=set)
    attempts: int = 0
    retries: int = 0
    failures: int = 0
    warnings: int = 0
    tasks_by_name: dict[str, int] = field(default_factory=dict)

    def expect(self, doc_id: str, flow_id: str, expected: str) -> None:
        """Register a submitted flow and the outcome it is designed to have."""
        self.flows[flow_id] = FlowOutcome(doc_id, flow_id, expected)

    def add(self, record: Record) -> None:
        """Fold one event into the state."""
        self.events += 1
        name, details = record.event, record.details
        task_id = details.get("task_id")
        flow = self.flows.get(str(details.get("dispatcher_id")))
        if name == "TASK_SCHEDULE" and isinstance(task_id, str) and task_id not in self.flows:
            self.sent.add(task_id)
        elif name == "TASK_START":
            self.attempts += 1
            task_name = str(details.get("task_name"))
            if not details.get("retried_count"):
                self.tasks_by_name[task_name] = self.tasks_by_name.get(task_name, 0) + 1
        elif name == "TASK_RETRY":
            self.retries += 1
        elif name == "TASK_FAILURE":
            self.failures += 1
        if name in _TASK_DONE and isinstance(task_id, str):
            self.finished.add(task_id)
        if name in ("TASK_RETRY", "TASK_FAILURE", "NODE_FAILURE", "FLOW_FAILURE", "DISPATCHER_FAILURE"):
            self.warnings += 1
        if flow is None:
            return
        if name == "FLOW_START":
            flow.status, flow.started = "running", record.ts
        elif name == "FLOW_END":
            flow.status, flow.finished = "ended", record.ts
        elif name == "FLOW_FAILURE":
            flow.status, flow.finished = "failed", record.ts
            flow.error = flow.error or error_line(details.get("what"))
        elif name == "TASK_RETRY":
            flow.retried.append(str(details.get("node_name") or details.get("task_name")))
        elif name == "NODE_FAILURE":
            flow.failed_node = str(details.get("node_name"))
            flow.error = error_line(details.get("what"))

    @property
    def flows_done(self) -> int:
        """How many submitted flows ended or failed."""
        return sum(flow.done for flow in self.flows.values())

    @property
    def running_tasks(self) -> set[str]:
        """Tasks sent that have not finished yet (a retried task is running until its last attempt)."""
        return self.sent - self.finished

    @property
    def complete(self) -> bool:
        """True when every flow is done and every task that was sent finished."""
        return self.flows_done == len(self.flows) and not self.running_tasks

    @property
    def as_designed(self) -> bool:
        """True when every flow finished the way the example means it to."""
        return all(flow.as_designed for flow in self.flows.values())

    def describe_pending(self) -> str:
        """What is still outstanding, for a timeout message."""
        parts = [f"{flow.doc_id} ({flow.status})" for flow in self.flows.values() if not flow.done]
        if self.running_tasks:
            parts.append(f"{len(self.running_tasks)} task(s) without a final event")
        return ", ".join(parts) or "nothing"


def short(value: Any, limit: int = 100) -> str:
    """One line of at most ``limit`` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
