"""Work on the parts of one large plain trace file, side by side, in processes forked from this one.

The file is cut at line boundaries into parts of :data:`.parts.PART_BYTES` (``reading/parts.py``).
:func:`in_parts` forks ``jobs`` children; child ``k`` runs ``work(span)`` on parts ``k``, ``k + jobs``,
... and pickles each result, in order, to its pipe; this process receives the results in file order
(a child works at most one part ahead of what was received). Used by ``summary`` (a fold per part, put
together) and by ``find``, ``show`` and ``timeline`` (the lines a byte search picks in each part,
parsed by the command).

The children are plain forks, not ``multiprocessing``'s: its after-fork hooks belong to whatever the
parent imported (in a test process, kombu's pool cleanup blocked a child on a Redis socket); a child
leaves with ``os._exit``, never running the parent's exit handlers. Nothing here is used for standard
input, gzip files or several files (merged by time), nor where there is no ``fork``.
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import BinaryIO, TypeVar

from ..reading import parts
from ..reading.files import GZIP_MAGIC, STDIN, parsed, picked_lines
from ..reading.lines import Malformed, Record
from ..reading.prefilter import Needles

__all__ = [
    "PartFailed",
    "Span",
    "add_skipped",
    "can_share",
    "default_jobs",
    "in_parts",
    "picked_records",
    "shared",
]

T = TypeVar("T")
Span = tuple[int, int]


class PartFailed(Exception):
    """A child ended without its result (killed, out of memory): the part it was on is ``span``."""

    def __init__(self, span: Span) -> None:
        super().__init__(f"the process reading bytes {span[0]}-{span[1]} ended without its result")
        self.span = span


def default_jobs() -> int:
    """One process per CPU this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def can_share(path: str, jobs: int) -> bool:
    """Whether ``jobs`` processes can share ``path``: a plain file (no standard input, no gzip) larger
    than one part, ``fork`` at hand."""
    if jobs < 2 or not hasattr(os, "fork") or path == STDIN or not os.path.isfile(path):
        return False
    with open(path, "rb") as handle:
        return handle.read(2) != GZIP_MAGIC and os.fstat(handle.fileno()).st_size > parts.PART_BYTES


@contextmanager
def shared(path: str) -> Iterator[tuple[int, list[Span]]]:
    """``path`` opened once, for children to read by descriptor (see ``reading/parts.py``), with its
    parts; closed at the end."""
    fd = os.open(path, os.O_RDONLY)
    try:
        yield fd, parts.line_ranges(fd, parts.PART_BYTES)
    finally:
        os.close(fd)


def _child(work: Callable[[Span], object], spans: list[Span], others: list[int]) -> tuple[int, BinaryIO]:
    """Fork a child that runs ``work`` on each of ``spans`` and pickles each result, in order, to a pipe.

    ``others``: the pipes of the children forked before, which this one must not hold open (a child
    whose reader is gone then gets a broken pipe and ends, whatever ended this process).
    """
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (its results are checked in the parent)
        code = 1
        try:
            for fd in (reading, *others):
                os.close(fd)
            with os.fdopen(writing, "wb") as out:
                for span in spans:
                    pickle.dump(work(span), out, pickle.HIGHEST_PROTOCOL)
                    out.flush()
            code = 0
        finally:
            os._exit(code)  # never the parent's exit handlers, whatever happened
    os.close(writing)
    return pid, os.fdopen(reading, "rb")


def in_parts(
    spans: list[Span], work: Callable[[Span], T], jobs: int
) -> Generator[tuple[Span, T], None, None]:
    """``(span, work(span))`` for each of ``spans``, in order, computed by ``jobs`` forked children.

    Raises :class:`PartFailed` for a part whose child ended without its result. Closing the iterator
    early (or an exception in the caller) stops and reaps the children.
    """
    jobs = max(1, min(jobs, len(spans)))
    children: list[tuple[int, BinaryIO]] = []
    for k in range(jobs):
        children.append(_child(work, spans[k::jobs], [stream.fileno() for _, stream in children]))
    try:
        for index, span in enumerate(spans):
            try:
                result: T = pickle.load(children[index % jobs][1])
            except (EOFError, pickle.UnpicklingError, OSError) as exc:
                raise PartFailed(span) from exc
            yield span, result
    finally:
        for pid, stream in children:
            stream.close()
            try:
                os.kill(pid, signal.SIGKILL)  # done already, unless the caller stopped early
            except ProcessLookupError:  # pragma: no cover - reaped elsewhere
                pass
            os.waitpid(pid, 0)


def _lines_before(fd: int, offset: int) -> int:
    """How many lines the file has before byte ``offset`` (only asked when a part skipped lines)."""
    count, at = 0, 0
    while at < offset:
        block = os.pread(fd, min(offset - at, 1 << 20), at)
        if not block:
            break
        count += block.count(b"\n")
        at += len(block)
    return count


def add_skipped(malformed: Malformed, part: Malformed, fd: int, start: int) -> None:
    """Count a part's skipped lines in ``malformed``, numbered in the whole file (open as ``fd``; the
    part began at byte ``start``)."""
    if part.total:
        malformed.absorb(part, _lines_before(fd, start))


def _picked(path: str, fd: int, needles: Needles, framing: bool, span: Span) -> list[tuple[int, bytes]]:
    """The numbered lines of one part that hold a needle (in a child: parsed in the parent)."""
    return picked_lines(path, needles, framing=framing, span=span, fd=fd)


def picked_records(
    path: str, needles: Needles, malformed: Malformed, jobs: int, *, framing: bool = True
) -> Iterator[Record] | None:
    """The records :func:`.files.read` yields with ``needles``, in order, each part searched by a child
    (the lines it picks are parsed here: sending records back would cost more than parsing them); None
    when the file cannot be shared (see :func:`can_share`) or the needles search nothing (every line
    would be). Skipped lines are counted in ``malformed``.

    The children search with the needles as they are now: needles added while the records are read
    reach later passes only, so ``needles.reread`` is set (as a reader merging files sets it).
    """
    if needles.everything or not can_share(path, jobs):
        return None
    needles.reread = True
    return _picked_in_parts(path, needles.copy(), malformed, jobs, framing)


def _picked_in_parts(
    path: str, needles: Needles, malformed: Malformed, jobs: int, framing: bool
) -> Iterator[Record]:
    with shared(path) as (fd, spans):
        pick = partial(_picked, path, fd, needles, framing)
        results = in_parts(spans, pick, jobs)
        try:
            for (start, _), lines in results:
                skipped = Malformed()
                yield from parsed(lines, path, skipped)
                add_skipped(malformed, skipped, fd, start)
        except PartFailed as failed:  # go on here from that part: the ones before were yielded in order
            skipped = Malformed()
            try:
                yield from parsed(pick((failed.span[0], spans[-1][1])), path, skipped)
            except OSError as exc:  # as read() says it
                skipped.note(path, 1, f"unreadable ({exc})")
            add_skipped(malformed, skipped, fd, failed.span[0])
        finally:
            results.close()
