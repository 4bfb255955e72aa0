"""Sanitizing details: JSON-safe, redacted, bounded, whatever the input."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from selinon_celery_trace.core.arguments import sanitize_arguments
from selinon_celery_trace.core.redact import REDACTED, Policy, sanitize


class Hostile:
    """An object whose repr raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_secrets_are_masked_at_any_depth_and_case() -> None:
    """Keys containing a configured fragment are masked in nested dicts and lists, case-insensitively."""
    value = {"user": "ann", "Password": "p1", "nested": [{"db_password": "p2", "X-Api-Key": "k"}]}
    safe = sanitize(value, Policy())
    assert safe == {
        "user": "ann",
        "Password": REDACTED,
        "nested": [{"db_password": REDACTED, "X-Api-Key": REDACTED}],
    }


def test_custom_redaction_list_replaces_the_default() -> None:
    """A policy's own key list is used instead of the defaults."""
    safe = sanitize({"ssn": "1", "password": "2"}, Policy(redact=("ssn",)))
    assert safe == {"ssn": REDACTED, "password": "2"}


def test_long_strings_and_bytes_are_truncated_saying_so() -> None:
    """Strings and bytes past max_length are cut and say how much was dropped."""
    safe = sanitize({"s": "x" * 100, "b": b"y" * 100}, Policy(max_length=10))
    assert safe["s"] == "x" * 10 + "...[truncated 90 chars]"
    assert safe["b"] == "y" * 10 + "...[truncated 90 bytes]"


def test_containers_are_bounded() -> None:
    """Lists and dicts past max_items keep their head and say how many items were dropped."""
    safe = sanitize({"l": list(range(10)), "d": {str(i): i for i in range(10)}}, Policy(max_items=3))
    assert safe["l"] == [0, 1, 2, "[7 more items]"]
    assert safe["d"] == {"0": 0, "1": 1, "2": 2, "...": "[7 more items]"}


def test_odd_values_become_json() -> None:
    """Cycles, non-string keys, NaN, sets, Decimals, UUIDs, datetimes and hostile objects all encode."""
    cyclic: list[object] = [1]
    cyclic.append(cyclic)
    value = {
        "cycle": cyclic,
        (1, 2): "tuple key",
        3: "int key",
        "nan": math.nan,
        "inf": -math.inf,
        "set": {3, 1, 2},
        "dec": Decimal("1.50"),
        "uuid": UUID(int=1),
        "when": datetime(2026, 1, 2, tzinfo=timezone.utc),
        "hostile": Hostile(),
        "deep": [[[[[[[[[[[[[[[[[[[["bottom"]]]]]]]]]]]]]]]]]]]],
    }
    safe = sanitize(value, Policy())
    text = json.dumps(safe, allow_nan=False)
    assert safe["cycle"] == [1, "<cycle>"]
    assert safe["(1, 2)"] == "tuple key" and safe["3"] == "int key"
    assert safe["nan"] == "nan" and safe["inf"] == "-inf"
    assert safe["set"] == [1, 2, 3]
    assert safe["dec"] == "1.50" and safe["uuid"] == str(UUID(int=1))
    assert safe["when"] == "2026-01-02T00:00:00+00:00"
    assert safe["hostile"].startswith("<unrepresentable Hostile")
    assert "<max depth" in text


def test_shared_non_cyclic_references_are_not_cycles() -> None:
    """The same list referenced twice (not a cycle) is rendered twice."""
    shared = [1, 2]
    assert sanitize({"a": shared, "b": shared}, Policy()) == {"a": [1, 2], "b": [1, 2]}


_keys = st.one_of(
    st.sampled_from(["password", "X-Api-Key", "db_Token", "name", 'a":b', 'q"password', "secret_sauce"]),
    st.text(max_size=12),
)
_json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=30)
    | st.text(alphabet="xy", min_size=2040, max_size=2060)  # around the default max_length
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.lists(st.integers(), min_size=99, max_size=102)  # around max_items
        | st.dictionaries(_keys, children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(_json_like)
def test_quick_path_agrees_with_the_full_walk(value: object) -> None:
    """The fast path masks, truncates and copies as the full walk does; it bounds size by bytes.

    A value small enough for the fast path (its JSON within max_length) keeps all its items, where the
    full walk would also cut containers at max_items; everything else is identical.
    """
    quick = sanitize_arguments([value], {}, Policy())
    wrapped = {"args": [value], "kwargs": {}}
    assert quick == sanitize(wrapped, Policy(max_items=10**9)) or quick == sanitize(wrapped, Policy())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_json_like, max_size=3),
    st.dictionaries(_keys, _json_like, max_size=3),
    st.booleans(),
)
def test_task_arguments_are_sanitized_as_the_full_walk_does(
    args: list[object], kwargs: dict[str, object], decoded_json: bool
) -> None:
    """A task's args and kwargs come out as the full walk makes them (bounded by bytes when small).

    The same holds for arguments decoded from a JSON message, where only their dicts are visited.
    """
    quick = sanitize_arguments(args, kwargs, Policy(), decoded_json=decoded_json)
    value = {"args": args, "kwargs": kwargs}
    assert quick == sanitize(value, Policy(max_items=10**9)) or quick == sanitize(value, Policy())


@dataclass
class _Login:
    user: str
    password: str


def test_json_decoded_arguments_find_every_dict_to_mask() -> None:
    """Secrets in dicts deep in args or kwargs are masked, braces inside strings notwithstanding."""
    args = [1, [{"name": "a{b}c", "inner": [{"api_token": "t"}]}], "}{"]
    kwargs = {"options": {"lang": "{", "pages": [1, 2]}, "note": "{{{"}
    for decoded_json in (True, False):
        safe = sanitize_arguments(args, kwargs, Policy(), decoded_json=decoded_json)
        assert safe == {
            "args": [1, [{"name": "a{b}c", "inner": [{"api_token": REDACTED}]}], "}{"],
            "kwargs": {"options": {"lang": "{", "pages": [1, 2]}, "note": "{{{"},
        }
    # An object a custom decoder made is not encoded field by field: it takes the full walk.
    login = _Login("ann", "hunter2")
    safe = sanitize_arguments([login], {}, Policy(), decoded_json=True)
    assert safe == sanitize({"args": [login], "kwargs": {}}, Policy())
