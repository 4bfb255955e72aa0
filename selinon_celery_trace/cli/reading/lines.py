"""Trace lines as records: one JSON line parsed into a :class:`Record`, or the reason it is not one.

A line that is not a trace event (truncated by a crash or by a file still being written, garbage from a
shared log, a rotated file) is never fatal: the readers count it in a :class:`Malformed` tally that the
commands report at the end.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final, NamedTuple

from ...core.fast import orjson

__all__ = ["Malformed", "Record", "parse_line", "timestamp"]

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

    def note_line(self, source: str, line: int, text: bytes, reason: str) -> None:
        """Count the line ``text`` that :func:`parse_line` gave ``reason`` for; a blank line is no damage."""
        if text.strip():
            # A final line with no newline is a write cut short, which is worth saying so.
            self.note(
                source, line, "truncated" if not text.endswith(b"\n") and reason == "malformed" else reason
            )

    def absorb(self, other: Malformed, lines_before: int = 0) -> None:
        """Count ``other``'s skipped lines too: those of a part of a file that began after
        ``lines_before`` lines (its line numbers count from the part's start)."""
        for (source, reason), count in other.counts.items():
            key = (self.aliases.get(source, source), reason)  # standard input's copy, named as such
            self.counts[key] += count
            self.first_line.setdefault(key, lines_before + other.first_line[source, reason])

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


_fromisoformat: Final = datetime.fromisoformat
_new_record: Final = tuple.__new__  # Record(...) without the Python-level __new__ namedtuple adds


def timestamp(when: object) -> float | None:
    """An event's ``time`` value as POSIX seconds; ``None`` when it is no ISO 8601 time."""
    # The common case first (this runs once per line): an aware time Python reads as it is.
    try:
        moment = _fromisoformat(when)  # type: ignore[arg-type]
        return moment.timestamp() if moment.tzinfo is not None else _parse_time(when)
    except (TypeError, ValueError):
        return _parse_time(when)


def parse_line(line: bytes | str) -> Record | str:
    """Return the record on ``line``, or the reason it is not one (a short phrase for the report)."""
    try:
        obj = _loads(line)
    except ValueError:  # both decoders' errors are ValueErrors, as is UnicodeDecodeError
        return "malformed"
    if not isinstance(obj, dict):
        return "non-event"
    event = obj.get("event")
    ts = timestamp(obj.get("time"))
    if not isinstance(event, str) or ts is None:
        return "non-event"
    details = obj.get("details")
    node = obj.get("node")
    return _new_record(  # type: ignore[no-any-return]
        Record,
        (ts, event, details if isinstance(details, dict) else _EMPTY, node if isinstance(node, str) else "?"),
    )
