"""The trace files a command reads: the FILES argument, standard input read twice, skipped lines, ids.

Each command reads its files as a stream and reports the lines it skipped on standard error at the end
(the output is only as whole as the input); an id in none of the files exits with :data:`NOT_FOUND`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from ..model.lookup import Found, look_up
from ..reading.files import STDIN, STDIN_LABEL, merged
from ..reading.lines import Malformed, Record
from ..reading.prefilter import Needles
from .forked import default_jobs, picked_records
from .settings import current_settings

__all__ = [
    "FILES",
    "NOT_FOUND",
    "check_files",
    "files_label",
    "find_run",
    "missing_files_or_id",
    "not_found",
    "report_skipped",
    "rereadable",
]

NOT_FOUND = 1
"""Exit code when the requested id is in none of the files."""

FILES = click.Path(exists=True, dir_okay=False, allow_dash=True)


def report_skipped(malformed: Malformed) -> None:
    """Say on standard error which lines were skipped: the output above is only as whole as the input."""
    if not malformed.total:
        return
    err = current_settings().err
    for line in malformed.report():
        err.print(f"selinon-trace: {line}", style="yellow", soft_wrap=True, markup=False)


def files_label(files: Sequence[str]) -> str:
    """The input files as messages name them: base names, standard input as such, the first three."""
    names = [STDIN_LABEL if name == STDIN else os.path.basename(name) for name in files]
    return ", ".join(names) if len(names) <= 3 else f"{', '.join(names[:3])} and {len(names) - 3} more"


def check_files(files: Sequence[str]) -> None:
    """Refuse standard input given twice: it can be read only once."""
    if list(files).count(STDIN) > 1:
        raise click.UsageError("'-' (standard input) can be given only once.")


def missing_files_or_id(first: str, command: str) -> None:
    """Say which argument is missing when only one was given: the ID (a file was given), or the files."""
    if first == STDIN or os.path.isfile(first):
        raise click.UsageError(
            f"Missing argument 'ID': {first!r} is a trace file; give the id to show before it "
            f"(selinon-trace {command} ID FILES...; an id prefix is enough)."
        )
    raise click.UsageError(
        f"Missing argument 'FILES...': give the trace files to read after the id {first!r}."
    )


def find_run(
    wanted: str,
    files: Sequence[str],
    malformed: Malformed,
    keep: Callable[[Iterable[Record]], Iterable[Record]] | None = None,
) -> Found:
    """The run ``wanted`` names in ``files`` (read as many times as the lookup needs).

    ``keep`` narrows each read to the records it passes on (``timeline --since``: a time window).
    """
    narrow = keep or (lambda records: records)
    jobs = default_jobs()

    def reader(skipped: Malformed, framing: bool) -> Callable[[Needles], Iterable[Record]]:
        # Each pass parses only the lines that name an id it looks for (reading/prefilter.py); one
        # large plain file is searched in parts by several processes (forked.py).
        def read(needles: Needles) -> Iterable[Record]:
            picked = (
                picked_records(files[0], needles, skipped, jobs, framing=framing) if len(files) == 1 else None
            )
            if picked is not None:
                return narrow(picked)
            return narrow(merged(files, skipped, needles, framing=framing))

        return read

    # Lines skipped are counted on the first read only: later passes read the same lines.
    return look_up(wanted, reader(malformed, True), reader(Malformed(), False))


def not_found(found: Found, files: Sequence[str]) -> None:
    """Say on standard error why no run was found: no such id, or an id prefix of several."""
    err = current_settings().err
    if found.ambiguous:
        choices = ", ".join(sorted(found.ambiguous)[:5])
        err.print(
            f"selinon-trace: {found.wanted!r} is the start of several ids ({choices}); give more of it.",
            soft_wrap=True,
            markup=False,
        )
    else:
        err.print(
            f"selinon-trace: no flow (dispatcher_id) or task (task_id) starting with {found.wanted!r}"
            f" in {files_label(files)}, nor a canvas's root_id or group_id.",
            soft_wrap=True,
            markup=False,
        )


@contextmanager
def rereadable(files: Sequence[str], malformed: Malformed) -> Iterator[list[str]]:
    """Yield ``files`` with standard input copied to a temporary file, so they can be read twice."""
    if STDIN not in files:
        yield list(files)
        return
    with tempfile.TemporaryDirectory(prefix="selinon-trace-") as folder:
        copy = Path(folder) / "stdin"
        with copy.open("wb") as target:
            shutil.copyfileobj(sys.stdin.buffer, target, 1 << 20)
        malformed.aliases[str(copy)] = STDIN_LABEL
        yield [str(copy) if name == STDIN else name for name in files]
