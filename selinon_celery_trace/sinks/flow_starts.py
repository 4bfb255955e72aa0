"""When each running flow started, for the process that sees it end (the OpenTelemetry and metrics sinks).

A flow's first wake-up (FLOW_START) and its end (FLOW_END / FLOW_FAILURE) often run in different pool
processes: a dispatcher re-runs itself through the broker, and any free process takes the message. The
flow events carry no start time, so the process that ends a flow must find it elsewhere:

- in its own memory, when it ran the first wake-up itself (a bounded map, emptied as flows end);
- in a directory its worker's pool processes share (:meth:`FlowStarts.use_directory`, called in the
  worker's main process before it forks): one small file per running flow, written at FLOW_START,
  read and removed at the end. Per flow, not per task: nothing on the tasks' path.

A flow whose executions ran on different hosts ends where neither has its start: :meth:`pop` returns
None, and the sink says so rather than guessing.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from typing import Final

__all__ = ["FlowStarts", "worker_directory"]

_LIMIT: Final = 4096  # flows remembered in memory per process (the oldest forgotten first)
_STALE_SECONDS: Final = 7 * 24 * 3600  # start files older than this are pruned when a worker starts
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class FlowStarts:
    """The start times (nanoseconds since the epoch) of the flows running here, by dispatcher id."""

    def __init__(self, limit: int = _LIMIT) -> None:
        self.limit = limit
        self.directory: str | None = None
        self._memory: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # the parent's may have been held by another thread at the fork

    def use_directory(self, path: str) -> None:
        """Share start times through ``path`` (created if needed), with stale files pruned."""
        os.makedirs(path, exist_ok=True)
        self.directory = path
        cutoff = time.time() - _STALE_SECONDS
        for name in os.listdir(path):
            try:
                if os.stat(os.path.join(path, name)).st_mtime < cutoff:
                    os.unlink(os.path.join(path, name))
            except OSError:
                pass

    def _file(self, flow_id: str) -> str | None:
        if self.directory is None:
            return None
        return os.path.join(self.directory, _SAFE.sub("_", flow_id)[:200] + ".start")

    def remember(self, flow_id: str, start_ns: int) -> None:
        """Note that ``flow_id`` started at ``start_ns``."""
        with self._lock:
            self._memory[flow_id] = start_ns
            self._memory.move_to_end(flow_id)
            while len(self._memory) > self.limit:
                self._memory.popitem(last=False)
        path = self._file(flow_id)
        if path is not None:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
                try:
                    os.write(fd, str(start_ns).encode())
                finally:
                    os.close(fd)
            except OSError:
                pass  # memory still has it; another process ending the flow will not

    def pop(self, flow_id: str) -> int | None:
        """The start of ``flow_id`` if this process or its worker knows it, forgotten as the flow ends."""
        with self._lock:
            found = self._memory.pop(flow_id, None)
        path = self._file(flow_id)
        if path is not None:
            try:
                with open(path, "rb") as handle:
                    text = handle.read()
                os.unlink(path)
                if found is None and text.strip().isdigit():
                    found = int(text)
            except OSError:
                pass
        return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._memory)


def worker_directory(prefix: str) -> str:
    """A fresh directory for a worker's processes, removed when the process that made it exits."""
    path = tempfile.mkdtemp(prefix=prefix)
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:  # not in a forked child that runs atexit
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(remove)
    return path
