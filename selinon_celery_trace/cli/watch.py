"""``selinon-trace watch``: every worker host's trace, live, over Celery's own event transport.

Workers configured with the ``events`` sink publish each trace event as a custom Celery event; this
command receives them from the broker (as ``celery events`` does) and prints them with ``follow``'s
renderer, or writes them as JSON lines in exactly the trace-file format (``--json``), so the stream can
be saved and read by ``summary``, ``show`` and ``timeline``. It reconnects when the broker restarts.

Unlike the rest of ``cli/``, this command needs Celery; it is imported only when the command runs.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import IO, Any

import click

from ..core.record import dumps
from .filters import EventFilter, event_patterns, filter_options
from .reader import Record

__all__ = ["Watcher", "load_app", "record_of", "watch_command"]

RETRY_INTERVAL = 1.0
"""Seconds between reconnection attempts while the broker is unreachable."""


def load_app(app: str | None, broker: str | None) -> Any:
    """Return the Celery app named by ``-A`` (as the ``celery`` command finds it), or one for ``broker``."""
    from celery import Celery
    from celery.app.utils import find_app

    if app:
        if os.getcwd() not in sys.path:  # as `celery -A` does: the app's module is in the current folder
            sys.path.insert(0, os.getcwd())
        loaded = find_app(app)
        if broker:
            loaded.conf.broker_url = broker
        return loaded
    return Celery("selinon-trace-watch", broker=broker, set_as_current=False)


def record_of(event: Mapping[str, Any]) -> Record | None:
    """Return the trace record a received Celery event carries, or None when it carries none."""
    name, when = event.get("event"), event.get("time")
    if not isinstance(name, str) or not isinstance(when, str):
        return None
    try:
        ts = datetime.fromisoformat(when).timestamp()
    except ValueError:
        return None
    details = event.get("details")
    node = event.get("node")
    return Record(
        ts, name, details if isinstance(details, Mapping) else {}, node if isinstance(node, str) else ""
    )


def json_line_of(event: Mapping[str, Any]) -> bytes:
    """The trace-file line of a received event: its record, key for key, as the ``json`` sink writes it."""
    record = {
        "event": event.get("event"),
        "time": event.get("time"),
        "details": event.get("details"),
        "node": event.get("node"),
    }
    return dumps(record) + b"\n"


class Watcher:
    """Receive trace events from the broker until stopped, reconnecting when the connection is lost.

    ``on_event`` gets each received trace event (the Celery event's fields); ``on_dropped`` gets the
    Celery event that showed a process dropped more events than it last said, and how many more;
    ``on_status`` gets human messages (connected, connection lost).
    """

    def __init__(
        self,
        app: Any,
        on_event: Callable[[dict[str, Any]], None],
        on_dropped: Callable[[dict[str, Any], int], None],
        on_status: Callable[[str], None],
        event_type: str = "selinon-trace",
    ) -> None:
        self.app = app
        self.on_event = on_event
        self.on_dropped = on_dropped
        self.on_status = on_status
        self.event_type = event_type
        self.should_stop = False
        self.dropped: dict[tuple[Any, Any], int] = {}
        """The dropped-events total last seen from each (hostname, pid)."""

    def _handle(self, event: dict[str, Any]) -> None:
        total = event.get("dropped")
        if isinstance(total, int) and total > 0:
            source = (event.get("hostname"), event.get("pid"))
            seen = self.dropped.get(source, 0)
            if total > seen:
                self.dropped[source] = total
                self.on_dropped(event, total - seen)
        if "event" in event:
            self.on_event(event)

    def run(self) -> None:
        """Receive until :attr:`should_stop` is set (or Ctrl-C)."""
        from celery.events.receiver import EventReceiver

        watcher = self

        class _Receiver(EventReceiver):  # type: ignore[misc]
            # kombu's consume loop checks should_stop at every event and every idle second.
            @property
            def should_stop(self) -> bool:
                return watcher.should_stop

            @should_stop.setter
            def should_stop(self, value: bool) -> None:
                pass

            def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
                watcher.on_status(f"watching {connection.as_uri()} for {watcher.event_type} events")

        lost = False
        while not self.should_stop:
            try:
                with self.app.connection_for_read(heartbeat=0) as connection:
                    connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=5)
                    if lost:
                        self.on_status("reconnected to the broker")
                    receiver = _Receiver(
                        connection,
                        handlers={self.event_type: self._handle},
                        # Only this event type: the exact routing key Celery's dispatcher gives it.
                        routing_key=self.event_type.replace("-", "."),
                        app=self.app,
                    )
                    errors = connection.connection_errors + connection.channel_errors
                    try:
                        receiver.capture(limit=None, timeout=None, wakeup=False)
                    except errors as exc:
                        raise ConnectionError(str(exc) or type(exc).__name__) from exc
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                if self.should_stop:
                    return
                if not lost:
                    self.on_status(f"lost the broker connection ({exc}); reconnecting")
                lost = True
                time.sleep(RETRY_INTERVAL)
            else:
                lost = False


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
    from .render import render_record
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

    watcher = Watcher(load_app(app_name, broker), on_event, on_dropped, on_status, event_type)
    try:
        watcher.run()
    except KeyboardInterrupt:
        pass
    finally:
        if target is not None and target is not sys.stdout.buffer:
            target.close()
