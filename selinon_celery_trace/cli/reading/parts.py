"""One plain trace file as parts: byte ranges that begin and end at line boundaries, each readable apart.

``summary`` and ``find`` read the parts of a large file in several processes (``commands/forked.py``).
Those processes read one file opened once, before they are forked, by its descriptor (``os.pread``:
no shared offset to move): a file rotated meanwhile (renamed, a new one created under its name) is
read as it was when the command started, whole.
"""

from __future__ import annotations

import io
import itertools
import os
from typing import Final

__all__ = ["PART_BYTES", "Window", "line_ranges"]

PART_BYTES: Final = 32 * 2**20
"""The size of a part: what one process reads at a time (its memory is bounded by it, not by the file)."""


def _line_end(fd: int, offset: int, total: int) -> int:
    """The offset just after the first newline at or after ``offset`` (``total`` when there is none)."""
    while offset < total:
        block = os.pread(fd, 1 << 16, offset)
        if not block:
            break
        found = block.find(b"\n")
        if found >= 0:
            return offset + found + 1
        offset += len(block)
    return total


def line_ranges(source: str | int, size: int = PART_BYTES) -> list[tuple[int, int]]:
    """``(start, end)`` byte offsets of the parts of a file (a path, or a descriptor open for reading),
    about ``size`` bytes each. Each part but the last ends just after a newline; together they cover
    the file, in order."""
    fd = os.open(source, os.O_RDONLY) if isinstance(source, str) else source
    try:
        total = os.fstat(fd).st_size
        bounds = [0]
        while total - bounds[-1] > size:
            end = _line_end(fd, bounds[-1] + size - 1, total)  # the end of the line at the nominal end
            if end >= total:
                break
            bounds.append(end)
        bounds.append(total)
        return list(itertools.pairwise(bounds))
    finally:
        if isinstance(source, str):
            os.close(fd)


class Window(io.RawIOBase):
    """The bytes ``start`` to ``end`` of a file, as a stream of their own (for :class:`io.BufferedReader`).

    ``source``: a path (opened here, closed with the window) or a descriptor (read with ``os.pread``,
    left open: the caller's).
    """

    def __init__(self, source: str | int, start: int, end: int) -> None:
        super().__init__()
        self._owned = isinstance(source, str)
        self._fd = os.open(source, os.O_RDONLY) if isinstance(source, str) else source
        self._at, self._end = start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self._end - self._at)
        if count <= 0:
            return 0
        data = os.pread(self._fd, count, self._at)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)

    def close(self) -> None:
        if self._owned and not self.closed:
            os.close(self._fd)
        super().close()
