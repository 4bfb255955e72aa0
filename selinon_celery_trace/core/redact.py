"""Turn any value into a JSON-safe, redacted, bounded one (pure functions, no I/O).

Used in two places: the Celery adapters run every value they put in event details through
:func:`sanitize` (task arguments through its quicker twin, :mod:`.arguments`), so sinks only ever see
JSON-safe, redacted, truncated data; and the JSON encoder falls back to it when a user's own
``Trace.log`` call passes something the fast path cannot encode.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, ItemsView, Iterable, KeysView, Mapping, ValuesView
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
from pathlib import PurePath
from typing import Any, Final
from uuid import UUID

from .keys import DEFAULT_REDACT, KeyMatcher
from .objects import fields_of, name_of, plain_text
from .values import DEFAULT_REDACT_VALUES, REDACTED, ValueMasker, mask_pairs

__all__ = [
    "DEFAULT_REDACT",
    "DEFAULT_REDACT_VALUES",
    "REDACTED",
    "Policy",
    "check_list",
    "exception_text",
    "sanitize",
]

_SCALARS: Final = (str, int, float, bool, type(None))
_IP_TYPES: Final = (IPv4Address, IPv6Address, IPv4Network, IPv6Network, IPv4Interface, IPv6Interface)
_SORTABLE: Final = frozenset({str, int, float, bool})
_ITEMS: Final = (list, tuple, set, frozenset, deque, KeysView, ValuesView, ItemsView)
_AS_TEXT: Final = (Decimal, UUID, PurePath, Fraction, *_IP_TYPES)
# Characters past the limit that are still searched for secrets before a string is cut: a secret that
# starts before the cut is masked whole, so no part of it is shown.
_MARGIN: Final = 4096


@dataclass(frozen=True)
class Policy:
    """How :func:`sanitize` bounds and masks a value.

    ``redact``: key names whose values are masked (see :mod:`.keys`: ``db_password`` and ``X-Api-Key``
    are masked by ``password`` and ``api_key``, ``word:pin`` masks ``pin`` but not ``spin``).
    ``redact_values``: patterns of secrets masked wherever they are, in any string (see :mod:`.values`).
    ``max_length`` bounds every string (and bytes) and ``max_items`` every container; ``max_depth``
    bounds nesting. ``free_text``: every string is read as free text (:meth:`message`), for values that
    may be reprs of other values (what the Sentry sink masks).
    """

    redact: tuple[str, ...] = DEFAULT_REDACT
    max_length: int = 2048
    max_items: int = 100
    max_depth: int = 16
    redact_values: tuple[str, ...] = DEFAULT_REDACT_VALUES
    free_text: bool = False
    _matcher: KeyMatcher = field(init=False, repr=False, compare=False)
    _values: ValueMasker = field(init=False, repr=False, compare=False)
    _json_scan: Callable[[bytes], bool] = field(init=False, repr=False, compare=False)  # values_in_json
    _json_classes: bool = field(init=False, repr=False, compare=False)  # see .arguments
    _verdicts: dict[str, bool] = field(init=False, repr=False, compare=False)
    _plain_keys: set[str] = field(init=False, repr=False, compare=False)  # verdict False

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matcher", KeyMatcher(tuple(self.redact)))
        object.__setattr__(self, "_values", ValueMasker(tuple(self.redact_values)))
        object.__setattr__(self, "_json_scan", self._values.found_in_json)
        # The value patterns are the defaults (or some of them), guarded by values.CLASSES; with none
        # at all nothing is scanned (values_in_json answers False at once).
        object.__setattr__(self, "_json_classes", self._values.defaults_only)
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
            verdict = self._matcher.masks(key)
            if len(verdicts) > 4096:  # keys come from user data: keep the memo bounded
                verdicts.clear()
                self._plain_keys.clear()
            verdicts[key] = verdict
            if not verdict:
                self._plain_keys.add(key)
        return verdict

    def values_in_json(self, encoded: bytes) -> bool:
        """True unless the strings of ``encoded`` (a JSON encoding) surely hold no secret by value."""
        return self._values.found_in_json(encoded)

    def text(self, value: str) -> str:
        """A string as details hold it: secrets by value masked, then cut to ``max_length``."""
        limit = self.max_length
        if len(value) <= limit:
            return self.message(value) if self.free_text else self._values.mask(value)
        head = value[: limit + _MARGIN]
        masked = self.message(head) if self.free_text else self._values.mask(head)
        return _truncate(masked, limit, len(value))

    def message(self, value: str) -> str:
        """Free text (an exception's message, a traceback, a reason): secrets by value masked, and the
        value of every ``key=value`` / ``key: value`` whose key is masked; not cut."""
        return mask_pairs(self._values.mask(value), self.masks)


def check_list(value: object, what: str, check: Callable[[object], str | None]) -> str | None:
    """Why ``value`` cannot be a setting's list (``": ..."`` or ``"[index]: ..."``), or None when it can.

    A list or tuple whose every entry ``check`` accepts (``check`` says why not, or None).
    """
    if not isinstance(value, (list, tuple)):
        return f": expected a list of {what}, got {value!r}"
    for index, entry in enumerate(value):
        problem = check(entry)
        if problem is not None:
            return f"[{index}]: {problem}"
    return None


def _truncate(text: str, limit: int, length: int | None = None) -> str:
    """``text`` cut to ``limit`` characters, saying how many of the original ``length`` were dropped."""
    if len(text) <= limit and length is None:
        return text
    return f"{text[:limit]}...[truncated {(len(text) if length is None else length) - limit} chars]"


def _key(key: object, policy: Policy) -> str:
    if isinstance(key, str):
        return policy.text(str.__str__(key))
    if isinstance(key, (int, float, bool)) or key is None:
        return str(key)
    # A short tuple of scalars (no string past the limit): its repr is C code over those, and bounded.
    if (
        type(key) is tuple
        and len(key) < 16
        and all(type(part) in _SCALARS for part in key)
        and all(type(part) is not str or len(part) <= policy.max_length for part in key)
    ):
        return policy.text(repr(key))
    return _text_of(key, policy)


def _text_of(value: object, policy: Policy) -> str:
    """The text of a value used as a key: never its own ``__repr__`` (see :mod:`.objects`)."""
    text = plain_text(value)
    return policy.text(text) if text is not None else name_of(value)


def exception_text(exc: BaseException, policy: Policy) -> str:
    """``ValueError('bad', 3)``: an exception as its class name and arguments, masked and bounded.

    Written from ``exc.args`` without calling the exception's ``__repr__`` or ``__str__`` (user code
    that may be slow); each argument as :func:`sanitize` writes it.
    """
    parts = []
    for arg in exc.args[: policy.max_items]:
        safe = _guarded_walk(arg, policy, 1, set())
        parts.append(repr(safe) if isinstance(safe, str) else _compact(safe))
    return _truncate(policy.message(f"{type(exc).__qualname__}({', '.join(parts)})"), policy.max_length)


def _compact(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except Exception:
        return "<unreadable>"


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
        return policy.text(value)
    if kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else repr(value)
    if depth >= policy.max_depth:
        return f"<max depth: {type(value).__qualname__}>"
    if isinstance(value, Mapping):
        return _walk_mapping(value, policy, depth, seen)
    if isinstance(value, _ITEMS):
        return _walk_items(value, policy, depth, seen)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value[: policy.max_length + _MARGIN])
        text = policy.text(raw.decode("utf-8", "backslashreplace"))
        if len(value) > policy.max_length:
            return f"{text[: policy.max_length]}...[truncated {len(value) - policy.max_length} bytes]"
        return text
    if isinstance(value, str):  # str subclasses: their characters, not their __str__
        return policy.text(str.__str__(value))
    if isinstance(value, int):  # int subclasses (IntEnum): keep the number
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else repr(float(value))
    if isinstance(value, _AS_TEXT):
        return policy.text(str(value))
    isoformat = getattr(type(value), "isoformat", None)
    if callable(isoformat) and type(value).__module__ == "datetime":
        return str(value.isoformat())
    return _walk_object(value, policy, depth, seen)


def _walk_object(value: Any, policy: Policy, depth: int, seen: set[int]) -> Any:
    """An object by its fields, masked by name like a dict (never by its ``__repr__``: see .objects)."""
    text = plain_text(value)
    if text is not None:
        return policy.text(text)
    marker = id(value)
    if marker in seen:
        return "<cycle>"
    fields = fields_of(value)
    if fields is None:
        return name_of(value)
    seen.add(marker)
    try:
        return _walk_mapping(fields, policy, depth, seen)
    finally:
        seen.discard(marker)


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
            # Sorted when every member is a number or a string: no user comparison runs.
            if all(type(member) in _SORTABLE for member in value):
                try:
                    items = sorted(value)
                except TypeError:  # strings and numbers together
                    items = list(value)
            else:
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
