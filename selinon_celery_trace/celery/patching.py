"""Named hooks on methods of Celery's (and billiard's) classes, where Celery sends no signal.

Some facts exist only inside a method: the beat entry being sent, a pool process found dead, a message
that could not be decoded, the worker's own stop. A hook wraps such a method on its class (so every
subclass that does not override it, and every override that calls ``super()``, goes through it), is
marked so that installing twice wraps once, and is undone only while it is still the class's method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

__all__ = ["hook", "unhook"]

_HOOKED: Final = "_selinon_trace_hooked"
_INHERITED: Final = "_selinon_trace_inherited"


def hook(owner: type, name: str, make: Callable[[Any], Any]) -> None:
    """Replace ``owner.name`` with ``make(original)``; nothing happens when it is hooked already.

    A Celery or billiard without the method (another version) is left alone: that fact goes untold.
    """
    original = getattr(owner, name, None)
    if original is None or getattr(original, _HOOKED, False):
        return
    wrapper = make(original)
    wrapper.__wrapped__ = original
    wrapper.__name__ = name
    wrapper.__qualname__ = f"{owner.__qualname__}.{name}"
    setattr(wrapper, _HOOKED, True)
    # A method ``owner`` inherits is restored by deleting ours, not by copying the parent's onto it.
    setattr(wrapper, _INHERITED, name not in vars(owner))
    setattr(owner, name, wrapper)


def unhook(owner: type, name: str) -> None:
    """Undo :func:`hook` (only where our wrapper is still ``owner``'s own method)."""
    current: Any = vars(owner).get(name)
    if not getattr(current, _HOOKED, False):
        return
    if getattr(current, _INHERITED, False):
        delattr(owner, name)
    else:
        setattr(owner, name, current.__wrapped__)
