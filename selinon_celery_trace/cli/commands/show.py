"""``selinon-trace show``: one flow, canvas workflow or task as a tree."""

from __future__ import annotations

import sys

import click

from ..model.canvas_run import CanvasRun
from ..model.runs import FlowRun
from ..reading.lines import Malformed
from ..views.canvas_view import canvas_tree
from ..views.tree_view import flow_tree, task_tree
from .inputs import (
    FILES,
    NOT_FOUND,
    check_files,
    find_run,
    missing_files_or_id,
    not_found,
    report_skipped,
    rereadable,
)
from .settings import current_settings, width_option

__all__ = ["show_command"]


@click.command("show", short_help="One flow, canvas workflow or task as a tree of its attempts.")
@click.argument("ident", metavar="ID")
@click.argument("files", nargs=-1, type=FILES, metavar="FILES...")
@click.option(
    "-t", "--traceback", is_flag=True, help="Print whole error texts (tracebacks), not only their last line."
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Under each attempt: its arguments (as the trace has them, redacted) and its result or exception.",
)
@width_option
def show_command(ident: str, files: tuple[str, ...], traceback: bool, verbose: bool) -> None:
    """Show one flow (by dispatcher id), canvas workflow or task (by any of its ids) as a tree.

    A flow shows its dispatcher wake-ups, its tasks with each attempt (retries, failures, durations,
    queue, worker and process) and its subflows, in the order they happened. Any id of a canvas (a
    step, a member, a body, an errback, the id apply_async returned, even of a step that never ran)
    shows the whole workflow. An id prefix is enough when it is unique (the short ids other views print).
    """
    if not files:
        missing_files_or_id(ident, "show")
    check_files(files)
    malformed = Malformed()
    with rereadable(files, malformed) as readable:
        found = find_run(ident, readable, malformed)
    run = found.run
    report_skipped(malformed)
    if run is None or found.ambiguous:
        not_found(found, files)
        sys.exit(NOT_FOUND)
    out = current_settings().out
    if isinstance(run, FlowRun):
        out.print(flow_tree(run, traceback=traceback, verbose=verbose))
    elif isinstance(run, CanvasRun):
        out.print(canvas_tree(run, traceback=traceback, verbose=verbose))
    else:
        out.print(task_tree(run, traceback=traceback, verbose=verbose))
