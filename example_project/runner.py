"""``python -m example_project``: run the document pipeline on a real worker and watch its trace.

One run: prepare the state directory, start a prefork ``celery worker``, submit three documents as
``document_flow`` flows, print every trace event as the worker writes it (with a progress line in a
terminal), then a summary; the worker is stopped whatever happens, Ctrl-C included.

Exit status: 0 when the run went as designed (two flows ended, the scanned contract's flow failed),
1 when something else happened (a flow ended differently, a timeout, the worker died or did not start),
130 when interrupted.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Final

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from example_project.live import FlowOutcome, RunState, TraceTail, short
from example_project.settings import Settings
from example_project.worker import Worker, WorkerError
from selinon_celery_trace.cli import render_event
from selinon_celery_trace.cli.views.formatting import format_duration, short_id

__all__ = ["DOCUMENTS", "Options", "run"]

EXIT_OK: Final = 0
EXIT_UNEXPECTED: Final = 1
EXIT_INTERRUPTED: Final = 130


@dataclass(frozen=True)
class Document:
    """One input of the run: the document id, what should happen to it, and why."""

    doc_id: str
    expected: str
    story: str


DOCUMENTS: Final = (
    Document("q3-report", "ended", "fetch -> parse -> index + thumbnail -> publish -> notify"),
    Document("release-notes", "ended", "its server times out once: fetch retries, then the flow goes on"),
    Document("scanned-contract", "failed", "an image-only scan: parse fails for good, so the flow fails"),
)


@dataclass(frozen=True)
class Options:
    """What the command line asks for."""

    settings: Settings
    concurrency: int = 2
    timeout: float = 90.0
    live: bool = True


class _Terminated(Exception):
    """SIGTERM to the runner: stop like on Ctrl-C."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated()


def run(options: Options, console: Console | None = None) -> int:
    """Run the example once; return the exit status."""
    console = console or Console(highlight=False)
    settings = options.settings
    _header(console, options)
    try:
        _check_broker(settings)
    except _BrokerUnusable as exc:
        console.print(f"[bold red]Cannot use the broker:[/] {exc}", soft_wrap=True)
        return EXIT_UNEXPECTED
    _prepare_state(settings)
    worker = Worker(settings, options.concurrency)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    state = RunState()
    status = EXIT_UNEXPECTED
    client_app: Any = None
    try:
        console.print(
            f"Starting [bold]celery worker[/] (prefork, {options.concurrency} processes) ... ", end=""
        )
        worker.start()
        took = worker.wait_ready(timeout=60)
        console.print(f"[green]ready[/] in {took:.1f}s")
        client_app = _client(settings)
        _submit(console, state)
        status = _watch(console, options, worker, state)
    except WorkerError as exc:
        console.print(f"\n[bold red]{exc}.[/] The end of {_shown(settings.worker_log)}:")
        console.print(Text(worker.log_tail()), style="dim")
    except (KeyboardInterrupt, _Terminated):
        console.print("\n[yellow]Interrupted.[/]", end=" ")
        status = EXIT_INTERRUPTED
    finally:
        if worker.process is not None:
            console.print("Stopping the worker (warm shutdown) ... ", end="")
            stopping = time.monotonic()
            clean = worker.stop()
            stop_time = f"in {time.monotonic() - stopping:.1f}s"
            console.print(f"[green]stopped[/] {stop_time}" if clean else f"[yellow]killed[/] {stop_time}")
        signal.signal(signal.SIGTERM, previous)
        if client_app is not None:
            from selinon_celery_trace import uninstall

            uninstall(client_app)
            client_app.close()
    if status == EXIT_INTERRUPTED:
        console.print(
            f"{state.flows_done} of {len(state.flows)} flows had finished; the trace so far is in "
            f"{_shown(settings.trace_file)}.",
            soft_wrap=True,
        )
    elif state.flows:
        _summary(console, settings, state, status)
    return status


# -- preparing ---------------------------------------------------------------------------------------


class _BrokerUnusable(Exception):
    pass


def _check_broker(settings: Settings) -> None:
    """Fail early, with a message to act on, when the broker cannot be used."""
    if settings.embedded:
        return
    if settings.broker_url.startswith("redis") or settings.result_backend.startswith("redis"):
        try:
            import redis  # noqa: F401
        except ImportError:
            raise _BrokerUnusable("the Redis transport needs the redis package: pip install redis") from None
    from kombu import Connection

    try:
        with Connection(settings.broker_url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        raise _BrokerUnusable(f"{settings.broker_url}: {exc}") from None


def _prepare_state(settings: Settings) -> None:
    """A clean slate: no messages or results of an earlier run; empty trace and logs."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    for folder in (settings.broker_dir, settings.results_dir):
        shutil.rmtree(folder, ignore_errors=True)
    if settings.embedded:
        for sub in ("queue", "control", "processed"):
            (settings.broker_dir / sub).mkdir(parents=True)
    if settings.result_backend.startswith("file://"):
        Path(settings.result_backend[len("file://") :]).mkdir(parents=True, exist_ok=True)
    for path in (settings.trace_file, settings.worker_log):
        path.write_bytes(b"")


def _client(settings: Settings) -> Any:
    """The app of this process, which publishes the flows as a web app would.

    A client does not import ``imports``, so tracing is installed here explicitly, as README says for
    web apps: each submitted flow is then a TASK_SCHEDULE in the same trace file (the json sink appends
    whole lines), and the time a flow waits in the queue before its first wake-up can be seen.
    """
    os.environ.update(settings.to_env())  # read by example_project.app when it is first imported
    from example_project.app import app
    from example_project.celeryconfig import celery_config
    from selinon_celery_trace import install

    app.conf.update(celery_config(settings))  # in case it was imported earlier with other settings
    install(app)
    return app


def _submit(console: Console, state: RunState) -> None:
    from example_project.tasks import document_flow

    console.print(f"Submitting {len(DOCUMENTS)} documents, each as one [bold magenta]document_flow[/]:")
    for doc in DOCUMENTS:
        result = document_flow.delay(doc.doc_id)
        state.expect(doc.doc_id, result.id, doc.expected)
        console.print(
            f"  [bold]{doc.doc_id:<17}[/] [magenta]{short_id(result.id)}[/]  {doc.story}", soft_wrap=True
        )
    console.print()


# -- watching ----------------------------------------------------------------------------------------


def _watch(console: Console, options: Options, worker: Worker, state: RunState) -> int:
    """Follow the trace until the run is complete; print events (live view) and progress."""
    tail = TraceTail(options.settings.trace_file)
    started = time.monotonic()
    deadline = started + options.timeout
    announced: set[str] = set()
    # The progress line stays below the events in a terminal (and is not printed otherwise).
    spinner = Spinner("dots", text=_progress(state, started), style="cyan")
    with Live(Group(Text(""), spinner), console=console, transient=True, refresh_per_second=8):
        while True:
            for record in tail.read():
                state.add(record)
                if options.live:
                    console.print(render_event(record.event, record.details, ts=record.ts), soft_wrap=True)
                elif not console.is_terminal:
                    _announce(console, state, announced)
            spinner.update(text=_progress(state, started))
            if state.complete:
                break
            if not worker.alive:
                raise WorkerError(f"the worker died (status {worker.returncode})")
            if time.monotonic() > deadline:
                console.print(
                    f"[bold red]Timed out[/] after {options.timeout:.0f}s; still waiting for: "
                    f"{state.describe_pending()}",
                    soft_wrap=True,
                )
                return EXIT_UNEXPECTED
            time.sleep(0.1)
    if not options.live and not console.is_terminal:
        _announce(console, state, announced)
    console.print(
        f"All {len(state.flows)} flows finished in {time.monotonic() - started:.1f}s "
        f"({_plural(state.events, 'trace event')})."
    )
    return EXIT_OK if state.as_designed else EXIT_UNEXPECTED


def _announce(console: Console, state: RunState, announced: set[str]) -> None:
    # Progress for a log (no terminal, no live view): one line per finished flow.
    for flow in state.flows.values():
        if flow.done and flow.flow_id not in announced:
            announced.add(flow.flow_id)
            console.print(f"  flow {len(announced)}/{len(state.flows)} done: {flow.doc_id} {flow.status}")


def _progress(state: RunState, started: float) -> Text:
    done, total = state.flows_done, len(state.flows)
    line = Text()
    line.append(f" flows {done}/{total} done", style="bold")
    line.append(f"   tasks {sum(state.tasks_by_name.values())}   retries {state.retries}")
    line.append(f"   failures {state.failures}", style="red" if state.failures else "")
    line.append(f"   events {state.events}   {time.monotonic() - started:.0f}s", style="dim")
    return line


# -- the summary -------------------------------------------------------------------------------------


def _summary(console: Console, settings: Settings, state: RunState, status: int) -> None:
    console.print()
    console.rule("[bold]Summary")
    results = _flow_results(state)
    for flow in state.flows.values():
        line = Text("  ")
        line.append(f"{flow.doc_id:<17}", style="bold")
        line.append(f" {short_id(flow.flow_id)}  ", style="magenta")
        line.append_text(_outcome(flow, results.get(flow.flow_id)))
        if not flow.as_designed:
            line.append(f"  UNEXPECTED (should have {flow.expected})", style="bold red")
        console.print(line, soft_wrap=True)
    console.print()
    ended = sum(flow.status == "ended" for flow in state.flows.values())
    failed = sum(flow.status == "failed" for flow in state.flows.values())
    by_name = ", ".join(f"{name.removeprefix('example.')} {n}" for name, n in state.tasks_by_name.items())
    trace = _shown(settings.trace_file)
    facts = (
        ("flows", f"{len(state.flows)} run: {ended} ended, {failed} failed"),
        (
            "tasks",
            f"{sum(state.tasks_by_name.values())} run ({by_name}); "
            f"{_plural(state.retries, 'retry', 'retries')}, {_plural(state.failures, 'failure')}",
        ),
        ("trace", f"{_plural(state.events, 'event')} in {trace}"),
        (
            "worker log",
            f"{_shown(settings.worker_log)} (Celery's log, with the logging sink's SELINON lines)",
        ),
    )
    for label, value in facts:
        console.print(f"  [bold]{label:<12}[/]{value}", soft_wrap=True)
    if state.events:
        shown = next((f for f in state.flows.values() if f.retried), None) or next(iter(state.flows.values()))
        console.print()
        console.print("Read the trace with [bold]selinon-trace[/] (also: python -m selinon_celery_trace):")
        for command, comment in (
            (f"selinon-trace summary {trace}", "runs, retries, failures, durations"),
            (f"selinon-trace show {short_id(shown.flow_id)} {trace}", f"the {shown.doc_id} flow as a tree"),
            (f"selinon-trace timeline -o flow.html {trace}", "the latest flow as a web page"),
        ):
            console.print(f"  {command}  [dim]# {comment}[/]", soft_wrap=True)
    console.print()
    if status == EXIT_OK:
        console.print(
            f"[bold green]Done:[/] the run went as designed "
            f"({ended} flows ended, {failed} failed on purpose).",
            soft_wrap=True,
        )
    else:
        console.print("[bold red]The run did not go as designed[/] (see above).", soft_wrap=True)


def _flow_results(state: RunState) -> dict[str, Any]:
    """The published URL of each ended flow, as the result backend has it."""
    from example_project.app import app

    found: dict[str, Any] = {}
    for flow in state.flows.values():
        if flow.status != "ended":
            continue
        try:
            found[flow.flow_id] = app.AsyncResult(flow.flow_id).get(timeout=5, propagate=False)
        except Exception as exc:  # the summary is still worth printing
            found[flow.flow_id] = f"(result unavailable: {exc})"
    return found


def _outcome(flow: FlowOutcome, result: Any) -> Text:
    text = Text()
    took = f" in {format_duration(flow.duration)}" if flow.duration is not None else ""
    if flow.status == "ended":
        text.append(f"ended{took}", style="bold green")
        if result:
            text.append(f": published {result}")
    elif flow.status == "failed":
        text.append(f"failed{took}", style="bold red")
        where = f" at {flow.failed_node}" if flow.failed_node else ""
        text.append(f"{where}: {short(_unqualified(flow.error or '?'), 120)}")
    else:
        text.append(f"{flow.status}, not finished", style="yellow")
    if flow.retried:
        text.append(f" (retried: {', '.join(flow.retried)})", style="yellow")
    return text


def _unqualified(error: str) -> str:
    """``pkg.module.Error: text`` -> ``Error: text``: the class name is what a reader needs."""
    return re.sub(r"^(?:[\w]+\.)+(\w+:)", r"\1", error)


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


def _shown(path: Path) -> str:
    """A path as the user can type it: relative to the current directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- the header --------------------------------------------------------------------------------------


def _header(console: Console, options: Options) -> None:
    settings = options.settings
    console.print(
        "[bold]selinon_celery_trace example[/]: a document pipeline on Celery, traced by configuration only",
        soft_wrap=True,
    )
    if settings.embedded:
        broker = f"filesystem:// (embedded, no server) in {_shown(settings.broker_dir)}"
    else:
        broker = _redacted(settings.broker_url)
    for label, value in (
        ("broker", broker),
        ("results", _redacted(settings.result_backend)),
        ("trace", _shown(settings.trace_file)),
        ("worker log", _shown(settings.worker_log)),
    ):
        console.print(f"  [dim]{label:<12}[/]{value}", soft_wrap=True)
    console.print()


def _redacted(url: str) -> str:
    """A URL without its password, for printing."""
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))
