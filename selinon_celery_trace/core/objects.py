"""What an object of the user's is made of, read without running its code (no ``__repr__``, no ``__str__``).

A task's arguments and results go into every event, so rendering them must cost the same whatever the
classes do: a ``__repr__`` that sleeps, blocks or builds 200 MB is never called. An object is written
as its fields instead, which redaction then masks by name like a dict's keys:

- dataclasses, attrs classes and pydantic models: their declared fields (those hidden from their own
  repr, ``repr=False``, are left out);
- exceptions: their ``args``;
- any other object: the public entries of its ``__dict__`` and ``__slots__`` (names not starting
  with ``_``), read from the instance itself (no property or ``__getattr__`` runs);
- enum members: ``Color.RED``; classes, functions and modules: their qualified name;
- the few built-in types whose text is made of their own numbers (``complex``, ``timedelta``, ``range``
  ...): their built-in repr; anything else (an object with no public field): ``<ClassName>``.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import types
from collections.abc import Iterator
from typing import Any, Final

__all__ = ["TYPE_KEY", "fields_of", "name_of", "plain_text"]

TYPE_KEY: Final = "__type__"
"""The key under which an object's class name is written beside its fields."""

# Built-in types whose repr is written by C code from the object's own numbers or short strings.
_SAFE_REPR: Final = (complex, datetime.timedelta, datetime.timezone, range, slice, type(Ellipsis))
_NAMED: Final = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType)


def _type_name(value: object) -> str:
    try:
        name = type(value).__name__
    except Exception:
        name = None
    return name if isinstance(name, str) else "object"


def name_of(value: object) -> str:
    """``<ClassName>``: what an object that shows nothing else is written as."""
    return f"<{_type_name(value)}>"


def plain_text(value: object) -> str | None:
    """The text of a value whose text needs none of its class's code, or None.

    Enum members, classes, functions, modules and the built-in types of ``_SAFE_REPR``.
    """
    if isinstance(value, enum.Enum):
        member = vars(value).get("_name_")
        return f"{_type_name(value)}.{member}" if isinstance(member, str) else name_of(value)
    if isinstance(value, _SAFE_REPR):
        return repr(value)
    if isinstance(value, _NAMED):
        target: Any = value.__func__ if isinstance(value, types.MethodType) else value
        name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
        if isinstance(value, types.ModuleType):
            return f"<module {name}>"
        module = getattr(target, "__module__", None)
        text = f"{module}.{name}" if isinstance(module, str) else str(name)
        return f"<{'class' if isinstance(value, type) else 'function'} {text}>"
    return None


def _declared(value: object) -> list[str] | None:
    """The field names a dataclass, attrs class or pydantic model declares, in order; None for others."""
    kind = type(value)
    if dataclasses.is_dataclass(kind):
        return [f.name for f in dataclasses.fields(kind) if f.repr]
    attrs = getattr(kind, "__attrs_attrs__", None)
    if isinstance(attrs, tuple):
        return [a.name for a in attrs if getattr(a, "repr", True) is not False]
    model = vars(kind).get("__pydantic_fields__") or getattr(kind, "__pydantic_fields__", None)
    if isinstance(model, dict):
        return [name for name, info in model.items() if getattr(info, "repr", True) is not False]
    return None


def _read(value: object, name: str) -> Any:
    """Attribute ``name`` of ``value`` as stored (its ``__dict__`` or a slot): no property, no hook."""
    try:
        stored = object.__getattribute__(value, "__dict__")
    except AttributeError:
        stored = None
    if isinstance(stored, dict) and name in stored:
        return stored[name]
    for klass in type(value).__mro__:
        slot = vars(klass).get(name)
        if isinstance(slot, types.MemberDescriptorType):
            return slot.__get__(value, type(value))
    raise AttributeError(name)


def _public(value: object) -> Iterator[str]:
    try:
        stored = object.__getattribute__(value, "__dict__")
    except AttributeError:
        stored = None
    if isinstance(stored, dict):
        yield from (name for name in stored if isinstance(name, str) and not name.startswith("_"))
    for klass in type(value).__mro__:
        slots = vars(klass).get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if isinstance(name, str) and not name.startswith("_"):
                yield name


def fields_of(value: object) -> dict[str, Any] | None:
    """``{"__type__": "ClassName", field: value, ...}`` for an object of the user's, or None.

    None for values that have no fields to show (see :func:`plain_text` and :func:`name_of`). A field
    that cannot be read is left out.
    """
    if isinstance(value, BaseException):
        return {TYPE_KEY: _type_name(value), "args": value.args}
    if isinstance(value, (*_NAMED, enum.Enum)):
        return None
    names = _declared(value)
    if names is None:
        names = list(dict.fromkeys(_public(value)))
        if not names:
            return None
    found: dict[str, Any] = {TYPE_KEY: _type_name(value)}
    for name in names:
        try:
            found[name] = _read(value, name)
        except Exception:
            continue
    return found
