"""``selinon-trace summary``: runs, failures, retries and durations per task and flow."""

from __future__ import annotations

from functools import partial

import click

from ..model.summary import Summary
from ..model.summary_lean import add_lean, fold_lines
from ..reading.files import STDIN, STDIN_LABEL, batches, merged
from ..reading.lines import Malformed
from ..views.summary_view import summary_view
from .inputs import FILES, check_files, report_skipped
from .scope_options import scope_from, scope_options
from .settings import current_settings, jobs_option, width_option
from .summary_jobs import summary_in_parts

__all__ = ["summary_command"]


@click.command("summary", short_help="Runs, failures, retries and durations per task and flow.")
@click.argument("files", nargs=-1, required=True, type=FILES)
@click.option(
    "--top",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Slowest flows and failure kinds to list.",
)
@jobs_option("fold")
@scope_options
@width_option
def summary_command(
    files: tuple[str, ...],
    top: int,
    jobs: int,
    since: float | None,
    until: float | None,
    tasks: tuple[str, ...],
    queues: tuple[str, ...],
) -> None:
    """Per task and flow: runs, successes, failures, retries, durations; slowest flows; failures.

    Reads the files once, as a stream, in memory bounded by the number of distinct names, queues and
    hosts (not by the number of events). Durations are p50/p95 within 1% and the exact max; a task run
    is one attempt (a retried task counts one run per attempt).

    --since/--until/--task/--queue count only the events they pass (as follow's filters do): a
    window that cuts an attempt counts the part inside it; --task leaves out the flows' own events.

    One large plain file is folded in parts by several processes (--jobs), with the same result.
    """
    check_files(files)
    scope = scope_from(since, until, tasks, queues)
    malformed = Malformed()
    result = None
    if len(files) == 1 and jobs != 1:
        result = summary_in_parts(files[0], scope, top, jobs, malformed)
    if result is None:
        result = Summary(top=top)
        if len(files) == 1 and scope.by_time_only:  # each line decoded lean where that is enough
            name = STDIN_LABEL if files[0] == STDIN else files[0]
            add_lean_line = partial(add_lean, result, None)
            window = None if scope.everything else scope.in_window
            fold_lines(batches(files[0], malformed), name, malformed, result.add, add_lean_line, window)
        else:
            result.add_all(scope.apply(merged(files, malformed)))
    result.finish()
    out = current_settings().out
    out.print(summary_view(result, len(files), width=out.width))
    report_skipped(malformed)
