"""Trace lines decoded lean: only the fields ``summary`` folds, with msgspec (the ``fast`` extra).

Parsing a whole line into dictionaries costs more than folding it: most of a line (a task's
arguments, a traceback, the pid) is never read by ``summary``'s counts. msgspec decodes a line into a
:class:`LeanLine` that keeps the few fields the fold reads, each in the type our writer gives it, and
skips the rest without building it: about twice as fast as a full parse. A line with a value of
another type, or with the fields of a replacement, a canvas task or a beat send, fails to decode
lean; the reader then folds its full record (as it does for what the lean fields cannot tell, such as
a line that is not plain ASCII, whose skipped fields msgspec checks less strictly than a full parse:
``model/summary_lean.py`` says which), so the result is the same with or without msgspec.

:data:`DECODE` is ``None`` when msgspec is not installed: the readers then parse every line whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

__all__ = ["DECODE", "UNSET", "LeanDetails", "LeanError", "LeanLine"]

try:
    import msgspec
except ImportError:  # pragma: no cover - exercised where msgspec is not installed
    msgspec = None  # type: ignore[assignment]

_EXACT: Final = 2**53  # integers a float holds exactly (as fields.as_int reads a count)

if msgspec is not None:
    UNSET: Any = msgspec.UNSET

    class LeanDetails(msgspec.Struct, gc=False):
        """The event details ``summary`` reads, each in the form its writer gives it (``None``: missing
        or null). A value in another form (a number for a name, a text for a count) fails the line's
        decoding, and so does any ``replacement``, ``replaces``, ``root_id`` or ``periodic`` (a
        replacement's, a canvas task's, beat's send): such a line is read whole."""

        queue: str | None = None
        task_id: str | None = None
        task_name: str | None = None
        retried_count: Annotated[int, msgspec.Meta(gt=-_EXACT, lt=_EXACT)] | None = None
        replacement: None = None
        replaces: None = None
        replaced_by: str | None = None
        what: str | None = None
        exc_type: str | None = None
        runtime: float | None = None  # (an integer is read as a float, as fields.as_float does)
        hostname: str | None = None
        dispatcher_id: str | None = None
        flow_name: str | None = None
        root_id: msgspec.UnsetType = UNSET
        periodic: msgspec.UnsetType = UNSET

    class LeanLine(msgspec.Struct, gc=False):
        """One trace line: its event, time, node and lean details (without a text event and time, or
        with a node that is not a text, the line fails to decode)."""

        event: str
        time: str
        details: LeanDetails = msgspec.field(default_factory=LeanDetails)
        node: str = "?"

    LeanError: Any = msgspec.DecodeError
    """What decoding a line that is not a lean line raises (malformed JSON, a field of the wrong type)."""
    DECODE: Final[Callable[[bytes], LeanLine] | None] = msgspec.json.Decoder(LeanLine).decode
else:  # pragma: no cover - exercised where msgspec is not installed
    UNSET = object()
    LeanDetails = LeanLine = Any  # type: ignore[misc]

    class LeanError(Exception):  # type: ignore[no-redef]
        """Never raised: there is no lean decoder."""

    DECODE = None
