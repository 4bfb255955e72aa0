"""``summary`` folded in parts (as ``--jobs`` folds a large file) must print what one pass prints.

:func:`assert_parts_exact` cuts a trace file at many line boundaries, folds the parts apart (in this
process: what each pool process does) and puts them together, and compares the printed summary with
the one pass's, character for character, folding each part's records as well as its lines decoded lean
(model/summary_lean.py: what the command does). Used on the CLI's traces and on real workers' traces (e2e).
"""

from __future__ import annotations

import io
import itertools
from functools import partial
from pathlib import Path

from rich.console import Console

from selinon_celery_trace.cli.model.summary import Summary
from selinon_celery_trace.cli.model.summary_lean import add_lean, fold_lines
from selinon_celery_trace.cli.model.summary_parts import Part, put_together
from selinon_celery_trace.cli.reading.files import batches, read
from selinon_celery_trace.cli.reading.lines import Malformed
from selinon_celery_trace.cli.views.summary_view import summary_view


def printed(summary: Summary) -> str:
    """The summary as ``summary`` prints it, 220 columns wide."""
    out = io.StringIO()
    Console(file=out, width=220, color_system=None, soft_wrap=False).print(summary_view(summary, 1, 220))
    return out.getvalue()


def line_starts(path: Path) -> list[int]:
    """The byte offset of every line's start, and the file's size last."""
    data = path.read_bytes()
    starts = [0]
    position = data.find(b"\n")
    while position >= 0:
        starts.append(position + 1)
        position = data.find(b"\n", position + 1)
    if starts[-1] != len(data):
        starts.append(len(data))
    return starts


def lean_pass(path: Path, malformed: Malformed | None = None) -> Summary:
    """The summary of ``path`` (not finished) folded as the command folds one file: lines decoded lean
    where that is enough (model/summary_lean.py)."""
    summary, malformed = Summary(), Malformed() if malformed is None else malformed
    fold_lines(
        batches(str(path), malformed),
        str(path),
        malformed,
        summary.add,
        partial(add_lean, summary, None),
    )
    return summary


def in_parts(path: Path, cuts: list[int], *, lean: bool = False) -> Summary | None:
    """The summary of ``path`` cut at byte offsets ``cuts`` (line starts), or None when not exact;
    ``lean``: each part's lines decoded lean where that is enough (as ``--jobs`` folds them)."""
    bounds = [0, *cuts, path.stat().st_size]
    total = Summary()
    for span in itertools.pairwise(bounds):
        malformed, part = Malformed(), Part(total.top)
        if lean:
            fold_lines(
                batches(str(path), malformed, span=span), str(path), malformed, part.add, part.add_lean
            )
        else:
            part.add_all(read(str(path), malformed, span=span))
        if not put_together(total, part.result(malformed)):
            return None
    return total.finish()


def assert_parts_exact(path: Path, samples: int = 40) -> tuple[int, int]:
    """Cut ``path`` in two at ``samples`` line boundaries (every one for a short file) and in three at
    a few: each result must print as one pass does. Return how many cuts were put together (the
    others fell back to one pass), and how many were tried."""
    expected = printed(Summary().add_all(read(str(path), Malformed())).finish())
    assert printed(lean_pass(path).finish()) == expected, f"{path.name} decoded lean"
    starts = line_starts(path)[1:-1]
    step = max(1, len(starts) // samples)
    cuts = [[start] for start in starts[::step]]
    thirds = zip(range(0, len(starts), step * 3), range(step, len(starts), step * 3), strict=False)
    cuts += [[starts[i], starts[j]] for i, j in thirds]
    exact = 0
    for cut in cuts:
        result = in_parts(path, cut)
        lean = in_parts(path, cut, lean=True)
        assert (result is None) == (lean is None), f"{path.name} cut at bytes {cut}: lean parts differ"
        if result is not None and lean is not None:
            exact += 1
            assert printed(result) == expected, f"{path.name} cut at bytes {cut}"
            assert printed(lean) == expected, f"{path.name} cut at bytes {cut}, decoded lean"
    return exact, len(cuts)
