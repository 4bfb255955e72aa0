"""Turn any value into a JSON-safe, redacted, bounded one (pure functions, no I/O).

Used in two places: the Celery adapters run every value they put in event details through
:func:`sanitize` (task arguments through its quicker twin, :mod:`.arguments`), so sinks only ever see
JSON-safe, redacted, truncated data; and the JSON encoder falls back to it when a user's own
``Trace.log`` call passes something the fast path cannot encode.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Final
from uuid import UUID

__all__ = ["DEFAULT_REDACT", "REDACTED", "Policy", "sanitize"]

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
