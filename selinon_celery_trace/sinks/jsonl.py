"""JSON-lines sinks: the reference's stdout/stderr printer, and an append-only file that follows its path.

Every event is written as one whole line by one ``write`` call and nothing is kept in a buffer, so a
crash or a prefork child that exits loses nothing, and several processes can append to one file.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Hashable
from time import monotonic
from typing import Any, Final, TextIO

from ..core.catalogue import WARNING_EVENTS
from ..core.record import Record, caller_record, line
from ..core.registry import report_internal_error

_write = os.write  # one global lookup per line instead of two
_clock = monotonic

__all__ = ["CHECK_INTERVAL", "JsonFileSink", "JsonStreamSink"]

_WARN = WARNING_EVENTS  # the reference's WARN_EVENTS and this package's warning events
_FLAGS: Final = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC

CHECK_INTERVAL: Final = 1.0
"""Seconds between two checks that the file sink's path still names its open file (see JsonFileSink)."""


class JsonStreamSink:
    """Print each event as a JSON line: WARN_EVENTS to stderr, the rest to stdout (as the reference).

    Written to the process's file descriptors 1 and 2 with one ``os.write`` per line, not through
    ``sys.stdout``: a Celery worker replaces ``sys.stdout``/``sys.stderr`` with its logger
    (``worker_redirect_stdouts``), which would turn each event into a log record. Streams given to the
    constructor are written to instead (and flushed at each line).
    """

    __slots__ = ("_torn", "key", "stderr", "stdout")
    # Details are only encoded, at once, and not kept: values may be orjson Fragments, and the adapters
    # may extend a dict after this sink encoded it.
    encodes_details = True

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.key: Hashable = ("json", id(stdout) if stdout else None, id(stderr) if stderr else None)
        self._torn = [False, False, False]  # per fd: a line was cut, the next write starts a fresh one

    def receive(self, event: int, record: Record) -> None:
        warn = event in _WARN
        stream = self.stderr if warn else self.stdout
        if stream is not None:
            stream.write(line(record).decode("utf-8", "backslashreplace"))
            stream.flush()
            return
        fd = 2 if warn else 1
        data = line(record)
        if self._torn[fd]:
            data = b"\n" + data
        written = 0
        try:
            written = _write(fd, data)
            while written < len(data):  # a pipe or terminal takes a long line in parts: finish it
                written += _write(fd, data[written:])
        except BaseException:
            self._torn[fd] = 0 < written < len(data)
            raise
        self._torn[fd] = False

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def __repr__(self) -> str:
        return "JsonStreamSink()"


class JsonFileSink:
    """Append each event as one JSON line to ``path``, following the path across rotation and deletion.

    The file is opened with ``O_APPEND`` (at once, so a bad path fails at configuration time) and each
    line goes out in a single ``os.write``: concurrent writers (prefork children sharing the inherited
    descriptor, or separate processes) never interleave or cut each other's lines, and there is no
    user-space buffer to lose.

    At most once per :data:`CHECK_INTERVAL` (the check is one clock reading per event; the ``stat``
    only when it is due, before the write) the sink checks that ``path`` still names the open file:
    after a rename-and-create rotation, a deleted file or a deleted directory it opens ``path`` again
    (creating the directory), in place of the old descriptor (``dup2``: a thread writing at that moment
    writes to one file or the other, never to a closed descriptor). Failing that, the problem is
    reported once and the old file is kept.

    A short write (a full disk) never leaves a cut line for the next one to glue onto: the fragment is
    cut off again while it is still the file's end, and the whole line tried once more; when that is
    not possible the next write starts a fresh line. The event is then reported as not written.
    """

    __slots__ = ("_due", "_fd", "_file", "_torn", "key", "path")
    # Details are only encoded, at once, and not kept: values may be orjson Fragments, and the adapters
    # may extend a dict after this sink encoded it.
    encodes_details = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.key: Hashable = ("json-file", self.path)
        self._fd = os.open(self.path, _FLAGS, 0o644)
        self._file = _identity(self._fd)
        self._due = _clock() + CHECK_INTERVAL
        self._torn = False

    def receive(self, event: int, record: Record) -> None:
        data = line(record)
        if _clock() >= self._due:
            self._maintain()
        written = _write(self._fd, data)
        if written != len(data):
            self._short(data, written)

    def __call__(self, event: int, details: Any) -> None:
        self.receive(event, caller_record(event, details))

    def _maintain(self) -> None:
        """Once a second at most: follow the path to its file now; end a line left cut."""
        self._due = _clock() + CHECK_INTERVAL
        try:
            now = os.stat(self.path)
            moved = (now.st_dev, now.st_ino) != self._file
        except (FileNotFoundError, NotADirectoryError):  # the file or a directory above it is gone
            moved = True
        except OSError:
            moved = False  # cannot look (permissions): keep writing where we are
        if moved:
            self._reopen()
        if self._torn:  # checked at every event until the newline is out (an error leaves _due at 0)
            self._due = 0.0
            if _write(self._fd, b"\n") == 1:
                self._torn = False
                self._due = _clock() + CHECK_INTERVAL

    def _reopen(self) -> None:
        try:
            try:
                fd = os.open(self.path, _FLAGS, 0o644)
            except (FileNotFoundError, NotADirectoryError):  # the directory went too: make it again
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                fd = os.open(self.path, _FLAGS, 0o644)
        except OSError as exc:
            report_internal_error(f"reopening {self.path}", exc)
            return
        try:
            if self._fd >= 0:
                os.dup2(fd, self._fd, inheritable=False)
                self._file = _identity(self._fd)
        finally:
            os.close(fd)

    def _short(self, data: bytes, written: int) -> None:
        """The file system took part of the line: remove it, try the whole line once more, or mark it."""
        for retry in (True, False):
            if not self._cut(written):
                self._torn = True
                self._due = 0.0  # the next event starts a fresh line first
                break
            if not retry:
                break
            written = _write(self._fd, data)
            if written == len(data):
                return
        raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes): the event was dropped")

    def _cut(self, written: int) -> bool:
        """Remove the ``written`` bytes just appended if they still end the file; False when not."""
        if written <= 0:
            return True
        try:
            end = os.lseek(self._fd, 0, os.SEEK_CUR)
            if os.fstat(self._fd).st_size != end:
                return False
            os.ftruncate(self._fd, end - written)
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Close the file; later events raise (and are reported) until the sink is removed."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __repr__(self) -> str:
        return f"JsonFileSink({self.path!r})"


def _identity(fd: int) -> tuple[int, int]:
    found = os.fstat(fd)
    return found.st_dev, found.st_ino
