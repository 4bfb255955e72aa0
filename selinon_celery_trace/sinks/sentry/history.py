"""The Sentry sink's per-process history: breadcrumbs of recent events, filed per task and flow id.

Sentry's scopes cannot hold a flow's history: its Celery integration clears breadcrumbs for every task,
and a flow's events happen in many processes. So the sink keeps a small per-process :class:`History` of
recent breadcrumbs keyed by ``task_id`` and ``dispatcher_id`` (bounded in keys, per key and in bytes; a
key is dropped when its task or flow ends), and attaches to any Sentry event captured in this process the
breadcrumbs of the task or dispatcher running in the context (:data:`RUNNING`), and of its flow. For
FLOW_FAILURE that is the flow as the dispatcher's process saw it: its wake-ups, the nodes it scheduled,
NODE_SUCCESSFUL/NODE_FAILURE, and the events of those nodes that ran in the same process. Events that
belong to no task or flow become ordinary breadcrumbs of Sentry's current scope.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Final

from ...core.record import aware, dumps, event_name
from .kinds import FAILURE_EVENTS, SUBFLOW_SCHEDULE, TASK_SCHEDULE, WARN

__all__ = ["CATEGORY", "RUNNING", "VALUE_LIMIT", "History", "Running", "breadcrumb", "history_keys"]

CATEGORY: Final = "selinon_trace"
VALUE_LIMIT: Final = 256
"""Characters kept per string value in a breadcrumb's data (and of a failure message's last line)."""


class History:
    """Recent breadcrumbs per task and flow id, bounded in ids, per id and in (estimated) bytes.

    An event is filed under every id it names (``task_id`` and ``dispatcher_id``), so a node's events
    are part of its own history and of its flow's. Ids are evicted least-recently-used, and dropped
    when their task or flow ends (:meth:`forget`): no per-task state outlives its task.
    """

    def __init__(self, max_ids: int = 256, per_id: int = 50, max_bytes: int = 1 << 20) -> None:
        self.max_ids = max_ids
        self.per_id = per_id
        self.max_bytes = max_bytes
        self.bytes = 0
        self._lock = threading.Lock()
        self._by_id: OrderedDict[str, deque[tuple[dict[str, Any], int]]] = OrderedDict()

    def add(self, keys: Iterable[str], crumb: dict[str, Any], size: int) -> None:
        """File ``crumb`` (about ``size`` bytes) under each of ``keys``."""
        with self._lock:
            for key in keys:
                crumbs = self._by_id.get(key)
                if crumbs is None:
                    crumbs = self._by_id[key] = deque()
                else:
                    self._by_id.move_to_end(key)
                if len(crumbs) >= self.per_id:
                    self.bytes -= crumbs.popleft()[1]
                crumbs.append((crumb, size))
                self.bytes += size
            while self._by_id and (len(self._by_id) > self.max_ids or self.bytes > self.max_bytes):
                _key, evicted = self._by_id.popitem(last=False)
                self.bytes -= sum(size for _crumb, size in evicted)

    def crumbs(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """The breadcrumbs filed under any of ``keys``, each once, oldest first."""
        found: dict[int, dict[str, Any]] = {}
        with self._lock:
            for key in keys:
                for crumb, _size in self._by_id.get(key, ()):
                    found[id(crumb)] = crumb
        return sorted(found.values(), key=lambda crumb: crumb["timestamp"])

    def forget(self, key: str) -> None:
        """Drop the breadcrumbs of ``key`` (its task or flow ended)."""
        with self._lock:
            crumbs = self._by_id.pop(key, None)
            if crumbs is not None:
                self.bytes -= sum(size for _crumb, size in crumbs)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._by_id.clear()
            self.bytes = 0


class Running:
    """The task attempt or dispatcher execution running in this context, as the sink saw it start."""

    __slots__ = ("details", "dispatcher", "key")

    def __init__(self, key: str, details: dict[str, Any], dispatcher: bool) -> None:
        self.key = key
        self.details = details
        self.dispatcher = dispatcher

    def history_keys(self) -> tuple[str, ...]:
        flow = self.details.get("dispatcher_id")
        return (self.key, flow) if isinstance(flow, str) and flow != self.key else (self.key,)


RUNNING: ContextVar[Running | None] = ContextVar("selinon_trace_sentry_running", default=None)
"""The task or dispatcher running in this context (set at its start, cleared at its end)."""


def history_keys(event: int, details: dict[str, Any], running: Running | None) -> tuple[str, ...]:
    """The ids whose history ``event`` belongs to (none: an ordinary breadcrumb)."""
    if event in (TASK_SCHEDULE, SUBFLOW_SCHEDULE):
        # The scheduled task runs elsewhere: this is history of the task (and flow) publishing it.
        owner = details.get("parent_dispatcher_id") if event == SUBFLOW_SCHEDULE else None
        owner = owner or details.get("dispatcher_id")
        keys = [running.key] if running is not None else []
        if isinstance(owner, str) and owner not in keys:
            keys.append(owner)
        return tuple(keys)
    keys = []
    for name in ("task_id", "dispatcher_id"):
        value = details.get(name)
        if isinstance(value, str) and value not in keys:
            keys.append(value)
    return tuple(keys)


def _compact(value: Any) -> tuple[Any, int]:
    if value is None or isinstance(value, (bool, int, float)):
        return value, 8
    if isinstance(value, str):
        if len(value) > VALUE_LIMIT:
            value = f"{value[:VALUE_LIMIT]}...[{len(value) - VALUE_LIMIT} more chars]"
        return value, len(value)
    text = dumps(value).decode("utf-8", "backslashreplace")
    if len(text) > VALUE_LIMIT:
        text = f"{text[:VALUE_LIMIT]}...[{len(text) - VALUE_LIMIT} more chars]"
        return text, len(text)
    return value, len(text)


def breadcrumb(event: int, details: dict[str, Any], time: datetime) -> tuple[dict[str, Any], int]:
    """A Sentry breadcrumb for one event, its data bounded, and its estimated size."""
    data: dict[str, Any] = {}
    size = 64
    for key, value in details.items():
        if key == "what":
            continue  # a traceback: the failure's own event has it
        data[str(key)], value_size = _compact(value)
        size += len(str(key)) + value_size
    built = {
        "type": "default",
        "category": CATEGORY,
        "message": event_name(event),
        "level": "error" if event in FAILURE_EVENTS else "warning" if event in WARN else "info",
        "timestamp": aware(time),
        "data": data,
    }
    return built, size
