"""The commands that read trace files: ``summary``, ``show``, ``timeline`` and ``follow``.

Each reads its files as a stream and reports the lines it skipped on standard error at the end (the
output is only as whole as the input); an id in none of the files exits with :data:`NOT_FOUND`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from .canvas_run import CanvasRun
from .canvas_view import canvas_tree
from .collector import LatestFlow, latest_flow
from .filters import EventFilter, event_patterns, filter_options
from .lookup import Found, look_up
from .reader import STDIN, STDIN_LABEL, Malformed, merged
from .render import render_record
from .runs import FlowRun
from .settings import current_settings
from .summary import Summary
from .summary_view import summary_view
from .tail import follow
from .timeline import GROUP_BY, describe, render_timeline
from .tree_view import flow_tree, task_tree

__all__ = ["NOT_FOUND", "follow_command", "show_command", "summary_command", "timeline_command"]

NOT_FOUND = 1
"""Exit code when the requested id is in none of the files."""

_FILES = click.Path(exists=True, dir_okay=False, allow_dash=True)


def _report(malformed: Malformed) -> None:
    """Say on standard error which lines were skipped: the output above is only as whole as the input."""
    if not malformed.total:
        return
    err = current_settings().err
    for line in malformed.report():
        err.print(f"selinon-trace: {line}", style="yellow", soft_wrap=True, markup=False)


def _label(files: Sequence[str]) -> str:
    names = [STDIN_LABEL if name == STDIN else os.path.basename(name) for name in files]
    return ", ".join(names) if len(names) <= 3 else f"{', '.join(names[:3])} and {len(names) - 3} more"


def _check_files(files: Sequence[str]) -> None:
    if list(files).count(STDIN) > 1:
        raise click.UsageError("'-' (standard input) can be given only once.")


@click.command("summary", short_help="Runs, failures, retries and durations per task and flow.")
@click.argument("files", nargs=-1, required=True, type=_FILES)
@click.option(
    "--top",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Slowest flows and failure kinds to list.",
)
def summary_command(files: tuple[str, ...], top: int) -> None:
    """Per task and flow: runs, successes, failures, retries, durations; slowest flows; failures.

    Reads the files once, as a stream, in memory bounded by the number of distinct names, queues and
    hosts (not by the number of events). Durations are p50/p95 within 1% and the exact max; a task run
    is one attempt (a retried task counts one run per attempt).
    """
    _check_files(files)
    malformed = Malformed()
    result = Summary(top=top).add_all(merged(files, malformed)).finish()
    out = current_settings().out
    out.print(summary_view(result, len(files), width=out.width))
    _report(malformed)


def _find(wanted: str, files: Sequence[str], malformed: Malformed) -> Found:
    # Lines skipped are counted on the first read only: later passes read the same lines.
    return look_up(wanted, merged(files, malformed), lambda: merged(files, Malformed()))


def _not_found(found: Found, files: Sequence[str]) -> None:
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
            f" in {_label(files)}, nor a canvas's root_id or group_id.",
            soft_wrap=True,
            markup=False,
        )


@click.command("show", short_help="One flow or task as a tree of wake-ups, tasks and attempts.")
@click.argument("ident", metavar="ID")
@click.argument("files", nargs=-1, required=True, type=_FILES)
@click.option(
    "-t", "--traceback", is_flag=True, help="Print whole error texts (tracebacks), not only their last line."
)
def show_command(ident: str, files: tuple[str, ...], traceback: bool) -> None:
    """Show one flow (by dispatcher id) or one task (by task id) as a tree.

    A flow shows its dispatcher wake-ups, its tasks with each attempt (retries, failures, durations,
    queue, worker and process) and its subflows, in the order they happened. An id prefix is enough
    when it is unique (the short ids that `follow` prints, for example).
    """
    _check_files(files)
    malformed = Malformed()
    with _rereadable(files, malformed) as readable:
        found = _find(ident, readable, malformed)
    run = found.run
    _report(malformed)
    if run is None or found.ambiguous:
        _not_found(found, files)
        sys.exit(NOT_FOUND)
    out = current_settings().out
    if isinstance(run, FlowRun):
        out.print(flow_tree(run, traceback=traceback))
    elif isinstance(run, CanvasRun):
        out.print(canvas_tree(run, traceback=traceback))
    else:
        out.print(task_tree(run, traceback=traceback))


@contextmanager
def _rereadable(files: Sequence[str], malformed: Malformed) -> Iterator[list[str]]:
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


@click.command("timeline", short_help="A flow's attempts as bars on a time axis, in an HTML page.")
@click.argument("args", nargs=-1, required=True, metavar="[ID] FILES...")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The HTML file to write (- for standard output).",
)
@click.option(
    "--id", "ident", help="The flow or task to draw (else: the first argument when it is not a file)."
)
@click.option(
    "--group-by",
    type=click.Choice(GROUP_BY),
    default="host",
    show_default=True,
    help="Rows: worker host and process, queue, or flow (switchable in the page).",
)
def timeline_command(args: tuple[str, ...], output: str, ident: str | None, group_by: str) -> None:
    """Draw a flow (or a task) as an HTML timeline: one bar per task attempt, on a time axis.

    Bars are grouped by worker host and process (or by queue, or flow), coloured by outcome, with
    retries and failures marked, the time spent waiting in the queue before each attempt, and the
    dispatcher's runs; hover a bar for its details. The page is one self-contained file: no network.

    With no ID, the top-level flow that finished last in the files is drawn (when none finished, the
    one with the latest event), and its id is printed. The first argument is the ID when it is not an
    existing file or -.
    """
    names = list(args)
    if ident is None and len(names) > 1 and names[0] != STDIN and not os.path.exists(names[0]):
        ident, names = names[0], names[1:]
    for name in names:
        if name != STDIN and not os.path.isfile(name):
            hint = "" if ident else " (an ID must be followed by the trace files)"
            raise click.BadParameter(f"no such file: {name}{hint}", param_hint="FILES")
    if not names:
        raise click.UsageError("give at least one trace file.")
    _check_files(names)
    err = current_settings().err
    malformed = Malformed()
    latest: LatestFlow | None = None
    with _rereadable(names, malformed) as readable:
        chosen = ident
        if chosen is None:
            latest = latest_flow(merged(readable, Malformed()))  # skipped lines are counted in pass two
            if latest is None:
                _report_and_exit(malformed, f"no flow in {_label(names)}; give a task id to draw one task.")
            assert latest is not None
            chosen = latest.flow_id
        found = _find(chosen, readable, malformed)
    run = found.run
    _report(malformed)
    if run is None or found.ambiguous:
        _not_found(found, names)
        sys.exit(NOT_FOUND)
    page = render_timeline(run, group_by=group_by, sources=_label(names))
    if output == STDIN:
        sys.stdout.write(page)
        sys.stdout.flush()
    else:
        Path(output).write_text(page, encoding="utf-8")
    what = describe(run)
    if latest is None:
        why = ""
    elif latest.finished:
        why = " (no ID given: the flow that finished last in the input; pass an ID to draw another)"
    else:
        why = (
            " (no ID given and no flow finished: the flow with the latest event; pass an ID to draw another)"
        )
    err.print(
        f"Wrote {output if output != STDIN else 'the page'}: {what}{why}.",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


def _report_and_exit(malformed: Malformed, message: str) -> None:
    _report(malformed)
    current_settings().err.print(f"selinon-trace: {message}", soft_wrap=True, markup=False)
    sys.exit(NOT_FOUND)


@click.command("follow", short_help="Print events as they are written, one coloured line each.")
@click.argument("file", type=_FILES)
@filter_options
@click.option(
    "-n",
    "--lines",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Start with the last N lines of the file (0: only new ones).",
)
@click.option("--once", is_flag=True, help="Print what is in the file and exit instead of waiting for more.")
@click.option("--from-start", is_flag=True, help="Start at the beginning of the file (same as a huge -n).")
def follow_command(
    file: str,
    events: tuple[str, ...],
    flows: tuple[str, ...],
    tasks: tuple[str, ...],
    queues: tuple[str, ...],
    problems: bool,
    lines: int,
    once: bool,
    from_start: bool,
) -> None:
    """Print events as they are written, one readable coloured line each (like tail -F).

    Failures stand out in red, other warnings (retries, discarded results) in yellow. A rotated or
    truncated file is followed into its new version; a half-written last line waits for its end.
    Stop with Ctrl-C.
    """
    keep = EventFilter(event_patterns(events), flows, tasks, queues, problems)
    out = current_settings().out
    malformed = Malformed()
    start_lines = sys.maxsize if from_start else lines
    try:
        for record in follow(file, malformed, lines=start_lines, once=once):
            if keep(record):
                out.print(render_record(record), soft_wrap=True)
    except KeyboardInterrupt:
        pass
    finally:
        _report(malformed)
