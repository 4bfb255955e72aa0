"""``summary``'s workers section: each worker seen, when it was online, why it went away, what it lost.

WORKER_ONLINE / WORKER_OFFLINE (the worker's main process, at start and at shutdown) give a worker's
online spans; WORKER_PROCESS_LOST a pool process that died under it. A worker that names itself only in
task starts (``hostname``) is listed too, as seen. Memory: one tally per worker node name, with a
bounded list of its spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..reading.event_names import TASK_START, WORKER_OFFLINE, WORKER_ONLINE, WORKER_PROCESS_LOST
from ..reading.fields import as_float, as_int, as_str, signal_name
from ..reading.lines import Record

__all__ = ["Lost", "Span", "WorkerTally", "Workers"]

_SPANS_KEPT: Final = 20
"""Online spans kept per worker (the latest); the count of starts is always whole."""


@dataclass(slots=True)
class Span:
    """One time a worker was online: from WORKER_ONLINE to WORKER_OFFLINE (either may be missing)."""

    online: float | None
    offline: float | None = None
    reason: str | None = None  # warm / cold
    pid: str | None = None


@dataclass(frozen=True, slots=True)
class Lost:
    """A pool process that died: when, which, how, and the task it was running if any."""

    ts: float
    process_pid: str | None
    how: str | None  # "SIGKILL", "exit code 1"
    task_name: str | None
    task_id: str | None


@dataclass(slots=True)
class WorkerTally:
    """One worker (by node name, ``celery@host``)."""

    hostname: str
    pool: str | None = None
    concurrency: int | None = None
    queues: tuple[str, ...] = ()
    software: str | None = None
    starts: int = 0
    stops: int = 0
    spans: list[Span] = field(default_factory=list)
    lost: list[Lost] = field(default_factory=list)  # the latest few
    lost_count: int = 0
    task_runs: int = 0
    first_seen: float | None = None
    last_seen: float | None = None

    @property
    def online(self) -> bool | None:
        """Online at the end of the input: True, False, or None when its lifecycle events are not there."""
        if not self.spans:
            return None
        return self.spans[-1].offline is None


def _how(details: Mapping[str, Any]) -> str | None:
    how = signal_name(details.get("signal"))
    exitcode = as_int(details, "exitcode")
    if how is None and exitcode is not None and exitcode < 0:
        how = signal_name(-exitcode)  # multiprocessing's exit code of a process a signal killed
    return how or (f"exit code {exitcode}" if exitcode is not None else None)


class Workers:
    """Every worker seen in a stream of records."""

    def __init__(self) -> None:
        self.workers: dict[str, WorkerTally] = {}

    def _worker(self, name: str, ts: float) -> WorkerTally:
        worker = self.workers.get(name)
        if worker is None:
            worker = self.workers[name] = WorkerTally(name)
        if worker.first_seen is None or ts < worker.first_seen:
            worker.first_seen = ts
        if worker.last_seen is None or ts > worker.last_seen:
            worker.last_seen = ts
        return worker

    def task_run(self, name: str, ts: float) -> None:
        """Count a task start on the worker ``name`` at ``ts``."""
        self._worker(name, ts).task_runs += 1

    def add(self, record: Record) -> None:
        """Fold a worker's lifecycle event or a task start naming its worker (the caller picks those)."""
        ts, event, details, _ = record
        name = as_str(details, "hostname")
        if name is None:
            return
        if event == TASK_START:
            self.task_run(name, ts)
        elif event == WORKER_ONLINE:
            worker = self._worker(name, ts)
            worker.starts += 1
            worker.pool = as_str(details, "pool") or worker.pool
            worker.concurrency = as_int(details, "concurrency") or worker.concurrency
            queues = details.get("queues")
            if isinstance(queues, list):
                worker.queues = tuple(str(q) for q in queues)
            software = details.get("software")
            if isinstance(software, Mapping) and as_str(software, "celery"):
                worker.software = f"celery {as_str(software, 'celery')}"
            worker.spans.append(Span(ts, pid=as_str(details, "pid")))
            del worker.spans[:-_SPANS_KEPT]
        elif event == WORKER_OFFLINE:
            worker = self._worker(name, ts)
            worker.stops += 1
            span = worker.spans[-1] if worker.spans and worker.spans[-1].offline is None else None
            if span is None:  # its start is not in the input
                uptime = as_float(details, "uptime")
                span = Span(ts - uptime if uptime is not None else None, pid=as_str(details, "pid"))
                worker.spans.append(span)
                del worker.spans[:-_SPANS_KEPT]
            span.offline, span.reason = ts, as_str(details, "reason")
        elif event == WORKER_PROCESS_LOST:
            worker = self._worker(name, ts)
            worker.lost_count += 1
            worker.lost.append(
                Lost(
                    ts,
                    as_str(details, "process_pid"),
                    _how(details),
                    as_str(details, "task_name"),
                    as_str(details, "task_id"),
                )
            )
            del worker.lost[:-5]

    def merge(self, other: Workers) -> None:
        """Add the task starts another part of the input counted (its workers' own events are folded
        here in order, never there: see summary_parts.py)."""
        for name, theirs in other.workers.items():
            for ts in (theirs.first_seen, theirs.last_seen):
                if ts is not None:
                    self._worker(name, ts)
            self.workers[name].task_runs += theirs.task_runs
