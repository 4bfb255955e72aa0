"""Task arguments as event details: :func:`~.redact.sanitize`'s result, by a quicker path when plain.

Every task's arguments go into its events, so this is the per-task path: plain JSON data (what most
tasks take) is proven plain by a bounded scan, or, on a worker that accepts only JSON, read off its
encoding, and copied by the encoder in one C call; anything else takes :func:`~.redact.sanitize`'s full
walk, with the same result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from .fast import orjson
from .redact import Policy, sanitize
from .values import CLASSES, DIGIT, LETTER, MIN_CARD

__all__ = ["EMBEDS_ENCODED", "sanitize_arguments"]


def _strict_stdlib_dumps(value: Any, default: None = None, option: int = 0) -> bytes:
    # The standard library rejects every type but JSON's own, so ``option`` has nothing to add.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


_strict_dumps: Callable[..., bytes]
_loads: Callable[[bytes], Any]
_fragment: Callable[[bytes], Any] | None
if orjson is not None:
    _strict_dumps, _loads = orjson.dumps, orjson.loads
    # For values nobody scanned, as ``_strict_dumps(value, None, _UNSCANNED)``: dataclasses and
    # subclasses of str, int, dict and list raise instead of being encoded (a dataclass's fields would
    # escape masking); they take the full walk.
    _UNSCANNED: Final[int] = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
    # orjson.Fragment is 3.10+: an older orjson still encodes, it only cannot embed encoded arguments.
    _fragment = getattr(orjson, "Fragment", None)
else:  # pragma: no cover - exercised in the no-orjson tox env
    _strict_dumps, _loads, _UNSCANNED = _strict_stdlib_dumps, json.loads, 0  # type: ignore[misc]
    _fragment = None

#: True when arguments can be handed to sinks already encoded (see :func:`sanitize_arguments`).
EMBEDS_ENCODED: Final[bool] = _fragment is not None


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

    On both paths the encoding is then searched once for secrets by value (a few substring tests, see
    :mod:`.values`): arguments that may hold one take the full walk, which masks each string.
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
    # A secret by value in some string: the full walk masks it. The first step of _values_found
    # inline (its common answer, "plain", without a call).
    if policy._json_classes:
        classes = text.translate(CLASSES)
        if (LETTER in classes or classes.count(DIGIT) >= MIN_CARD) and policy._json_scan(text):
            return sanitize(value, policy)
    elif policy._json_scan(text):
        return sanitize(value, policy)
    if encoded and _fragment is not None:
        return _fragment(text)
    return _loads(text)


def _quick_copy(value: Any, roots: tuple[Any, ...], policy: Policy, encoded: bool) -> Any:
    """:func:`sanitize`'s result, faster for the common case (small plain data, no secret by name or value).

    A cheap scan of ``roots`` (the parts of ``value`` to scan: its own members, ``value`` being a fresh
    wrapper) first proves them a small tree of plain data: dicts with string keys none of which needs
    masking, lists and tuples, short strings, numbers (finite), bools and None, at most 64 containers
    (so no cycle: orjson would otherwise recurse 254 levels deep through one, copying any big value
    inside it each time). Then orjson makes a fresh copy (JSON-safe, detached from the caller's mutable
    objects). Anything else takes the full walk. A value this small is bounded by its leaves, so
    ``max_items`` is not applied to it.
    """
    if not _small_plain_tree(roots, policy):
        return sanitize(value, policy)
    try:
        text = _strict_dumps(value)
    except Exception:
        return sanitize(value, policy)
    if len(text) > policy.max_length or _values_found(text, policy):
        return sanitize(value, policy)
    if encoded and _fragment is not None:
        return _fragment(text)
    return _loads(text)


def _values_found(text: bytes, policy: Policy) -> bool:
    """True unless the JSON ``text`` surely holds no secret by value (``Policy.values_in_json``).

    Its first step inline for the default patterns, the common case: one ``bytes.translate`` shows
    plain text (no letter a default needs, fewer than 13 digits) without a call more.
    """
    if policy._json_classes:
        classes = text.translate(CLASSES)
        if LETTER not in classes and classes.count(DIGIT) < MIN_CARD:
            return False
    return policy._json_scan(text)


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
    """True when ``roots`` are plain data the quick path may copy as they are (see _quick_copy).

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
