"""Skipping the lines that cannot matter before parsing them: a byte search for the ids a command needs.

``show`` of one flow reads a whole file for the few dozen events of that flow; parsing every line as JSON
costs seconds per million events, while searching the raw bytes for the flow's id costs a fraction of
that. :func:`lines_containing` reads a stream in large blocks and yields only the lines that contain one
of some :class:`Needles` (with their line numbers), so that only those are parsed.

The search may yield more lines than needed (an id's text anywhere in the line, a prefix of another id),
never fewer, as long as what is searched for is written verbatim in the line: the needles are kept to
characters that no JSON writer escapes (letters, digits, ``-``, ``_``, ``.``, ``:``); any other text makes
the search give up and yield every line, as does a set of needles too large to search for one by one.

The needles may grow while the lines are read (``show`` learns a subflow's id from the event that
schedules it): each search after a line was handed over uses the needles as they are then, so a
consumer that adds an id sees every later line that contains it.

Lines skipped are never parsed, so a malformed one among them could not be reported. With ``framing``,
a block is searched only when every line in it is framed as one trace event (exactly one
``{"event":`` per line, the way the package's writer starts each line); a block with a line cut short and
continued by the next write, a blank or foreign line, or a writer that puts other keys first, has all its
lines yielded so their parse reports them. (A block where one line holds two such starts and another
none passes the check: that pair of accidents is not looked for.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import IO, Final

__all__ = ["MAX_NEEDLES", "LinesContaining", "Needles", "lines_containing", "searchable"]

MAX_NEEDLES: Final = 24
"""Above this many needles, one search each per block costs more than parsing: every line is yielded."""

_BLOCK: Final = 1 << 20
_PLAIN: Final = re.compile(r"[A-Za-z0-9_.:\-]+")
_EVENT_START: Final = b'{"event":'
_ID_KEYS: Final = (b'"task_id"', b'"dispatcher_id"')
_ID_VALUE: Final = re.compile(rb'"(?:task_id|dispatcher_id)":(?:"([^"\\]*)"|null)')


def searchable(text: str) -> bool:
    """Whether ``text`` is searched for verbatim (no JSON writer escapes any of its characters)."""
    return _PLAIN.fullmatch(text) is not None


class Needles:
    """The byte strings a line must contain one of to be yielded; grows while the lines are read.

    >>> needles = Needles(["0000f488"])
    >>> needles.add("a b")  # a space: not searched for verbatim, so every line is yielded from now on
    >>> needles.everything
    True
    """

    __slots__ = ("_ids", "_set", "everything", "items", "keyed", "reread", "version")

    def __init__(self, texts: Iterable[str] = (), *, keyed: bool = False) -> None:
        self.items: list[bytes] = []
        self.everything = False
        """True: the search is off and every line is yielded."""
        self.keyed = keyed
        """Task or flow ids: above :data:`MAX_NEEDLES` of them, a line is kept when the value of one of
        its ``task_id`` / ``dispatcher_id`` keys is one of them (instead of every line yielded)."""
        self._ids: tuple[int, frozenset[bytes]] = (-1, frozenset())
        self._set: set[bytes] = set()  # the items, for a membership test that stays quick with many
        self.version = 0
        """Counts the changes: a consumer compares it before and after a pass to see if it grew."""
        self.reread = False
        """Set by a reader that merges files: needles added during a pass may have missed lines already
        read ahead in another file, so a pass that added some must be read again to be exact."""
        self.update(texts)

    def add(self, text: str) -> None:
        """Search for ``text`` too (a text that a JSON writer could escape turns the search off)."""
        if self.everything:
            return
        if not searchable(text):
            self.everything = True
            self.version += 1
            return
        needle = text.encode("ascii")
        if needle not in self._set:
            self._set.add(needle)
            self.items.append(needle)
            self.version += 1
            if len(self.items) > MAX_NEEDLES and not self.keyed:
                self.everything = True

    def update(self, texts: Iterable[str]) -> None:
        """Search for each of ``texts`` too."""
        for text in texts:
            self.add(text)

    def copy(self) -> Needles:
        """A new set of the same needles (``reread`` is the reader's to set again)."""
        copy = Needles(keyed=self.keyed)
        copy.items, copy.everything, copy.version = list(self.items), self.everything, self.version
        copy._set = set(self._set)
        return copy

    def __len__(self) -> int:
        return len(self.items)

    @property
    def by_key(self) -> bool:
        """Whether lines are picked by their id keys' values (keyed, and too many ids to search for)."""
        return self.keyed and len(self.items) > MAX_NEEDLES

    def ids(self) -> frozenset[bytes]:
        """The needles as a set (kept until they change)."""
        if self._ids[0] != self.version:
            self._ids = (self.version, frozenset(self._set))
        return self._ids[1]


def _framed(block: bytes, end: int, lines: int) -> bool:
    """Whether each of the ``lines`` lines of ``block[:end]`` looks like one trace event (none malformed)."""
    return block.startswith(_EVENT_START) and block.count(_EVENT_START, 0, end) == lines


class LinesContaining:
    """Iterate over ``(line number, line)`` for each line of ``stream`` that contains one of ``needles``.

    With ``framing``, every line of a block not framed as trace events is yielded too (see the module
    docstring). A last line without a newline is always yielded: it may be a write cut short.
    :attr:`lines_read` counts the whole lines read so far (where a read error happened, after them).
    """

    def __init__(self, stream: IO[bytes], needles: Needles, *, framing: bool = True) -> None:
        self.stream, self.needles, self.framing = stream, needles, framing
        self.lines_read = 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        needles, framing = self.needles, self.framing
        # read1: what can be had in one go. A gzip file cut short raises on the read after its last data;
        # read() would raise with that data unreturned, and its lines must be read as the reader's are.
        read = getattr(self.stream, "read1", self.stream.read)
        rest = b""
        while True:
            data = read(_BLOCK)
            if not data:
                if rest:
                    yield self.lines_read + 1, rest
                return
            data = rest + data if rest else data
            end = data.rfind(b"\n") + 1  # the block is data[:end], whole lines; the rest waits for more
            rest = data[end:]
            if end == 0:
                continue
            lines = data.count(b"\n", 0, end)
            if needles.everything or (framing and not _framed(data, end, lines)):
                yield from _every_line(data, 0, end, self.lines_read)
            elif needles.by_key:
                yield from _keyed_hits(data, end, needles.ids(), self.lines_read)
            else:
                yield from _hits(data, end, needles, self.lines_read)
            self.lines_read += lines


def lines_containing(
    stream: IO[bytes], needles: Needles, *, framing: bool = True
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, line)`` for each line of ``stream`` that contains one of ``needles``.

    >>> import io
    >>> lines = io.BytesIO(b'{"event":"A","id":"x1"}\\n{"event":"B","id":"y2"}\\n')
    >>> [number for number, _ in lines_containing(lines, Needles(["y2"]))]
    [2]
    """
    return iter(LinesContaining(stream, needles, framing=framing))


def _every_line(block: bytes, start: int, end: int, lineno: int) -> Iterator[tuple[int, bytes]]:
    """Yield the lines of ``block[start:end]`` (whole lines), numbered after ``lineno``."""
    while start < end:
        stop = block.find(b"\n", start, end) + 1 or end  # split at newlines only, as a file's lines are
        lineno += 1
        yield lineno, block[start:stop]
        start = stop


def _hits(block: bytes, end: int, needles: Needles, lineno: int) -> Iterator[tuple[int, bytes]]:
    """Yield the lines of ``block[:end]`` containing a needle, searching with the needles as they are."""
    position = 0  # where the search goes on: the start of the line after the last one yielded
    counted_to, counted = 0, lineno  # newlines counted up to an offset, to number the lines yielded
    found: dict[bytes, int] = {}  # each needle's next occurrence at or after some earlier position
    find, count = block.find, block.count
    while True:
        if needles.everything:
            yield from _every_line(block, position, end, counted + count(b"\n", counted_to, position))
            return
        nearest = -1
        for needle in needles.items:
            at = found.get(needle)
            if at is None or 0 <= at < position:
                at = found[needle] = find(needle, position, end)
            if at >= 0 and (nearest < 0 or at < nearest):
                nearest = at
        if nearest < 0:
            return
        start = block.rfind(b"\n", 0, nearest) + 1
        stop = find(b"\n", nearest, end) + 1  # the block ends with a newline
        counted += count(b"\n", counted_to, start) + 1
        counted_to = stop
        yield counted, block[start:stop]
        position = stop


def _keyed_hits(block: bytes, end: int, ids: frozenset[bytes], lineno: int) -> Iterator[tuple[int, bytes]]:
    """Yield the lines of ``block[:end]`` whose ``task_id`` or ``dispatcher_id`` is one of ``ids``.

    One regular-expression pass finds every value of those keys and where it is. A block where a key
    is written otherwise than ``"key":"value"`` or ``"key":null`` (another writer's spacing, an escaped
    value, the key's name in a string) has all its lines yielded.
    """
    starts: list[int] = []
    matches = 0
    find, rfind = block.find, block.rfind
    for match in _ID_VALUE.finditer(block, 0, end):
        matches += 1
        if match[1] in ids:
            start = rfind(b"\n", 0, match.start()) + 1
            if not starts or starts[-1] != start:
                starts.append(start)
    if matches != sum(block.count(key, 0, end) for key in _ID_KEYS):
        yield from _every_line(block, 0, end, lineno)
        return
    counted_to = 0
    for start in starts:
        lineno += block.count(b"\n", counted_to, start) + 1
        stop = find(b"\n", start, end) + 1
        counted_to = stop
        yield lineno, block[start:stop]
