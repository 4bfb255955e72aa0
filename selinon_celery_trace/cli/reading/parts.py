"""One plain trace file as parts: byte ranges that begin and end at line boundaries, each readable apart.

``summary`` folds the parts of a large file in several processes (see ``model/summary_parts.py``).
"""

from __future__ import annotations

import io
import itertools
import os
from typing import Final

__all__ = ["PART_BYTES", "Window", "line_ranges"]

PART_BYTES: Final = 32 * 2**20
"""The size of a part: what one process folds at a time (its memory is bounded by it, not by the file)."""


def line_ranges(path: str, size: int = PART_BYTES) -> list[tuple[int, int]]:
    """``(start, end)`` byte offsets of the parts of the file at ``path``, about ``size`` bytes each.

    Each part but the last ends just after a newline; together they cover the file, in order.
    """
    total = os.path.getsize(path)
    bounds = [0]
    with open(path, "rb") as handle:
        while total - bounds[-1] > size:
            handle.seek(bounds[-1] + size - 1)  # the byte before a part's nominal end ...
            handle.readline()  # ... and on to the end of its line
            end = handle.tell()
            if end >= total:
                break
            bounds.append(end)
    bounds.append(total)
    return list(itertools.pairwise(bounds))


class Window(io.RawIOBase):
    """The bytes ``start`` to ``end`` of a file, as a stream of their own (for :class:`io.BufferedReader`)."""

    def __init__(self, path: str, start: int, end: int) -> None:
        super().__init__()
        self._raw = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._raw.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        with memoryview(buffer) as view:
            count = self._raw.readinto(view[: self._left]) or 0
        self._left -= count
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()
