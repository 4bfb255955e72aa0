"""Reading JSON-lines trace files: one record at a time, several files merged by time, damage counted.

Trace files are read as a stream, so a file of millions of events costs memory for one line, not for
the file. Plain files, gzip files (recognised by their magic bytes, whatever their name) and ``-`` for
standard input are accepted. Lines that are not trace events are skipped and counted in a
:class:`.lines.Malformed` tally that the commands report at the end; they are never fatal.

Several files (one per host, say) are merged by time with :func:`heapq.merge`. That assumes each file
is in time order, which holds for one writer; a file appended to by several worker processes is only
*roughly* ordered (two processes may write their lines a few microseconds out of order). The merge
then stays correct to that same small skew, which is fine for reading a flow; durations are always
computed from the events' own timestamps, never from their position.
"""

from __future__ import annotations

import gzip
import heapq
import io
import sys
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final, cast

from .lines import Malformed, Record, parse_line
from .parts import Window
from .prefilter import LinesContaining, Needles

__all__ = [
    "GZIP_MAGIC",
    "STDIN",
    "STDIN_LABEL",
    "batches",
    "lines",
    "merged",
    "parsed",
    "picked_lines",
    "read",
]

STDIN = "-"
"""The file name that means standard input."""
STDIN_LABEL = "<stdin>"
"""What messages call standard input."""

_BATCH_BYTES: Final = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"
"""The first two bytes of a gzip file: files are recognised by them, whatever their name."""


def _open(path: str, span: tuple[int, int] | None = None, fd: int | None = None) -> tuple[IO[bytes], bool]:
    """Open ``path`` (or standard input) for binary reading; say whether it is gzip-compressed.

    With ``span``, only those bytes of the (plain) file are read (see :mod:`.parts`), through ``fd``
    when given (the file as a parent process opened it) instead of opening ``path``.
    """
    if span is not None:
        window = Window(path if fd is None else fd, *span)
        return cast("IO[bytes]", io.BufferedReader(window, 1 << 20)), False
    raw: Any = sys.stdin.buffer if path == STDIN else open(path, "rb")  # noqa: SIM115 - caller closes
    if not isinstance(raw, io.BufferedReader):  # peek() is needed to sniff the gzip magic
        raw = io.BufferedReader(raw)
    if raw.peek(2)[:2] == GZIP_MAGIC:
        return cast("IO[bytes]", gzip.GzipFile(fileobj=raw, mode="rb")), True
    return raw, False


def read(
    path: str,
    malformed: Malformed,
    needles: Needles | None = None,
    *,
    framing: bool = True,
    span: tuple[int, int] | None = None,
    fd: int | None = None,
) -> Iterator[Record]:
    """Yield the records of one file in file order; skipped lines are counted in ``malformed``.

    With ``needles``, only the lines containing one of them are parsed (see :mod:`.prefilter`); a
    consumer must ignore the records without them, and may add needles as it reads. ``framing=False``
    when ``malformed`` is not reported (a second pass): lines cut short are then skipped unseen.
    ``span``: only those bytes of a plain file (a part, see :mod:`.parts`, read through ``fd`` when
    given); line numbers count from it.
    """
    name = STDIN_LABEL if path == STDIN else path
    return parsed(lines(path, malformed, needles, framing=framing, span=span, fd=fd), name, malformed)


def lines(
    path: str,
    malformed: Malformed,
    needles: Needles | None = None,
    *,
    framing: bool = True,
    span: tuple[int, int] | None = None,
    fd: int | None = None,
) -> Iterator[tuple[int, bytes]]:
    """Yield the numbered lines of one file that :func:`read` parses (arguments as for it); a file
    that cannot be read to its end is counted in ``malformed`` where the reading stopped."""
    stream, compressed = _open(path, span, fd)
    yield from _numbered(path, stream, compressed, malformed, needles, framing)


def _numbered(
    path: str,
    stream: IO[bytes],
    compressed: bool,
    malformed: Malformed,
    needles: Needles | None = None,
    framing: bool = True,
) -> Iterator[tuple[int, bytes]]:
    name = STDIN_LABEL if path == STDIN else path
    search = None if needles is None else LinesContaining(stream, needles, framing=framing)
    numbered: Iterable[tuple[int, bytes]] = enumerate(stream, 1) if search is None else search
    lineno = 0
    try:
        for lineno, line in numbered:
            yield lineno, line
    except (EOFError, OSError, zlib.error) as exc:
        # A gzip file cut short (rotated while being compressed) or corrupt: keep what was read.
        reason = "truncated gzip" if isinstance(exc, EOFError) or compressed else f"unreadable ({exc})"
        malformed.note(name, (lineno if search is None else search.lines_read) + 1, reason)
    finally:
        if path != STDIN:
            stream.close()


def batches(
    path: str, malformed: Malformed, *, span: tuple[int, int] | None = None, fd: int | None = None
) -> Iterator[tuple[int, list[bytes]]]:
    """The lines of one file (or of its ``span``), in batches: ``(lines before the batch, its lines)``.

    The lines :func:`lines` yields without needles, for a reader that takes them faster in lists: a
    plain file's about a MiB at a time, a gzip file's or standard input's one at a time (what a gzip
    file cut short holds up to its damage is read, as by :func:`lines`).
    """
    stream, compressed = _open(path, span, fd)
    if compressed or path == STDIN:
        for lineno, line in _numbered(path, stream, compressed, malformed):
            yield lineno - 1, [line]
        return
    before = 0
    try:
        while batch := stream.readlines(_BATCH_BYTES):
            yield before, batch
            before += len(batch)
    except OSError as exc:
        malformed.note(path, before + 1, f"unreadable ({exc})")
    finally:
        stream.close()


def parsed(numbered: Iterable[tuple[int, bytes]], name: str, malformed: Malformed) -> Iterator[Record]:
    """The records on the ``numbered`` lines of the file ``name``; the other lines (blank ones apart)
    are counted in ``malformed``."""
    for lineno, line in numbered:
        result = parse_line(line)
        if isinstance(result, Record):
            yield result
        else:
            malformed.note_line(name, lineno, line, result)


def picked_lines(
    path: str,
    needles: Needles,
    *,
    framing: bool = True,
    span: tuple[int, int] | None = None,
    fd: int | None = None,
) -> list[tuple[int, bytes]]:
    """The numbered lines of ``path`` (or of its ``span``) that :func:`read` would parse with ``needles``.

    For a search in another process, whose lines this one parses (:func:`parsed`); a read error raises.
    """
    stream, _ = _open(path, span, fd)
    with stream:
        return list(LinesContaining(stream, needles, framing=framing))


def _by_time(record: Record) -> float:
    return record.ts


def merged(
    paths: Iterable[str], malformed: Malformed, needles: Needles | None = None, *, framing: bool = True
) -> Iterator[Record]:
    """Yield the records of all ``paths`` merged by time (each file is assumed in time order).

    ``needles`` and ``framing`` as for :func:`read`; merging files reads one record ahead in each, so
    the needles are marked ``reread`` (see :class:`.prefilter.Needles`).
    """
    streams = [read(path, malformed, needles, framing=framing) for path in paths]
    if len(streams) == 1:
        return streams[0]
    if needles is not None:
        needles.reread = True
    return heapq.merge(*streams, key=_by_time)
