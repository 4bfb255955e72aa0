"""``selinon-trace show``: one flow, canvas workflow or task as a tree."""

from __future__ import annotations

import sys

import click

from ..model.canvas_run import CanvasRun
from ..model.runs import FlowRun
from ..reading.lines import Malformed
from ..views.canvas_view import canvas_tree
from ..views.tree_view import flow_tree, task_tree
from .inputs import FILES, NOT_FOUND, check_files, find_run, not_found, report_skipped, rereadable
from .settings import current_settings

__all__ = ["show_command"]


@click.command("show", short_help="One flow or task as a tree of wake-ups, tasks and attempts.")
@click.argument("ident", metavar="ID")
@click.argument("files", nargs=-1, required=True, type=FILES)
@click.option(
    "-t", "--traceback", is_flag=True, help="Print whole error texts (tracebacks), not only their last line."
)
def show_command(ident: str, files: tuple[str, ...], traceback: bool) -> None:
    """Show one flow (by dispatcher id) or one task (by task id) as a tree.

    A flow shows its dispatcher wake-ups, its tasks with each attempt (retries, failures, durations,
    queue, worker and process) and its subflows, in the order they happened. An id prefix is enough
    when it is unique (the short ids that `follow` prints, for example).
    """
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
        out.print(flow_tree(run, traceback=traceback))
    elif isinstance(run, CanvasRun):
        out.print(canvas_tree(run, traceback=traceback))
    else:
        out.print(task_tree(run, traceback=traceback))
