"""Turn any value into a JSON-safe, redacted, bounded one (pure functions, no I/O).

Used in two places: the Celery adapters run every value they put in event details through
:func:`sanitize` (so sinks only ever see JSON-safe, redacted, truncated data), and the JSON encoder falls
back to it when a user's own ``Trace.log`` call passes something the fast path cannot encode.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Final
from uuid import UUID

__all__ = ["DEFAULT_REDACT", "REDACTED", "Policy", "sanitize", "sanitize_arguments", "sanitize_quickly"]

REDACTED: Final = "[redacted]"

DEFAULT_REDACT: Final[tuple[str, ...]] = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "auth_header",
    "credential",
    "private_key",
    "cookie",
    "session_key",
    "sessionid",
    "csrf",
    "dsn",
    "access_key",
    "signature",
)
"""Key fragments whose values are masked by default (matched case-insensitively, ``-`` read as ``_``)."""

_SCALARS: Final = (str, int, float, bool, type(None))


def _normalise(key: str) -> str:
    return key.lower().replace("-", "_")


@dataclass(frozen=True)
class Policy:
    """How :func:`sanitize` bounds and masks a value.

    A key is redacted when one of ``redact`` occurs in it (so ``db_password`` and ``X-Api-Key`` are
    masked by ``password`` and ``api_key``); ``max_length`` bounds every string (and bytes) and
    ``max_items`` every container; ``max_depth`` bounds nesting.
    """

    redact: tuple[str, ...] = DEFAULT_REDACT
    max_length: int = 2048
    max_items: int = 100
    max_depth: int = 16
    _fragments: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _verdicts: dict[str, bool] = field(init=False, repr=False, compare=False)
    _plain_keys: set[str] = field(init=False, repr=False, compare=False)  # verdict False

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fragments", tuple(_normalise(k) for k in self.redact if k))
        object.__setattr__(self, "_verdicts", {})
        object.__setattr__(self, "_plain_keys", set())

    def keys_plain(self, mapping: dict[Any, Any]) -> bool:
        """True when every key of ``mapping`` is a string none of which is masked (memoised per key)."""
        if self._plain_keys.issuperset(mapping):
            return True
        return all(type(key) is str and not self.masks(key) for key in mapping)

    def masks(self, key: str) -> bool:
        """Return True when values under ``key`` must be masked."""
        verdicts = self._verdicts
        verdict = verdicts.get(key)
        if verdict is None:
            normalised = _normalise(key)
            verdict = any(fragment in normalised for fragment in self._fragments)
            if len(verdicts) > 4096:  # keys come from user data: keep the memo bounded
                verdicts.clear()
                self._plain_keys.clear()
            verdicts[key] = verdict
            if not verdict:
                self._plain_keys.add(key)
        return verdict


def _strict_stdlib_dumps(value: Any, default: None = None, option: int = 0) -> bytes:
    # The standard library rejects every type but JSON's own, so ``option`` has nothing to add.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


_strict_dumps: Callable[..., bytes]
_loads: Callable[[bytes], Any]
_fragment: Callable[[bytes], Any] | None
try:
    import orjson

    _strict_dumps, _loads = orjson.dumps, orjson.loads
    # For values nobody scanned, as ``_strict_dumps(value, None, _UNSCANNED)``: dataclasses and
    # subclasses of str, int, dict and list raise instead of being encoded (a dataclass's fields would
    # escape masking); they take the full walk.
    _UNSCANNED: Final[int] = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
    # orjson.Fragment is 3.10+: an older orjson still encodes, it only cannot embed encoded arguments.
    _fragment = getattr(orjson, "Fragment", None)
except ImportError:  # pragma: no cover - exercised in the no-orjson tox env
    _strict_dumps, _loads, _UNSCANNED = _strict_stdlib_dumps, json.loads, 0  # type: ignore[misc]
    _fragment = None

#: True when arguments can be handed to sinks already encoded (see :func:`sanitize_arguments`).
EMBEDS_ENCODED: Final[bool] = _fragment is not None


def sanitize_quickly(value: Any, policy: Policy) -> Any:
    """Same contract as :func:`sanitize`, faster for the common case (small plain data, no secret).

    A cheap scan first proves the value is a small tree of plain data: dicts with string keys none of
    which needs masking, lists and tuples, short strings, numbers (finite), bools and None, at most
    64 containers (so no cycle: orjson would otherwise recurse 254 levels deep through one, copying any
    big value inside it each time). Then orjson makes a fresh copy (JSON-safe, detached
    from the caller's mutable objects). Anything else takes the full walk. A value this small is
    bounded by its leaves, so ``max_items`` is not applied to it.
    """
    return _quick_copy(value, (value,), policy, encoded=False)


def sanitize_arguments(
    args: Any, kwargs: Any, policy: Policy, encoded: bool = False, decoded_json: bool = False
) -> Any:
    """A task's arguments as ``{"args": [...], "kwargs": {...}}``, sanitized (quickly when plain).

    With ``encoded`` (only when every sink just encodes details with orjson), plain arguments come back
    already encoded, as an ``orjson.Fragment`` the encoder embeds as it is: no copy to decode, and no
    second encoding per event.

    ``decoded_json`` says the arguments were decoded from a JSON message (a worker that accepts only
    JSON): JSON values, no cycle, no object of the caller's. The scan is then skipped: the encoder
    rejects any other type, and only the dicts are visited, for their keys (as many as the encoding has
    braces: usually a few, found without walking the lists). NaN and the infinities, which JSON has no
    words for, come out as null on this path.
    """
    args, kwargs = args or [], kwargs or {}
    value = {"args": args, "kwargs": kwargs}
    if not decoded_json:
        return _quick_copy(value, (args, kwargs), policy, encoded)
    # A worker's hot path (one call, no scan): the strict encoder, then the dicts' keys.
    try:
        text = _strict_dumps(value, None, _UNSCANNED)
    except Exception:
        return sanitize(value, policy)
    # The wrapper's own brace is not one of the arguments' dicts.
    if len(text) > policy.max_length or not _keys_plain(args, kwargs, text.count(b"{") - 1, policy):
        return sanitize(value, policy)
    if encoded and _fragment is not None:
        return _fragment(text)
    return _loads(text)


def _quick_copy(value: Any, roots: tuple[Any, ...], policy: Policy, encoded: bool) -> Any:
    # ``roots`` are the parts of ``value`` to scan (its own members: ``value`` is a fresh wrapper).
    if not _small_plain_tree(roots, policy):
        return sanitize(value, policy)
    try:
        text = _strict_dumps(value)
    except Exception:
        return sanitize(value, policy)
    if len(text) > policy.max_length:
        return sanitize(value, policy)
    if encoded and _fragment is not None:
        return _fragment(text)
    return _loads(text)


def _keys_plain(args: Any, kwargs: Any, dicts: int, policy: Policy) -> bool:
    """True when no key of the dicts in ``args`` and ``kwargs`` (JSON data) is masked or not a string.

    ``dicts`` is how many there are, read off the encoding's braces: the walk stops once it has seen
    them all. A brace inside a string only overcounts, which makes the walk complete.
    """
    if dicts <= 0:
        return True
    plain_keys = policy._plain_keys
    stack = [args, kwargs]  # popped last first: the keyword arguments, where dicts usually are
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is dict:
            # The memo's subset check inline: a call per dict only for keys not seen yet.
            if not plain_keys.issuperset(node) and not policy.keys_plain(node):
                return False
            dicts -= 1
            if not dicts:
                return True
            node = node.values()
        elif kind is not list and kind is not tuple:  # a scalar passed as args or kwargs
            continue
        for child in node:
            kind = type(child)
            if kind is dict or kind is list or kind is tuple:
                stack.append(child)
    return True


_SCAN_LIMIT: Final = 64  # containers a "small" value may hold
_CONTAINERS: Final = (dict, list, tuple)


def _small_plain_tree(roots: tuple[Any, ...], policy: Policy) -> bool:
    """True when ``roots`` are plain data the quick path may copy as they are (see sanitize_quickly).

    Visits at most ``_SCAN_LIMIT`` containers: a cycle (or a large value) exhausts that budget and
    takes the full walk, so no set of visited ids is needed. String lengths are not checked here: the
    quick path takes only values whose whole encoding is within ``max_length``.
    """
    plain_keys = policy._plain_keys
    stack = list(roots)
    budget = _SCAN_LIMIT
    while stack:
        node = stack.pop()
        budget -= 1
        if budget < 0:
            return False
        kind = type(node)
        if kind is dict:
            # The memo's subset check inline: a call per dict only for keys not seen yet.
            if not plain_keys.issuperset(node) and not policy.keys_plain(node):
                return False
            children: Any = node.values()
        elif kind is list or kind is tuple:
            children = node
        else:
            return False
        for child in children:
            child_kind = type(child)
            if child_kind is str or child_kind is int:
                continue
            if child_kind in _CONTAINERS:
                stack.append(child)
            elif child_kind is float:
                if child - child:  # NaN or an infinity (x - x is 0.0 for every finite x)
                    return False
            elif not (child_kind is bool or child is None):
                return False
    return True


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[truncated {len(text) - limit} chars]"


def _repr(value: object, limit: int) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a user object whose __repr__ raises still gets a record
        text = f"<unrepresentable {type(value).__qualname__}: {type(exc).__name__}>"
    return _truncate(text, limit)


def _key(key: object, policy: Policy) -> str:
    if isinstance(key, str):
        return _truncate(key, policy.max_length)
    if isinstance(key, (int, float, bool)) or key is None:
        return str(key)
    return _repr(key, policy.max_length)


def sanitize(value: Any, policy: Policy) -> Any:
    """Return ``value`` as JSON-safe data: masked, truncated, cycle-free and bounded.

    >>> sanitize({"user": "ann", "password": "hunter2", "tags": {1, 2}}, Policy())
    {'user': 'ann', 'password': '[redacted]', 'tags': [1, 2]}
    """
    return _walk(value, policy, 0, set())


def _walk(value: Any, policy: Policy, depth: int, seen: set[int]) -> Any:
    # Fast exits first: most task arguments are short strings and numbers.
    kind = type(value)
    if kind is str:
        return value if len(value) <= policy.max_length else _truncate(value, policy.max_length)
    if kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else repr(value)
    if depth >= policy.max_depth:
        return f"<max depth: {type(value).__qualname__}>"
    if isinstance(value, Mapping):
        return _walk_mapping(value, policy, depth, seen)
    if isinstance(value, (list, tuple, set, frozenset)):
        return _walk_items(value, policy, depth, seen)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value[: policy.max_length + 1])
        text = raw[: policy.max_length].decode("utf-8", "backslashreplace")
        if len(value) > policy.max_length:
            return f"{text}...[truncated {len(value) - policy.max_length} bytes]"
        return text
    if isinstance(value, str):  # str subclasses
        return _truncate(str.__str__(value), policy.max_length)
    if isinstance(value, int):  # int subclasses (IntEnum): keep the number
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else repr(float(value))
    if isinstance(value, (Decimal, UUID, PurePath)):
        return _truncate(str(value), policy.max_length)
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat) and type(value).__module__ == "datetime":
        return str(isoformat())
    return _repr(value, policy.max_length)


def _guarded_walk(value: Any, policy: Policy, depth: int, seen: set[int]) -> Any:
    # One odd member costs only itself, never the container around it.
    try:
        return _walk(value, policy, depth, seen)
    except Exception as exc:
        return f"<unreadable {type(value).__qualname__}: {type(exc).__name__}>"


def _walk_mapping(value: Mapping[Any, Any], policy: Policy, depth: int, seen: set[int]) -> Any:
    marker = id(value)
    if marker in seen:
        return "<cycle>"
    seen.add(marker)
    try:
        result: dict[str, Any] = {}
        for count, (key, item) in enumerate(value.items()):
            if count >= policy.max_items:
                result["..."] = f"[{len(value) - policy.max_items} more items]"
                break
            name = _key(key, policy)
            result[name] = REDACTED if policy.masks(name) else _guarded_walk(item, policy, depth + 1, seen)
        return result
    except Exception as exc:  # a mapping whose iteration raises
        return f"<unreadable {type(value).__qualname__}: {type(exc).__name__}>"
    finally:
        seen.discard(marker)


def _walk_items(value: Iterable[Any], policy: Policy, depth: int, seen: set[int]) -> Any:
    marker = id(value)
    if marker in seen:
        return "<cycle>"
    seen.add(marker)
    try:
        items = value
        if isinstance(value, (set, frozenset)):
            try:
                items = sorted(value)
            except Exception:  # members that cannot be ordered, or whose comparison raises
                items = list(value)
        result = []
        try:
            for count, item in enumerate(items):
                if count >= policy.max_items:
                    result.append(f"[{len(value) - policy.max_items} more items]")  # type: ignore[arg-type]
                    break
                result.append(_guarded_walk(item, policy, depth + 1, seen))
        except Exception as exc:  # an iterable whose iteration raises: keep what was read
            result.append(f"<unreadable {type(value).__qualname__}: {type(exc).__name__}>")
        return result
    finally:
        seen.discard(marker)
