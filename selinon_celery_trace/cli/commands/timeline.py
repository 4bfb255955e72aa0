"""``selinon-trace timeline``: a flow's (or a canvas's, or a task's) attempts as an HTML page."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..model.collector import LatestFlow, latest_flow
from ..reading.files import STDIN, merged
from ..reading.lines import Malformed
from ..views.timeline import GROUP_BY, describe, render_timeline
from .inputs import NOT_FOUND, check_files, files_label, find_run, not_found, report_skipped, rereadable
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
    check_files(names)
    err = current_settings().err
    malformed = Malformed()
    latest: LatestFlow | None = None
    with rereadable(names, malformed) as readable:
        chosen = ident
        if chosen is None:
            latest = latest_flow(merged(readable, Malformed()))  # skipped lines are counted in pass two
            if latest is None:
                _report_and_exit(
                    malformed, f"no flow in {files_label(names)}; give a task id to draw one task."
                )
            assert latest is not None
            chosen = latest.flow_id
        found = find_run(chosen, readable, malformed)
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
    report_skipped(malformed)
    current_settings().err.print(f"selinon-trace: {message}", soft_wrap=True, markup=False)
    sys.exit(NOT_FOUND)
