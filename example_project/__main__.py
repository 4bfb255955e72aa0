"""``python -m example_project [--broker URL] ...``: the command line of the example's runner."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from example_project.runner import Options, run
from example_project.settings import DEFAULT_STATE_DIR, EMBEDDED_BROKER, Settings

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The command line's options."""
    cli = argparse.ArgumentParser(
        prog="python -m example_project",
        description=(
            "Run the example document pipeline on a real prefork celery worker and watch its trace. "
            "Three documents go through fetch -> parse -> index + thumbnail -> publish, each driven by a "
            "Dispatcher flow: one fetch times out once and is retried, one document cannot be parsed, "
            "so its flow fails. Every trace event is printed as the worker writes it, then a summary. "
            "By default nothing needs a server: the broker is kombu's filesystem transport and the "
            "results are files, both in the state directory."
        ),
        epilog=(
            "Exit status: 0 when the run went as designed (two flows ended, one failed on purpose), "
            "1 otherwise (or on a timeout, or when the worker died), 130 when interrupted. "
            "Example with Redis: python -m example_project --broker redis://localhost:6379/0"
        ),
    )
    cli.add_argument(
        "--broker",
        metavar="URL",
        default=EMBEDDED_BROKER,
        help=f"broker URL, e.g. redis://localhost:6379/0 (default: {EMBEDDED_BROKER}, embedded, no server; "
        "redis needs: pip install redis)",
    )
    cli.add_argument(
        "--result-backend",
        metavar="URL",
        default="",
        help="result backend URL (default: the broker's URL for Redis, else file://<state-dir>/results)",
    )
    cli.add_argument(
        "--state-dir",
        metavar="DIR",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where the embedded broker, results, trace.jsonl and the logs go; its broker and result "
        "folders are emptied at start (default: %(default)s)",
    )
    cli.add_argument(
        "--concurrency",
        metavar="N",
        type=_positive_int,
        default=2,
        help="worker pool processes (default: %(default)s)",
    )
    cli.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=90.0,
        help="give up when the flows have not finished by then (default: %(default)s)",
    )
    cli.add_argument(
        "--no-live",
        dest="live",
        action="store_false",
        help="do not print each trace event; show progress and the summary only",
    )
    cli.add_argument(
        "--queue-prefix",
        metavar="TEXT",
        default="",
        help="prefix for the queue names, so several runs can share one broker (default: none)",
    )
    return cli


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the example; return the exit status."""
    args = parser().parse_args(argv)
    # This process's own log (kombu's and Celery's client side): only errors, and to stderr, so the
    # console shows the trace and nothing else. The worker's log is a file in the state directory.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings(
        state_dir=args.state_dir,
        broker_url=args.broker,
        result_backend=args.result_backend,
        queue_prefix=args.queue_prefix,
    )
    return run(Options(settings, concurrency=args.concurrency, timeout=args.timeout, live=args.live))


if __name__ == "__main__":
    sys.exit(main())
