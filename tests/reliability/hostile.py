"""Hostile values for task arguments and event details, and the Hypothesis strategies that build them.

Importable by a worker too (the pickle serializer needs the classes by module path).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

__all__ = [
    "SlowRepr",
    "Unorderable",
    "Unprintable",
    "UnprintableKey",
    "deep",
    "hostile_details",
    "hostile_values",
    "shape",
]


class Unprintable:
    """An object whose ``__repr__`` and ``__str__`` raise."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # How Hypothesis shows a falsifying example (its printer tries this before __repr__).
        printer.text(f"{type(self).__name__}()")


class SlowRepr:
    """An object whose ``__repr__`` takes 5 s and would build 200 MB (its fields: a name and a token)."""

    def __init__(self, name: str, api_token: str) -> None:
        self.name = name
        self.api_token = api_token

    def __repr__(self) -> str:
        import time

        time.sleep(5)
        return "r" * 200_000_000

    __str__ = __repr__


class UnprintableKey(Unprintable):
    """A hashable dictionary key whose repr raises."""

    def __hash__(self) -> int:
        return 7

    def __eq__(self, other: object) -> bool:
        return self is other


class Unorderable(UnprintableKey):
    """A set member that cannot be sorted (``<`` raises something other than TypeError)."""

    def __lt__(self, other: object) -> bool:
        raise RuntimeError("no order for you")


def deep(levels: int, leaf: Any = "bottom") -> Any:
    """Lists and dicts nested ``levels`` deep."""
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"down": value}
    return value


def _cyclic_list(value: Any) -> list[Any]:
    loop: list[Any] = [value]
    loop.append(loop)
    return loop


def _cyclic_dict(value: Any) -> dict[Any, Any]:
    loop: dict[Any, Any] = {"value": value}
    loop["self"] = loop
    loop[("tuple", "key")] = [loop]
    return loop


# Megabyte strings inside a cycle cost the encoder ~254x their size today (a known bug, see
# test_hostile.py::test_a_big_value_in_a_cycle_costs_no_more_than_its_size): the property tests stay
# at 100 KB and the 100 MB cases are tests of their own.
_HUGE = (10_000, 100_000)
_LINE_BREAKS = '\n\r\u2028\u2029\x85"\\\x00é😀'

_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**64, max_value=2**300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.text(max_size=30),
    st.text(alphabet=_LINE_BREAKS, max_size=30),
    st.binary(max_size=30),
    st.sampled_from(_HUGE).map(lambda n: "s" * n),
    st.sampled_from(_HUGE).map(lambda n: b"\xff\x00" * (n // 2)),
    st.builds(Unprintable),
    st.builds(object),
    st.decimals(allow_nan=True),
    st.just(datetime(2026, 1, 1, tzinfo=timezone.utc)),
    st.just(UUID(int=8)),
)
_keys = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["password", "Api-Key", "x_session_token"]),
    st.integers(),
    st.none(),
    st.floats(allow_nan=True),
    st.tuples(st.integers(), st.text(max_size=5)),
    st.frozensets(st.integers(), max_size=3),
    st.builds(UnprintableKey),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=5),
        st.tuples(children, children),
        st.dictionaries(_keys, children, max_size=5),
        st.sets(st.builds(UnprintableKey), min_size=1, max_size=3),
        st.sets(st.builds(Unorderable), min_size=2, max_size=3),
        st.frozensets(st.integers(), max_size=4),
        children.map(_cyclic_list),
        children.map(_cyclic_dict),
        st.tuples(st.integers(1, 400), children).map(lambda pair: deep(*pair)),
    )


hostile_values: st.SearchStrategy[Any] = st.recursive(_leaves, _containers, max_leaves=12)
"""Any nesting of the values above: cycles, huge strings and bytes, NaN, odd keys, raising reprs, depth."""

hostile_details: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    st.text(min_size=1, max_size=20), hostile_values, max_size=4
)
"""Keyword arguments (string names, hostile values)."""


def shape(value: Any, seen: set[int] | None = None) -> Any:
    """A comparable fingerprint of ``value`` (survives cycles, NaN and raising reprs): detects mutation."""
    seen = set() if seen is None else seen
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, (str, bytes, int, type(None), Decimal, UUID, datetime)):
        return (type(value).__name__, len(value) if isinstance(value, (str, bytes)) else str(value))
    if id(value) in seen:
        return ("cycle", id(value))
    seen.add(id(value))
    if isinstance(value, dict):
        return ("dict", id(value), [(type(k).__name__, shape(v, seen)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, id(value), [shape(item, seen) for item in value])
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, id(value), len(value))
    return (type(value).__qualname__, id(value))
