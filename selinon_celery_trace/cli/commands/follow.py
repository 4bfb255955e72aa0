"""``selinon-trace follow``: events as they are written, one coloured line each (like ``tail -F``)."""

from __future__ import annotations

import sys

import click

from ..reading.filters import EventFilter
from ..reading.lines import Malformed
from ..reading.tail import follow
from ..views.render import render_record
from .filter_options import event_patterns, filter_options
from .inputs import FILES, report_skipped
from .settings import current_settings, width_option

__all__ = ["follow_command"]


@click.command("follow", short_help="Print events as they are written, one coloured line each.")
@click.argument("file", type=FILES)
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
@width_option
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
        report_skipped(malformed)
