"""Trace lines decoded lean: only the fields ``summary`` folds, with msgspec (the ``fast`` extra).

Parsing a whole line into dictionaries costs more than folding it: most of a line (a task's
arguments, a traceback, the host and pid) is never read by ``summary``'s counts. msgspec decodes a
line into a :class:`LeanLine` that keeps the few fields the fold reads, skipping the rest without
building it, about twice as fast as a full parse. What the lean fields cannot tell exactly (a value
of an unusual type, a canvas task, a beat send, a line that is not plain ASCII, whose skipped fields
msgspec does not check as strictly as a full parse) the reader folds from the full record instead
(:meth:`.model.summary.Summary.add_lean` says which), so the result is the same with or without it.

:data:`DECODE` is ``None`` when msgspec is not installed: the readers then parse every line whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

__all__ = ["DECODE", "UNSET", "LeanDetails", "LeanError", "LeanLine"]

try:
    import msgspec
except ImportError:  # pragma: no cover - exercised where msgspec is not installed
    msgspec = None  # type: ignore[assignment]

if msgspec is not None:
    UNSET: Any = msgspec.UNSET
    """The value of a field the line does not have (where its presence is what counts)."""

    class LeanDetails(msgspec.Struct, gc=False):
        """The event details ``summary`` reads: ``None`` when missing, JSON values as decoded."""

        queue: Any = None
        task_id: Any = None
        task_name: Any = None
        retried_count: Any = None
        replacement: Any = None
        replaces: Any = None
        replaced_by: Any = None
        what: Any = None
        exc_type: Any = None
        runtime: Any = None
        hostname: Any = None
        dispatcher_id: Any = None
        flow_name: Any = None
        root_id: Any = UNSET  # a canvas task's event: read whole
        periodic: Any = UNSET  # beat's send: read whole

    class LeanLine(msgspec.Struct, gc=False):
        """One trace line's event, time, node and lean details (a line without them fails to decode)."""

        event: str
        time: str
        details: LeanDetails = msgspec.field(default_factory=LeanDetails)
        node: Any = None

    LeanError: Any = msgspec.DecodeError
    """What decoding a line that is not a lean line raises (malformed JSON, a field of the wrong type)."""
    DECODE: Final[Callable[[bytes], LeanLine] | None] = msgspec.json.Decoder(LeanLine).decode
else:  # pragma: no cover - exercised where msgspec is not installed
    UNSET = object()
    LeanDetails = LeanLine = Any  # type: ignore[misc]

    class LeanError(Exception):  # type: ignore[no-redef]
        """Never raised: there is no lean decoder."""

    DECODE = None
