"""Defensive readers for event details: a value as text, a number, a task's name, an error's one line.

Trace files come from any version of any writer, and a value may be any JSON: a missing key, ``null``
or a wrong type must read as "unknown", never raise.
"""

from __future__ import annotations

import math
import re
import signal
from collections.abc import Mapping
from typing import Any

__all__ = ["MAPPING_TASKS", "as_float", "as_int", "as_str", "error_line", "signal_name", "task_name"]

# Celery's built-in tasks that run another task over a list in one message (``task.map``,
# ``task.starmap``; ``task.chunks`` is a group of starmaps): named with the task they run.
MAPPING_TASKS = frozenset({"celery.map", "celery.starmap"})
_isfinite = math.isfinite


def as_str(details: Mapping[str, Any], key: str) -> str | None:
    """Return ``details[key]`` as text when it is a non-empty string or a number, else ``None``."""
    value = details.get(key)
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def task_name(details: Mapping[str, Any]) -> str | None:
    """The event's task name; ``celery.starmap(proj.add)`` for a map or starmap (and chunks) of a task.

    >>> task_name({"task_name": "celery.starmap", "node_args": {"kwargs": {"task": {"task": "proj.add"}}}})
    'celery.starmap(proj.add)'
    """
    name = details.get("task_name")
    if name.__class__ is str and name and name not in MAPPING_TASKS:  # the usual form, read first
        return name  # type: ignore[no-any-return]
    name = as_str(details, "task_name")
    if name not in MAPPING_TASKS:
        return name
    arguments = details.get("node_args")
    kwargs = arguments.get("kwargs") if isinstance(arguments, Mapping) else None
    signature = kwargs.get("task") if isinstance(kwargs, Mapping) else None
    inner = as_str(signature, "task") if isinstance(signature, Mapping) else None
    return f"{name}({inner})" if inner else name


def as_float(details: Mapping[str, Any], key: str) -> float | None:
    """Return ``details[key]`` as a finite number (numeric strings accepted), else ``None``."""
    value = details.get(key)
    if value.__class__ is float:  # the usual form, read first
        return value if _isfinite(value) else None  # type: ignore[no-any-return]
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def as_int(details: Mapping[str, Any], key: str) -> int | None:
    """Return ``details[key]`` as an integer when it is one (or a whole number), else ``None``."""
    value = as_float(details, key)
    if value is None or not value.is_integer():
        return None
    return int(value)


_QUALIFIED = re.compile(r"^((?:[A-Za-z_][\w]*\.)+)([A-Za-z_]\w*)(?=:|$)")


def _unqualified(line: str) -> str:
    """``pkg.module.Error: text`` -> ``Error: text``: the class name is what a reader needs."""
    return _QUALIFIED.sub(r"\2", line, count=1)


def error_line(what: object, exc_type: object = None) -> str | None:
    """Return the one line of an error text that says what went wrong, as ``Type: message``.

    For a Python traceback that is its last line (``ValueError: boom``), not its first (``Traceback
    (most recent call last):``), with the exception's module path left out; for any other text, its
    first non-empty line. ``exc_type`` (the exception's class name, as ``TASK_FAILURE`` and
    ``TASK_RETRY`` carry it) is put in front of a message that does not name it, and is the answer
    when there is no text.
    """
    text = what if isinstance(what, str) else None
    kind = exc_type if isinstance(exc_type, str) and exc_type else None
    if text:
        lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
        if lines:
            if lines[0].startswith("Traceback (most recent call last)"):
                # The exception line is the last one that is not indented (chained tracebacks included).
                tail = [line for line in lines if not line.startswith((" ", "\t"))]
                line = _unqualified(tail[-1] if tail else lines[-1])
            else:
                line = lines[0]
                if kind is not None:
                    line = _unqualified(line)
            if kind is not None and not (
                line == kind or line.startswith((kind + ":", kind + "(", kind + " "))
            ):
                line = f"{kind}: {line}"
            return line if len(line) <= 200 else line[:199] + "…"
    return kind


def signal_name(value: object) -> str | None:
    """A signal's name: ``SIGKILL`` for ``9``, ``"9"``, ``"KILL"`` or ``"SIGKILL"``; else ``None``."""
    if isinstance(value, str) and value and not value.isdigit():
        return value if value.startswith("SIG") or " " in value else f"SIG{value}"
    number = int(value) if isinstance(value, str) and value else value
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        try:
            return signal.Signals(number).name
        except ValueError:
            return f"signal {number}"
    return None
