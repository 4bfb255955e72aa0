"""``summary --jobs``: one large plain trace file folded in parts by several processes, side by side.

Each forked child (``forked.py``) folds its parts apart (:class:`.summary_parts.Part`); this process
puts the results together in file order (:func:`.summary_parts.put_together`), with the same result as
one pass. When that cannot be exact (see summary_parts.py), a child fails, or this cannot be done here
(standard input, gzip, several files, no ``fork``), the caller folds the input in one pass, as with
``--jobs 1``.
"""

from __future__ import annotations

from functools import partial

from ..model.summary import Summary
from ..model.summary_lean import fold_lines
from ..model.summary_parts import Part, PartResult, put_together
from ..reading.files import batches, read
from ..reading.lines import Malformed
from ..reading.scope import Scope
from .forked import PartFailed, Span, add_skipped, can_share, in_parts, shared

__all__ = ["summary_in_parts"]


def _fold(path: str, fd: int, top: int, scope: Scope, span: Span) -> PartResult:
    """Fold one part of ``path`` (in a child; the file read through ``fd``)."""
    malformed, part = Malformed(), Part(top)
    if scope.by_time_only:  # each line decoded lean where that is enough
        window = None if scope.everything else scope.in_window
        lines = batches(path, malformed, span=span, fd=fd)
        fold_lines(lines, path, malformed, part.add, part.add_lean, window)
    else:
        part.add_all(scope.apply(read(path, malformed, span=span, fd=fd)))
    return part.result(malformed)


def summary_in_parts(path: str, scope: Scope, top: int, jobs: int, malformed: Malformed) -> Summary | None:
    """The summary of ``path`` (not finished), folded by ``jobs`` processes; None when it cannot be.

    Skipped lines are counted in ``malformed`` (with their line numbers in the whole file) only when
    a summary is returned.
    """
    if not can_share(path, jobs):
        return None
    total, skipped = Summary(top), Malformed()
    with shared(path) as (fd, spans):
        results = in_parts(spans, partial(_fold, path, fd, top, scope), jobs)
        try:
            for (start, _), result in results:
                if not put_together(total, result):
                    return None
                add_skipped(skipped, result.malformed, fd, start)
        except PartFailed:
            return None
        finally:
            results.close()
    malformed.absorb(skipped)
    return total
