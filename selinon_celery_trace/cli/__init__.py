"""``selinon-trace``: read trace files and see what happened, with no server.

Reads the JSON-lines files written by the ``json`` sink (several at once, merged by time; gzip files;
``-`` for standard input) and answers "what happened to this flow?" in the terminal or as a picture::

    selinon-trace summary worker-*.jsonl           # per task and flow: runs, failures, retries, p50/p95
    selinon-trace show 9a8b7c6d worker-*.jsonl     # one flow or task as a tree (an id prefix is enough)
    selinon-trace timeline -o flow.html worker-*.jsonl        # the flow that finished last, as HTML
    selinon-trace find --state failed --since 1h worker-*.jsonl   # one line per attempt, newest first
    selinon-trace follow -e 'TASK_*' --queue default trace.jsonl   # tail -F, one coloured line per event
    selinon-trace watch -A proj                    # every host's events, live, from the broker

Exit codes: 0 done, 1 the id was not found (``find``: nothing matched), 2 usage error. Lines that are
not trace events (truncated, garbage, a file being written) are counted and reported on standard error,
never fatal. This package needs no Celery: it only reads files, so it runs anywhere the files are.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from ..core import __version__
from .commands.find import find_command
from .commands.follow import follow_command
from .commands.settings import Settings
from .commands.show import show_command
from .commands.summary import summary_command
from .commands.timeline import timeline_command
from .commands.watch import watch_command
from .views.render import render_event, render_record

__all__ = ["cli", "main", "render_event", "render_record"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="selinon-trace")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour output; auto colours a terminal only (NO_COLOR and FORCE_COLOR are honoured).",
)
@click.option(
    "--width",
    type=click.IntRange(min=20),
    metavar="N",
    help="Lay the output out in N columns (default: the terminal's; whole lines when piped).",
)
@click.pass_context
def cli(ctx: click.Context, color: str, width: int | None) -> None:
    """Read selinon_celery_trace JSON-lines trace files and see what happened, with no server.

    FILES are trace files written by the json sink: several are merged by time (each is assumed to be
    in time order, as one writer writes it), gzip files are read as such, and - is standard input.
    Times are shown in UTC, as the files store them.
    """
    ctx.obj = Settings(color, width)


cli.add_command(summary_command)
cli.add_command(show_command)
cli.add_command(timeline_command)
cli.add_command(find_command)
cli.add_command(follow_command)
cli.add_command(watch_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (the ``selinon-trace`` console script and ``python -m selinon_celery_trace``)."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="selinon-trace")
    except BrokenPipeError:
        # `selinon-trace follow ... | head`: the reader left; that is not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
