"""``selinon-trace timeline``: a flow's (or a canvas's, or a task's) attempts as an HTML page."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..model.collector import latest_flow
from ..model.find import find_attempts, ordered
from ..model.find_query import Query
from ..reading.files import STDIN, merged
from ..reading.lines import Malformed
from ..reading.prefilter import Needles
from ..reading.scope import Scope
from ..views.formatting import short_id
from ..views.timeline import GROUP_BY, describe, render_timeline
from .inputs import NOT_FOUND, check_files, files_label, find_run, not_found, report_skipped, rereadable
from .scope_options import scope_from, scope_options
from .settings import current_settings

__all__ = ["timeline_command"]


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
@scope_options
def timeline_command(
    args: tuple[str, ...],
    output: str,
    ident: str | None,
    group_by: str,
    since: float | None,
    until: float | None,
    tasks: tuple[str, ...],
    queues: tuple[str, ...],
) -> None:
    """Draw a flow (or a task) as an HTML timeline: one bar per task attempt, on a time axis.

    Bars are grouped by worker host and process (or by queue, or flow), coloured by outcome, with
    retries and failures marked, the time spent waiting in the queue before each attempt, and the
    dispatcher's runs; hover a bar for its details. The page is one self-contained file: no network.

    With no ID, the top-level flow that finished last in the files is drawn (when none finished, the
    one with the latest event), and its id is printed. The first argument is the ID when it is not an
    existing file or -.

    --since/--until draw only the events in that window. With no ID they also choose what to draw:
    the flow that finished last in the window; --task/--queue (only without an ID) choose the newest
    task attempt they match, drawn with its flow or canvas.
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
    check_files(names)
    scope = scope_from(since, until, tasks, queues)
    if ident is not None and (tasks or queues):
        raise click.UsageError(
            "--task and --queue choose what to draw when no ID is given; with an ID, give --since/--until."
        )
    window = Scope(since, until)
    err = current_settings().err
    malformed = Malformed()
    why = ""
    with rereadable(names, malformed) as readable:
        chosen = ident
        if chosen is None:
            chosen, why = _choose(readable, scope)  # skipped lines are counted in pass two
            if chosen is None:
                _report_and_exit(malformed, why.format(files=files_label(names)))
            assert chosen is not None
        found = find_run(chosen, readable, malformed, window.apply)
    run = found.run
    report_skipped(malformed)
    if run is None or found.ambiguous:
        not_found(found, names)
        sys.exit(NOT_FOUND)
    page = render_timeline(run, group_by=group_by, sources=files_label(names))
    if output == STDIN:
        sys.stdout.write(page)
        sys.stdout.flush()
    else:
        try:
            Path(output).write_text(page, encoding="utf-8")
        except OSError as exc:
            raise click.FileError(output, hint=exc.strerror or str(exc)) from None
    what = describe(run)
    err.print(
        f"Wrote {output if output != STDIN else 'the page'}: {what}{why}.",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


def _choose(readable: list[str], scope: Scope) -> tuple[str | None, str]:
    """What to draw when no ID is given, and why (or, with no id, the message to exit with)."""
    if not (scope.tasks or scope.queues):
        latest = latest_flow(scope.apply(merged(readable, Malformed())))
        if latest is not None and latest.finished:
            return latest.flow_id, (
                " (no ID given: the flow that finished last in the input; pass an ID to draw another)"
            )
        if latest is not None:
            return latest.flow_id, (
                " (no ID given and no flow finished: the flow with the latest event;"
                " pass an ID to draw another)"
            )
        if scope.everything:
            return None, "no flow in {files}; give a task id to draw one task."
    query = Query(scope.tasks, scope.queues, since=scope.since, until=scope.until)
    newest = ordered(
        find_attempts(
            lambda texts: merged(readable, Malformed(), None if texts is None else Needles(texts)), query
        ),
        limit=1,
    )
    if not newest:
        return None, "no flow or task in {files} matches --since/--until/--task/--queue."
    hit = newest[0]
    return hit.task.task_id, (
        f" (no ID given: the newest task attempt the filters match, {hit.name or '?'}"
        f" [{short_id(hit.task.task_id)}]; pass an ID to draw another)"
    )


def _report_and_exit(malformed: Malformed, message: str) -> None:
    report_skipped(malformed)
    current_settings().err.print(f"selinon-trace: {message}", soft_wrap=True, markup=False)
    sys.exit(NOT_FOUND)
