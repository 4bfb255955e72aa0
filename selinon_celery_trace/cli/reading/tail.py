"""Following a trace file as it is written, like ``tail -F``: what ``selinon-trace follow`` reads.

A line still being written is held back until its newline arrives; a rotated file is read to its end,
then its successor from the start; a file truncated in place is read again from its start. Skipped lines
are counted in the same :class:`.lines.Malformed` tally as the whole-file reader's, numbered as in the
file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterator
from typing import IO

from .files import GZIP_MAGIC, STDIN, read
from .lines import Malformed, Record, parse_line

__all__ = ["follow"]


def _tail_offset(stream: IO[bytes], lines: int) -> int:
    """Return the offset where the last ``lines`` complete lines of a seekable file start."""
    end = stream.seek(0, os.SEEK_END)
    if lines <= 0:
        return end
    position, found, block = end, 0, 1 << 16
    while position > 0:
        size = min(block, position)
        position -= size
        stream.seek(position)
        chunk = stream.read(size)
        # A trailing newline ends the last line rather than starting an empty one.
        stop = len(chunk) - 1 if position + size == end else len(chunk)
        while True:
            stop = chunk.rfind(b"\n", 0, stop)
            if stop < 0:
                break
            found += 1
            if found >= lines:
                return position + stop + 1
    return 0


def _count_lines(stream: IO[bytes], end: int) -> int:
    stream.seek(0)
    count, left = 0, end
    while left > 0:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            break
        count += chunk.count(b"\n")
        left -= len(chunk)
    return count


class _Lines:
    """Splits a growing byte stream into complete lines, holding back a line still being written."""

    MAX_PENDING = 16 << 20  # a "line" this long with no newline is not a trace event being written

    def __init__(self, source: str, malformed: Malformed, lineno: int) -> None:
        self.source, self.malformed, self.lineno = source, malformed, lineno
        self.pending = b""

    def feed(self, chunk: bytes) -> Iterator[Record]:
        """Yield the records of the complete lines in ``pending + chunk``."""
        *complete, self.pending = (self.pending + chunk).split(b"\n")
        for line in complete:
            yield from self._parse(line, final=False)
        if len(self.pending) > self.MAX_PENDING:
            self.lineno += 1
            self.malformed.note(self.source, self.lineno, "overlong")
            self.pending = b""

    def flush(self) -> Iterator[Record]:
        """Yield the record on the held-back last line, if any: the file will not grow any more."""
        line, self.pending = self.pending, b""
        yield from self._parse(line, final=True)

    def _parse(self, line: bytes, *, final: bool) -> Iterator[Record]:
        if not line.strip():
            if not final:
                self.lineno += 1
            return
        self.lineno += 1
        result = parse_line(line)
        if isinstance(result, Record):
            yield result
        else:
            truncated = final and result == "malformed"
            self.malformed.note(self.source, self.lineno, "truncated" if truncated else result)


def follow(
    path: str,
    malformed: Malformed,
    *,
    lines: int = 10,
    once: bool = False,
    poll: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> Generator[Record, None, None]:
    """Yield the last ``lines`` records of ``path``, then each new one as it is written (``tail -F``).

    A line still being written is held back until its newline arrives, so it is not mistaken for a
    malformed one. When the file is replaced (rotation), what was still written to the old file is
    read, then the new file from its start; a file truncated in place is read again from its start.
    With ``once``, stop at the end of the file instead of waiting. Gzip files and standard input are
    read to their end.
    """
    if path == STDIN:
        yield from read(path, malformed)
        return
    with open(path, "rb") as probe:
        if probe.read(2) == GZIP_MAGIC:
            yield from read(path, malformed)
            return
    stream = open(path, "rb")  # noqa: SIM115 - reopened on rotation, closed in finally
    try:
        start = _tail_offset(stream, lines)
        splitter = _Lines(path, malformed, _count_lines(stream, start))  # so reports name real lines
        stream.seek(start)
        while True:
            chunk = stream.read(1 << 16)
            if chunk:
                yield from splitter.feed(chunk)
                continue
            if once:
                yield from splitter.flush()
                return
            sleep(poll)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                continue  # between the rename and the creation of the new file: wait for it
            opened = os.fstat(stream.fileno())
            if (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev):
                # Rotated: read what the writer added to the old file before it switched, then move on.
                yield from splitter.feed(stream.read())
                yield from splitter.flush()
                stream.close()
                stream = open(path, "rb")  # noqa: SIM115
                splitter = _Lines(path, malformed, 0)
            elif current.st_size < stream.tell():
                stream.seek(0)  # truncated in place (logrotate's copytruncate)
                splitter = _Lines(path, malformed, 0)
    finally:
        stream.close()
