"""One trace event as a JSON line, and the encoder that never drops an event.

The line has the reference's four keys: ``event`` (name), ``time`` (timezone-aware UTC ISO-8601),
``details`` and ``node`` (the host name, computed once per process). orjson is used when installed (the
``fast`` extra); the standard library otherwise. Whatever the details hold, the result is exactly one
line of valid JSON: values the fast path cannot encode (cycles, odd keys, NaN, huge integers, objects
of the caller's classes) go through :func:`selinon_celery_trace.core.redact.sanitize` instead.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from decimal import Decimal
from functools import partial
from typing import Any, Final, TypedDict

from .catalogue import NAMES
from .fast import orjson
from .redact import Policy, sanitize

__all__ = [
    "HOST",
    "Record",
    "adapter_record",
    "aware",
    "caller_record",
    "clock",
    "current_exception",
    "current_message",
    "dumps",
    "event_name",
    "exception_scope",
    "json_line",
    "line",
    "message_scope",
    "sorted_dumps",
]

HOST: Final[str] = platform.node()
"""This machine's host name, computed once per process (fork keeps it, as it should)."""

_UTC = timezone.utc
# Encoding is not the place to redact (the Celery adapters did that with the user's policy); the
# fallback only makes the value encodable, so it must not mask what the caller chose to log.
_ENCODABLE = Policy(redact=(), max_length=1 << 20, max_items=10_000, max_depth=64, redact_values=())


def event_name(event: int) -> str:
    """Return the name of ``event``; unknown numbers get a readable stand-in, never an exception."""
    try:
        return NAMES[event]
    except (KeyError, TypeError):
        return f"UNKNOWN_EVENT_{event}"


def _default(value: Any) -> Any:
    # Called by the encoders for types they do not know. Simple, common types keep their meaning;
    # everything else is written by sanitize(): an object as its fields, never by its __repr__.
    if isinstance(value, (set, frozenset)):
        return sanitize(value, _ENCODABLE)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return sanitize(value, _ENCODABLE)
    if isinstance(value, datetime):
        return value.isoformat()
    return sanitize(value, _ENCODABLE)


def _stdlib_dumps(value: Any) -> bytes:
    return json.dumps(
        value, default=_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8", "backslashreplace")


def _stdlib_sorted(value: Any) -> bytes:
    return json.dumps(
        value, default=_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=True
    ).encode("utf-8", "backslashreplace")


_fast_dumps: Callable[[Any], bytes]
_sorted_dumps: Callable[[Any], bytes]
# The line encoder is called as ``_fast_line(record, _default, _LINE)``: orjson.dumps itself, with
# positional arguments (a partial() with keywords costs a third more per line).
_fast_line: Callable[[Any, Callable[[Any], Any], int], bytes]
if orjson is not None:
    _fast_dumps = partial(orjson.dumps, default=_default, option=orjson.OPT_NON_STR_KEYS)
    _sorted_dumps = partial(orjson.dumps, default=_default, option=orjson.OPT_SORT_KEYS)
    # No OPT_NON_STR_KEYS on the line encoder (it makes orjson markedly slower): the rare record with
    # non-string keys fails there and takes dumps().
    _fast_line = orjson.dumps
    _LINE: Final[int] = orjson.OPT_APPEND_NEWLINE
else:  # pragma: no cover - exercised in the no-orjson tox env

    def _stdlib_line(value: Any, default: Callable[[Any], Any], option: int) -> bytes:
        return _stdlib_dumps(value) + b"\n"

    _fast_dumps, _fast_line, _LINE = _stdlib_dumps, _stdlib_line, 0  # type: ignore[misc]
    _sorted_dumps = _stdlib_sorted


def _aware_now() -> datetime:
    return datetime.now(_UTC)


# The clock of the adapters' own events, and the line option it needs. orjson writes an aware UTC
# datetime by calling its tzinfo's utcoffset(); a naive one with OPT_NAIVE_UTC comes out the same
# ("+00:00") without that call, about 0.2 us less per line. The naive clock, datetime.utcnow(), is C
# code until Python 3.12, which deprecates it (a warning per call). Only for details the adapters
# built: they hold no datetime, so every naive one in the record is the clock's (a caller's naive
# datetime keeps meaning local time).
clock: Callable[[], datetime] = _aware_now
_CLOCK_LINE: int = _LINE
if orjson is not None and sys.version_info < (3, 12):
    clock = datetime.utcnow
    _CLOCK_LINE = _LINE | orjson.OPT_NAIVE_UTC


def _one_line(data: bytes) -> bytes:
    # JSON escapes \n, but U+2028, U+2029 and U+0085 pass raw, and str.splitlines() (and some log
    # shippers) split on them. They can only occur inside JSON strings, so escaping them is safe.
    if b"\xe2\x80\xa8" in data or b"\xe2\x80\xa9" in data or b"\xc2\x85" in data:
        data = data.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        data = data.replace(b"\xc2\x85", b"\\u0085")
    return data


_TREE_BUDGET: Final = 4096  # containers a caller's details may hold before they take the full walk


def _tree(value: Any) -> bool:
    """True when no container of ``value`` is reached twice (a tree, so no cycle), within a budget."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue  # orjson hands other types to _default, which walks them safely
        marker = id(node)
        if marker in seen or len(seen) >= _TREE_BUDGET:
            return False
        seen.add(marker)
        stack.extend(children)
    return True


def _fallback_dumps(value: Any) -> bytes:
    try:
        return _one_line(_stdlib_dumps(sanitize(value, _ENCODABLE)))
    except Exception as exc:  # pragma: no cover - sanitize() output is always encodable
        return _stdlib_dumps(f"<unencodable details: {type(exc).__name__}>")


def dumps(value: Any) -> bytes:
    """Encode ``value`` as one line of JSON (UTF-8 bytes, no trailing newline); never raises."""
    try:
        return _one_line(_fast_dumps(value))
    except Exception:
        # Cycles, tuple keys, NaN, integers past 64 bits, ... : make it encodable and try again.
        return _fallback_dumps(value)


def sorted_dumps(value: Any) -> bytes:
    """:func:`dumps` with the keys of every mapping sorted (as ``json.dumps(sort_keys=True)``); never raises.

    The logging sink's message, as Selinon writes it.
    """
    try:
        return _one_line(_sorted_dumps(value))
    except Exception:
        # Non-string keys (sorting needs strings: OPT_NON_STR_KEYS would slow every event), cycles, ...
        try:
            return _one_line(_sorted_dumps(sanitize(value, _ENCODABLE)))
        except Exception:  # pragma: no cover - sanitize() output is always encodable
            return _fallback_dumps(value)


class Record(TypedDict):
    """One trace event as every sink receives it: the reference's JSON record, built once per event.

    ``time`` is UTC: timezone-aware, except for the Celery adapters' own events on Python before 3.12,
    whose clock is naive UTC (cheaper to read and to encode; see :func:`aware`). Sinks read it and
    never change it: the same record goes to every sink.
    """

    event: str
    time: datetime
    details: Any
    node: str


def adapter_record(event: int, details: Any) -> Record:
    """The record of an event whose details the adapters built (a tree of JSON-safe values)."""
    try:
        name = NAMES[event]
    except (KeyError, TypeError):
        name = event_name(event)
    return {"event": name, "time": clock(), "details": details, "node": HOST}


def caller_record(event: int, details: Any) -> Record:
    """The record of an event a caller logged with its own values (``Trace.log``).

    Such details may hold a cycle, through which orjson would recurse 254 levels deep, writing any big
    value inside it each time, before failing: they are checked once here, and details that are not a
    tree reach every record-receiving sink as their sanitized copy. A naive datetime of the caller's
    keeps meaning local time (the record's own time is aware).
    """
    if not _tree(details):
        details = sanitize(details, _ENCODABLE)
    return {"event": event_name(event), "time": datetime.now(_UTC), "details": details, "node": HOST}


def aware(time: datetime) -> datetime:
    """A record's time as a timezone-aware UTC datetime (the adapters' clock may be naive UTC)."""
    return time if time.tzinfo is not None else time.replace(tzinfo=_UTC)


def line(record: Record) -> bytes:
    """The record as one ``\\n``-terminated JSON line (as the reference's JSON sink writes it)."""
    # The encoders write an aware datetime as ISO-8601 with its offset, as isoformat() does; the naive
    # clock's time is written the same way by _CLOCK_LINE's OPT_NAIVE_UTC.
    try:
        data = _fast_line(record, _default, _LINE if record["time"].tzinfo is not None else _CLOCK_LINE)
    except Exception:
        fixed = {**record, "time": aware(record["time"])}  # the other encoders need it aware
        return dumps(fixed) + b"\n"
    # Only non-ASCII text can hold the separators _one_line escapes; isascii() is one fast C pass.
    return data if data.isascii() else _one_line(data)


def json_line(event: int, details: Any) -> bytes:
    """The JSON line of one event logged with ``details`` (as :meth:`Trace.log` would write it)."""
    return line(caller_record(event, details))


_exception: ContextVar[BaseException | None] = ContextVar("selinon_trace_exception", default=None)


@contextmanager
def exception_scope(exc: BaseException | None) -> Iterator[None]:
    """Make ``exc`` the exception of the events logged inside the block (for sinks such as Sentry).

    Details stay JSON-safe data; the live exception object travels beside them this way.
    """
    token = _exception.set(exc)
    try:
        yield
    finally:
        _exception.reset(token)


def current_exception() -> BaseException | None:
    """Return the exception of the event being logged: the one set by :func:`exception_scope`, if any."""
    return _exception.get()


_message: ContextVar[dict[str, Any] | None] = ContextVar("selinon_trace_message", default=None)


@contextmanager
def message_scope(headers: dict[str, Any] | None) -> Iterator[None]:
    """Make ``headers`` the task message of the events logged inside the block.

    For sinks that carry context of their own across the broker (OpenTelemetry's ``traceparent``): at
    TASK_SCHEDULE these are the outgoing message's headers, which such a sink may add to; at TASK_START
    the fields of the request being run (its headers included), to read back. The Celery adapters set
    it only while a registered sink has ``uses_message = True``.
    """
    token = _message.set(headers)
    try:
        yield
    finally:
        _message.reset(token)


def current_message() -> dict[str, Any] | None:
    """The task message of the event being logged (see :func:`message_scope`), if any."""
    return _message.get()
