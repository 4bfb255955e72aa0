"""Every built-in sink at once, in this process, and a reader that says what each one produced per event."""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery

import selinon_celery_trace
from selinon_celery_trace import Trace
from selinon_celery_trace.sinks import JsonStreamSink
from tests.reliability import sinks
from tests.reliability.support import whole_lines

__all__ = ["AllSinks", "eager_app"]

LOGGER = "tests.reliability.trace"
# Selinon's message: the host right-aligned in 10, then the JSON of {"details", "event", "time"}.
_MESSAGE = re.compile(r"SELINON +(?P<node>\S+) - (?P<event>[A-Z_]+) : (?P<report>.*)", re.DOTALL)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class AllSinks:
    """logging (to a handler), JSON lines to a file, JSON to two streams and a function, all registered."""

    directory: Path
    file: Path = field(init=False)
    stdout: io.StringIO = field(default_factory=io.StringIO)
    stderr: io.StringIO = field(default_factory=io.StringIO)
    handler: _Records = field(default_factory=_Records)

    def __post_init__(self) -> None:
        self.file = self.directory / "trace.jsonl"
        self.file.touch()

    @property
    def config(self) -> list[dict[str, Any]]:
        """The ``selinon_trace`` entries of the configurable sinks."""
        return [
            {"logging": {"logger": LOGGER}},
            {"json": {"path": str(self.file)}},
            {"function": {"import": "tests.reliability.sinks", "name": "collect"}},
        ]

    def install(self, app: Celery) -> None:
        """Install tracing for ``app`` with these sinks, and the stream sink beside them."""
        logger = logging.getLogger(LOGGER)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.addHandler(self.handler)
        app.conf.selinon_trace = self.config
        selinon_celery_trace.install(app)
        Trace.add_sink(JsonStreamSink(stdout=self.stdout, stderr=self.stderr))
        self.clear()

    def uninstall(self, app: Celery) -> None:
        selinon_celery_trace.uninstall(app)
        logging.getLogger(LOGGER).removeHandler(self.handler)

    def clear(self) -> None:
        """Forget what every sink produced so far."""
        self.file.write_bytes(b"")
        for stream in (self.stdout, self.stderr):
            stream.seek(0)
            stream.truncate()
        self.handler.records.clear()
        sinks.collected.clear()

    def outputs(self, adapted: bool = True) -> dict[str, list[tuple[str, Any]]]:
        """``(event name, details)`` per sink, each parsed from what that sink wrote; fails on a bad record.

        ``adapted``: the events came from the Celery adapters, so the function sink's details must be
        JSON-safe too (a direct ``Trace.log`` hands sinks the caller's own objects).
        """
        found: dict[str, list[tuple[str, Any]]] = {}
        data = self.file.read_bytes()
        found["json file"] = [(r["event"], r["details"]) for r in (whole_lines(data) if data else [])]
        streams = self.stdout.getvalue() + self.stderr.getvalue()
        assert streams.count("\n") == len(found["json file"]), "the streams got as many lines as the file"
        found["json streams"] = [
            (r["event"], r["details"]) for r in (whole_lines(streams.encode()) if streams else [])
        ]
        logged = []
        for record in self.handler.records:
            message = record.getMessage()
            assert "\n" not in message, message[:300]
            match = _MESSAGE.fullmatch(message)
            assert match is not None, message[:300]
            report = json.loads(match["report"])
            assert report["event"] == match["event"], message[:300]
            logged.append((match["event"], report["details"]))
        found["logging"] = logged
        called = []
        for event, details in sinks.collected:
            if adapted:
                json.dumps(details, allow_nan=False)  # the adapters hand sinks JSON-safe details
            called.append((Trace.event2str(event), details))
        found["function"] = called
        return found

    def lines(self) -> list[bytes]:
        """Every line each text sink wrote (the file, the streams, the log messages), for size checks."""
        text = self.stdout.getvalue() + self.stderr.getvalue()
        return [
            *self.file.read_bytes().split(b"\n")[:-1],
            *(line.encode() for line in text.split("\n")[:-1]),
            *(record.getMessage().encode() for record in self.handler.records),
        ]


def eager_app() -> Celery:
    """An app whose tasks run in this process (``task.apply()``): no broker needed."""
    app = Celery("reliability_eager", set_as_current=False)
    app.conf.update(broker_url="memory://", result_backend="cache+memory://")

    @app.task(name="hostile.identity", shared=False)
    def identity(value: Any, **details: Any) -> Any:
        return value

    @app.task(name="hostile.discard", shared=False, ignore_result=True)
    def discard(value: Any) -> Any:
        return value

    return app
