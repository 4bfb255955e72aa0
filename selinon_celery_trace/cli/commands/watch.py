"""``selinon-trace watch``: every worker host's trace, live, over Celery's own event transport.

Workers configured with the ``events`` sink publish each trace event as a custom Celery event; this
command receives them from the broker (as ``celery events`` does, with the ``Watcher`` of
``reading/broker.py``) and prints them with ``follow``'s renderer, or writes them as JSON lines in exactly
the trace-file format (``--json``), so the stream can be saved and read by ``summary``, ``show`` and
``timeline``. It reconnects when the broker restarts.

Unlike the rest of ``cli/``, this command needs Celery; it is imported only when the command runs.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

import click

from ..reading.broker import AppNotFound, Watcher, json_line_of, load_app, record_of
from ..reading.filters import EventFilter
from ..reading.lines import Record
from .filter_options import event_patterns, filter_options

__all__ = ["watch_command"]


def _host_matches(event: Mapping[str, Any], record: Record, hosts: Sequence[str]) -> bool:
    names = [record.node, event.get("hostname"), record.details.get("hostname")]
    return any(
        isinstance(name, str) and fnmatch.fnmatchcase(name, pattern) for name in names for pattern in hosts
    )


@click.command("watch", short_help="Every worker host's trace events, live, from the broker.")
@click.option(
    "-A",
    "--app",
    "app_name",
    metavar="APP",
    help="The Celery app (module or module:attribute), as `celery -A`.",
)
@click.option("-b", "--broker", metavar="URL", help="The broker URL (with -A: instead of the app's).")
@click.option(
    "--type", "event_type", default="selinon-trace", show_default=True, help="The events sink's event type."
)
@filter_options
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="HOST",
    help="Only events from this host or worker node name (pattern).",
)
@click.option("--json", "as_json", is_flag=True, help="Write JSON lines in the trace-file format instead.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Write to this file (appended) instead of standard output.",
)
def watch_command(
    app_name: str | None,
    broker: str | None,
    event_type: str,
    events: tuple[str, ...],
    flows: tuple[str, ...],
    tasks: tuple[str, ...],
    queues: tuple[str, ...],
    hosts: tuple[str, ...],
    problems: bool,
    as_json: bool,
    output: str,
) -> None:
    """Receive the trace events of every worker host live, over the broker (workers need the events sink).

    Events are shown as `follow` shows them, or with --json written as JSON lines that `summary`, `show`
    and `timeline` read. Reports of events a worker process dropped while the broker was unreachable,
    and connection changes, go to standard error. Stop with Ctrl-C.
    """
    from ..views.render import render_record
    from .settings import current_settings

    if not app_name and not broker:
        raise click.UsageError("give the Celery app (-A APP) or the broker (--broker URL).")
    keep = EventFilter(event_patterns(events), flows, tasks, queues, problems)
    settings = current_settings()
    err = settings.err
    target: IO[bytes] | None = None
    if as_json:
        target = sys.stdout.buffer if output == "-" else open(output, "ab")  # noqa: SIM115 - closed below
    elif output != "-":
        from rich.console import Console

        settings.out = Console(file=open(output, "a", encoding="utf-8"), highlight=False)  # noqa: SIM115
    out = settings.out

    def on_event(event: dict[str, Any]) -> None:
        record = record_of(event)
        if record is None or not keep(record) or (hosts and not _host_matches(event, record, hosts)):
            return
        if target is not None:
            target.write(json_line_of(event))
            target.flush()
        else:
            out.print(render_record(record), soft_wrap=True)

    def on_dropped(event: dict[str, Any], count: int) -> None:
        err.print(
            f"selinon-trace: {event.get('hostname', '?')} (pid {event.get('pid', '?')}) dropped "
            f"{count} trace events (broker unreachable or its queue full; {event.get('dropped')} in all)",
            style="yellow",
            soft_wrap=True,
            markup=False,
        )

    def on_status(message: str) -> None:
        err.print(f"selinon-trace: {message}", soft_wrap=True, markup=False, highlight=False)

    try:
        app = load_app(app_name, broker)
    except AppNotFound as exc:
        raise click.BadParameter(str(exc), param_hint="'-A' / '--app'") from None
    watcher = Watcher(app, on_event, on_dropped, on_status, event_type)
    try:
        watcher.run()
    except KeyboardInterrupt:
        pass
    finally:
        if target is not None and target is not sys.stdout.buffer:
            target.close()
