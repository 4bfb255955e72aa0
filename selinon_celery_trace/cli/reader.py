"""Reading JSON-lines trace files: one record at a time, several files merged by time, damage counted.

Trace files are read as a stream, so a file of millions of events costs memory for one line, not for
the file. Plain files, gzip files (recognised by their magic bytes, whatever their name) and ``-`` for
standard input are accepted. Lines that are not trace events (truncated by a crash or by a file still
being written, garbage from a shared log, a rotated file) are skipped and counted in a
:class:`Malformed` tally that the commands report at the end; they are never fatal.

Several files (one per host, say) are merged by time with :func:`heapq.merge`. That assumes each file
is in time order, which holds for one writer; a file appended to by several worker processes is only
*roughly* ordered (two processes may write their lines a few microseconds out of order). The merge
then stays correct to that same small skew, which is fine for reading a flow; durations are always
computed from the events' own timestamps, never from their position.
"""

from __future__ import annotations

import gzip
import heapq
import io
import json
import re
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any, Final, NamedTuple, cast

from ..core.fast import orjson

__all__ = ["GZIP_MAGIC", "STDIN", "STDIN_LABEL", "Malformed", "Record", "merged", "parse_line", "read"]

STDIN = "-"
"""The file name that means standard input."""
STDIN_LABEL = "<stdin>"
"""What messages call standard input."""

GZIP_MAGIC = b"\x1f\x8b"
"""The first two bytes of a gzip file: files are recognised by them, whatever their name."""
_EMPTY: Mapping[str, Any] = {}

# orjson (the ``fast`` extra, found by the core) parses a trace line about three times faster.
_loads: Callable[[bytes | str], Any] = json.loads if orjson is None else orjson.loads


class Record(NamedTuple):
    """One trace event as read from a file.

    ``ts`` is the event's time as POSIX seconds (the merge key and what durations are computed from);
    ``details`` is always a mapping, empty when the line had none or not a JSON object.
    """

    ts: float
    event: str
    details: Mapping[str, Any]
    node: str

    @property
    def when(self) -> datetime:
        """The event time as a timezone-aware UTC datetime."""
        return datetime.fromtimestamp(self.ts, timezone.utc)


@dataclass
class Malformed:
    """Counts of skipped lines per file and reason, with the first line number of each for the report."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    first_line: dict[tuple[str, str], int] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    """Names to report instead of paths (standard input copied to a temporary file, for one)."""

    def note(self, source: str, line: int, reason: str) -> None:
        """Count one skipped line."""
        key = (self.aliases.get(source, source), reason)
        self.counts[key] += 1
        self.first_line.setdefault(key, line)

    @property
    def total(self) -> int:
        """How many lines were skipped in all."""
        return sum(self.counts.values())

    def report(self) -> list[str]:
        """Return one human line per file and reason, empty when nothing was skipped."""
        return [
            f"{source}: skipped {count} {reason} line{'s' if count != 1 else ''}"
            f" (first at line {self.first_line[(source, reason)]})"
            for (source, reason), count in sorted(self.counts.items())
        ]


_ISO_PARTS: Final = re.compile(r"(.*?\d\d:\d\d:\d\d)(?:[.,](\d+))?([Zz]|[+-]\d\d:?\d\d)?$")


def _parse_time(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        # Python 3.10's fromisoformat takes only its own output: no "Z" suffix, and a fraction of
        # exactly 3 or 6 digits. Other writers (and 3.11+) use both: say it the way 3.10 reads it.
        parts = _ISO_PARTS.match(value)
        if parts is None:
            return None
        clock, fraction, zone = parts.groups()
        fraction = f".{(fraction + '00000')[:6]}" if fraction else ""
        zone = "+00:00" if zone in (None, "Z", "z") else zone  # no zone: UTC, as below
        try:
            moment = datetime.fromisoformat(clock + fraction + zone)
        except ValueError:
            return None
    if moment.tzinfo is None:  # Our writer never does this; other writers mean UTC by it.
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def parse_line(line: bytes | str) -> Record | str:
    """Return the record on ``line``, or the reason it is not one (a short phrase for the report)."""
    try:
        obj = _loads(line)
    except ValueError:  # both decoders' errors are ValueErrors, as is UnicodeDecodeError
        return "malformed"
    if not isinstance(obj, dict):
        return "non-event"
    event = obj.get("event")
    ts = _parse_time(obj.get("time"))
    if not isinstance(event, str) or ts is None:
        return "non-event"
    details = obj.get("details")
    node = obj.get("node")
    return Record(
        ts,
        event,
        details if isinstance(details, dict) else _EMPTY,
        node if isinstance(node, str) else "?",
    )


def _open(path: str) -> tuple[IO[bytes], bool]:
    """Open ``path`` (or standard input) for binary reading; say whether it is gzip-compressed."""
    raw: Any = sys.stdin.buffer if path == STDIN else open(path, "rb")  # noqa: SIM115 - caller closes
    if not isinstance(raw, io.BufferedReader):  # peek() is needed to sniff the gzip magic
        raw = io.BufferedReader(raw)
    if raw.peek(2)[:2] == GZIP_MAGIC:
        return cast("IO[bytes]", gzip.GzipFile(fileobj=raw, mode="rb")), True
    return raw, False


def read(path: str, malformed: Malformed) -> Iterator[Record]:
    """Yield the records of one file in file order; skipped lines are counted in ``malformed``."""
    stream, compressed = _open(path)
    name = STDIN_LABEL if path == STDIN else path
    lineno = 0
    try:
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            result = parse_line(line)
            if isinstance(result, str):
                # A final line with no newline is a write cut short, which is worth saying so.
                reason = "truncated" if not line.endswith(b"\n") and result == "malformed" else result
                malformed.note(name, lineno, reason)
            else:
                yield result
    except (EOFError, OSError, zlib.error) as exc:
        # A gzip file cut short (rotated while being compressed) or corrupt: keep what was read.
        reason = "truncated gzip" if isinstance(exc, EOFError) or compressed else f"unreadable ({exc})"
        malformed.note(name, lineno + 1, reason)
    finally:
        if path != STDIN:
            stream.close()


def _by_time(record: Record) -> float:
    return record.ts


def merged(paths: Iterable[str], malformed: Malformed) -> Iterator[Record]:
    """Yield the records of all ``paths`` merged by time (each file is assumed in time order)."""
    streams = [read(path, malformed) for path in paths]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=_by_time)
