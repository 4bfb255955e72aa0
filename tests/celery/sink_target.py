"""A module a function sink can be imported from (configuration tests)."""

from __future__ import annotations

from typing import Any

received: list[tuple[int, Any]] = []


def record(event: int, details: Any) -> None:
    """Remember each event."""
    received.append((event, details))
