"""``summary --jobs``: one large plain trace file folded in parts by several processes, side by side.

The file is cut into parts of :data:`.parts.PART_BYTES` at line boundaries. ``jobs`` child processes,
forked from this one (nothing is imported again), fold every ``jobs``-th part each
(:class:`.summary_parts.Part`) and send back their results in order through a pipe; this process puts
them together in file order (:func:`.summary_parts.put_together`), with the same result as one pass.
The children are plain forks (no ``multiprocessing``: its after-fork hooks belong to the parent's
libraries) that exit without running the parent's exit handlers. When the parts cannot be put together
exactly (see summary_parts.py), a child fails, or this cannot be done here (standard input, gzip,
several files, no ``fork``), the caller folds the input in one pass, as with ``--jobs 1``.
"""

from __future__ import annotations

import os
import pickle
import signal
from typing import BinaryIO

from ..model.summary import Summary
from ..model.summary_parts import Part, PartResult, put_together
from ..reading import parts
from ..reading.files import GZIP_MAGIC, STDIN, read
from ..reading.lines import Malformed
from ..reading.scope import Scope

__all__ = ["default_jobs", "summary_in_parts"]


def default_jobs() -> int:
    """One process per CPU this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


_Bounds = tuple["float | None", "float | None", "tuple[str, ...]", "tuple[str, ...]"]


def _fold(path: str, span: tuple[int, int], top: int, bounds: _Bounds) -> PartResult:
    """Fold one part of ``path`` (in a pool process)."""
    malformed = Malformed()
    return Part(top).add_all(Scope(*bounds).apply(read(path, malformed, span=span))).result(malformed)


def _plain_file(path: str) -> bool:
    if path == STDIN or not os.path.isfile(path):
        return False
    with open(path, "rb") as handle:
        return handle.read(2) != GZIP_MAGIC


def _lines_before(path: str, offset: int) -> int:
    """How many lines the file has before byte ``offset`` (only asked when a part skipped lines)."""
    count, left = 0, offset
    with open(path, "rb") as handle:
        while left > 0:
            block = handle.read(min(left, 1 << 20))
            if not block:
                break
            count += block.count(b"\n")
            left -= len(block)
    return count


def _child(path: str, spans: list[tuple[int, int]], top: int, bounds: _Bounds) -> tuple[int, BinaryIO]:
    """Fork a child that folds ``spans`` of ``path`` and pickles each result, in order, to a pipe."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (its work is the parent's, measured there)
        code = 1
        try:
            os.close(reading)
            with os.fdopen(writing, "wb") as out:
                for span in spans:
                    pickle.dump(_fold(path, span, top, bounds), out, pickle.HIGHEST_PROTOCOL)
                    out.flush()
            code = 0
        finally:
            os._exit(code)  # never the parent's exit handlers, whatever happened
    os.close(writing)
    return pid, os.fdopen(reading, "rb")


def summary_in_parts(path: str, scope: Scope, top: int, jobs: int, malformed: Malformed) -> Summary | None:
    """The summary of ``path`` (not finished), folded by ``jobs`` processes; None when it cannot be.

    Skipped lines are counted in ``malformed`` (with their line numbers in the whole file) only when
    a summary is returned.
    """
    if jobs < 2 or not hasattr(os, "fork") or not _plain_file(path):
        return None
    spans = parts.line_ranges(path, parts.PART_BYTES)
    if len(spans) < 2:
        return None
    bounds = (scope.since, scope.until, scope.tasks, scope.queues)
    jobs = min(jobs, len(spans))
    children = [_child(path, spans[k::jobs], top, bounds) for k in range(jobs)]
    total, skipped = Summary(top), Malformed()
    try:
        for index, (start, _) in enumerate(spans):
            try:
                result: PartResult = pickle.load(children[index % jobs][1])
            except (EOFError, pickle.UnpicklingError):  # the child failed: fold in one pass instead
                return None
            if not put_together(total, result):
                return None
            if result.malformed.total:
                before = _lines_before(path, start)
                for key, number in result.malformed.counts.items():
                    skipped.counts[key] += number
                    skipped.first_line.setdefault(key, before + result.malformed.first_line[key])
    finally:
        for pid, stream in children:
            stream.close()
            try:
                os.kill(pid, signal.SIGKILL)  # done already, unless this ends early
            except ProcessLookupError:  # pragma: no cover - reaped elsewhere
                pass
            os.waitpid(pid, 0)
    for key, number in skipped.counts.items():
        malformed.counts[key] += number
        malformed.first_line.setdefault(key, skipped.first_line[key])
    return total
