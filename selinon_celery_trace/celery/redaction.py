"""The details policy from the configuration: what is masked, and how long a value may be.

``selinon_trace_redact`` (key names), ``selinon_trace_redact_values`` (patterns of secrets by value)
and ``selinon_trace_max_value_length``; see docs/redaction.md. Each is validated here; a bad value is a
``ValueError`` whose message names the setting and the entry (``config`` makes it a TraceConfigError).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.keys import check_entry
from ..core.redact import DEFAULT_REDACT, DEFAULT_REDACT_VALUES, Policy, check_list
from ..core.values import check_pattern

__all__ = ["MAX_LENGTH_KEY", "REDACT_KEY", "REDACT_VALUES_KEY", "load_policy"]

REDACT_KEY = "selinon_trace_redact"
REDACT_VALUES_KEY = "selinon_trace_redact_values"
MAX_LENGTH_KEY = "selinon_trace_max_value_length"


def load_policy(lookup: Callable[[str], Any]) -> Policy:
    """The policy of the settings ``lookup`` finds (None for a setting not given)."""
    redact = _string_list(lookup, REDACT_KEY, DEFAULT_REDACT, "key names", check_entry)
    redact_values = _string_list(lookup, REDACT_VALUES_KEY, DEFAULT_REDACT_VALUES, "patterns", check_pattern)
    max_length = lookup(MAX_LENGTH_KEY)
    if max_length is None:
        max_length = Policy().max_length
    elif isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 16:
        raise ValueError(f"{MAX_LENGTH_KEY}: expected an integer of at least 16, got {max_length!r}")
    return Policy(redact=redact, max_length=max_length, redact_values=redact_values)


def _string_list(
    lookup: Callable[[str], Any],
    key: str,
    default: tuple[str, ...],
    what: str,
    check: Callable[[Any], str | None],
) -> tuple[str, ...]:
    """The list (or tuple) of ``what`` under ``key``, each accepted by ``check``; ``default`` when unset."""
    value = lookup(key)
    if value is None:
        return default
    problem = check_list(value, what, check)
    if problem is not None:
        raise ValueError(f"{key}{problem}")
    return tuple(value)
