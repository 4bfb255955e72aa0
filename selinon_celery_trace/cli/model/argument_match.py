"""Matching a task's arguments as the trace has them: ``find --arg client_id=1234``.

A task's ``node_args`` is ``{"args": [...], "kwargs": {...}}``, already redacted and truncated by the
writer: a masked keyword argument reads ``[redacted]``, so it is found by that placeholder and never by
its secret (the secret is not in the file). A condition is one of:

- ``KEY=VALUE``: the keyword argument ``KEY`` is ``VALUE``;
- ``N=VALUE`` (``N`` digits): the positional argument ``N`` (from 0) is ``VALUE``;
- ``VALUE`` (no ``=``): some positional argument or some keyword argument is ``VALUE``.

A value is compared as text: a string as it is, anything else as its compact JSON (``1234``, ``true``,
``null``, ``[1,2]``), so ``client_id=1234`` finds the number 1234 and the string "1234" alike. ``*``
and ``?`` in ``VALUE`` are wildcards (any text, one character); nothing else is special (``[redacted]``
is that text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ArgCondition", "arguments_of", "parse_condition", "value_text"]


def value_text(value: Any) -> str:
    """An argument as the text it is compared as: a string as it is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)


def arguments_of(node_args: Any) -> tuple[Sequence[Any], Mapping[str, Any]]:
    """``(args, kwargs)`` of a ``node_args`` value; another writer's plain dict is taken as kwargs."""
    if isinstance(node_args, Mapping):
        if node_args and set(node_args) <= {"args", "kwargs"}:
            args, kwargs = node_args.get("args"), node_args.get("kwargs")
            return (
                args if isinstance(args, list) else [],
                kwargs if isinstance(kwargs, Mapping) else {},
            )
        return [], node_args
    if isinstance(node_args, list):
        return node_args, {}
    return ([] if node_args is None else [node_args]), {}


@dataclass(frozen=True, slots=True)
class ArgCondition:
    """One ``--arg``: which argument (a keyword, a position, or any) must have which value."""

    key: str | None  # a keyword argument's name; None: a position or any argument
    position: int | None  # a positional argument's index; None with key None: any argument
    value: str
    text: str  # as given, for messages

    def _equals(self, value: Any) -> bool:
        wanted, got = self.value, value_text(value)
        if "*" in wanted or "?" in wanted:
            pattern = re.escape(wanted).replace(r"\*", ".*").replace(r"\?", ".")
            return re.fullmatch(pattern, got, re.DOTALL) is not None
        return got == wanted

    def matches(self, node_args: Any) -> bool:
        """Whether the arguments (a ``node_args`` value, as the trace has it) satisfy the condition."""
        args, kwargs = arguments_of(node_args)
        if self.key is not None:
            return self.key in kwargs and self._equals(kwargs[self.key])
        if self.position is not None:
            return self.position < len(args) and self._equals(args[self.position])
        return any(self._equals(value) for value in args) or any(
            self._equals(value) for value in kwargs.values()
        )


def parse_condition(text: str) -> ArgCondition:
    """Read one ``--arg`` value (see the module docstring); ``ValueError`` when it names no key.

    >>> parse_condition("client_id=1234")
    ArgCondition(key='client_id', position=None, value='1234', text='client_id=1234')
    >>> parse_condition("0=1234").position
    0
    """
    if "=" not in text:
        return ArgCondition(None, None, text, text)
    key, value = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ValueError(f"{text!r} names no argument before '=' (KEY=VALUE, N=VALUE or VALUE)")
    if key.isdigit():
        return ArgCondition(None, int(key), value, text)
    return ArgCondition(key, None, value, text)
