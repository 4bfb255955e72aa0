"""``selinon-trace find``: task attempts by name, queue, state, time and argument, one line each."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import click

from ..model.argument_match import ArgCondition, parse_condition
from ..model.find import find_attempts, ordered
from ..model.find_query import STATES, Query, state_outcomes
from ..reading.files import merged
from ..reading.lines import Malformed, Record
from ..reading.prefilter import Needles
from ..views.find_view import count_line, find_lines
from .forked import picked_records
from .inputs import FILES, NOT_FOUND, check_files, files_label, report_skipped, rereadable
from .scope_options import check_window, scope_options
from .settings import current_settings, jobs_option, width_option

__all__ = ["find_command"]


def _states(_: click.Context, __: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    words = []
    for value in values:
        for word in value.split(","):
            word = word.strip().lower()
            if not word:
                continue
            if word not in STATES:
                raise click.BadParameter(f"unknown state {word!r}; choose from {', '.join(STATES)}.")
            words.append(word)
    return tuple(words)


def _conditions(_: click.Context, __: click.Parameter, values: tuple[str, ...]) -> tuple[ArgCondition, ...]:
    try:
        return tuple(parse_condition(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("find", short_help="Task attempts by name, queue, state, time or argument, one line each.")
@click.argument("files", nargs=-1, required=True, type=FILES)
@scope_options
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    callback=_states,
    help="Only attempts that ended so: failed, retried, revoked, expired, rejected, succeeded (ok), "
    "replaced, running (no-end: no end event), scheduled (never started); repeat or comma-separate.",
)
@click.option(
    "--arg",
    "conditions",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_conditions,
    help="Only tasks called with this argument, as the trace has it (redacted): KEY=VALUE a keyword "
    "argument, N=VALUE the positional argument N (from 0), VALUE any argument; * and ? are wildcards; "
    "repeat: all must hold.",
)
@click.option(
    "-n",
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(min=0),
    metavar="N",
    help="Print at most N lines (0: all); the count at the end says how many matched.",
)
@click.option("--oldest-first", is_flag=True, help="Oldest first (default: newest first).")
@jobs_option("search")
@width_option
def find_command(
    files: tuple[str, ...],
    since: float | None,
    until: float | None,
    tasks: tuple[str, ...],
    queues: tuple[str, ...],
    states: tuple[str, ...],
    conditions: tuple[ArgCondition, ...],
    limit: int,
    oldest_first: bool,
    jobs: int,
) -> None:
    """Find task attempts by task, queue, state, time and argument: one line each, newest first.

    Each line is one attempt (a retried task has one per attempt; a message revoked, expired or
    rejected before it ran, or never started, has one too): its time (the attempt's start, UTC), its
    state, the task's name (#N: the attempt's number when there were several), the short id to give
    to `show`, the queue, the duration and what went wrong. All options given must hold; an option
    given twice matches either value. Arguments are matched as the trace has them, after redaction: a
    masked value reads [redacted] and cannot be found by the secret. Exits 1 when nothing matched.

    \b
    selinon-trace find --state failed --since 1h worker-*.jsonl
    selinon-trace find --task 'shop.*' --arg client_id=1234 trace.jsonl
    selinon-trace find --arg 0=1234 --queue payments --oldest-first trace.jsonl
    """
    check_files(files)
    check_window(since, until)
    query = Query(tasks, queues, state_outcomes(states), since, until, conditions)
    malformed = Malformed()
    with rereadable(files, malformed) as readable:
        passes = 0

        def read(texts: list[str] | None) -> Iterable[Record]:
            nonlocal passes
            passes += 1  # lines skipped are counted on the first pass only: later ones read the same
            # Only the lines holding one of the texts are parsed (a byte search: reading/prefilter.py);
            # one large plain file is searched in parts by several processes (commands/forked.py).
            # The second pass's texts are task ids: too many to search for one by one, the lines are
            # picked by the value of their id keys.
            first = passes == 1
            found = malformed if first else Malformed()  # lines skipped: reported by the first pass
            needles = None if texts is None else Needles(texts, keyed=not first)
            if needles is not None and len(readable) == 1:
                picked = picked_records(readable[0], needles, found, jobs, framing=first)
                if picked is not None:
                    return picked
            return merged(readable, found, needles, framing=first)

        found = find_attempts(read, query)
    if not found:
        report_skipped(malformed)
        current_settings().err.print(
            f"selinon-trace: no task attempt in {files_label(files)} matches.", soft_wrap=True, markup=False
        )
        sys.exit(NOT_FOUND)
    shown = ordered(found, oldest_first=oldest_first, limit=limit)
    out = current_settings().out
    for line in find_lines(shown):
        out.print(line, soft_wrap=True, no_wrap=True)
    out.print(count_line(len(shown), len(found), oldest_first=oldest_first), style="dim", highlight=False)
    report_skipped(malformed)
