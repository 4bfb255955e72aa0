"""JSON-lines sinks: the reference's stdout/stderr printer, and an append-only file.

Every event is written as one whole line by one ``write`` call and nothing is kept in a buffer, so a
crash or a prefork child that exits loses nothing, and several processes can append to one file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Hashable
from typing import Any, TextIO

from ..core.catalogue import WARNING_EVENTS
from ..core.record import Record, caller_record, line

_write = os.write  # one global lookup per line instead of two

__all__ = ["JsonFileSink", "JsonStreamSink"]

_WARN = WARNING_EVENTS  # the reference's WARN_EVENTS and this package's warning events


class JsonStreamSink:
    """Print each event as a JSON line: WARN_EVENTS to stderr, the rest to stdout (as the reference).

    The streams are looked up at each event, so redirections made later (pytest's capture, a worker's
    log redirection) are honoured. Each line is flushed at once.
    """

    __slots__ = ("key", "stderr", "stdout")
    # Details are only encoded, at once, and not kept: values may be orjson Fragments, and the adapters
    # may extend a dict after this sink encoded it.
    encodes_details = True

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.key: Hashable = ("json", id(stdout) if stdout else None, id(stderr) if stderr else None)

    def receive(self, event: int, record: Record) -> None:
        text = line(record).decode("utf-8", "backslashreplace")
        if event in _WARN:
            stream = self.stderr or sys.stderr
        else:
            stream = self.stdout or sys.stdout
        stream.write(text)
        stream.flush()

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def __repr__(self) -> str:
        return "JsonStreamSink()"


class JsonFileSink:
    """Append each event as one JSON line to ``path``.

    The file is opened once with ``O_APPEND`` (so a bad path fails at configuration time) and each line
    goes out in a single ``os.write``: concurrent writers (prefork children sharing the inherited
    descriptor, or separate processes) never interleave or cut each other's lines, and there is no
    user-space buffer to lose.
    """

    __slots__ = ("_fd", "key", "path")
    # Details are only encoded, at once, and not kept: values may be orjson Fragments, and the adapters
    # may extend a dict after this sink encoded it.
    encodes_details = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.key: Hashable = ("json-file", self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def receive(self, event: int, record: Record) -> None:
        data = line(record)
        written = _write(self._fd, data)
        while written < len(data):  # only on odd file systems or a full disk: finish the line
            written += _write(self._fd, data[written:])

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def close(self) -> None:
        """Close the file; later events raise (and are reported) until the sink is removed."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __repr__(self) -> str:
        return f"JsonFileSink({self.path!r})"
