"""A Selinon storage adapter with a ``trace`` method, and the function sink that replaces a storage entry.

Selinon's ``- storage: {name: MyStorage, method: trace}`` calls ``trace`` of the adapter its storage
pool built; here a function sink does that, as the configuration error says (and docs/trace-api.md).
"""

from __future__ import annotations

from typing import Any


class MySimpleStorage:
    """A storage adapter as Selinon's ``DataStorage`` subclasses are: built from its configuration."""

    def __init__(self, connection_string: str) -> None:
        self.connection_string = connection_string
        self.traced: list[tuple[int, dict[str, Any]]] = []

    def trace(self, event: int, details: dict[str, Any]) -> None:
        """Keep the event (a real adapter would write it to its database)."""
        self.traced.append((event, details))


storage = MySimpleStorage(connection_string="foo")


def to_storage(event: int, details: dict[str, Any]) -> None:
    """The function sink of ``{"function": {"import": __name__, "name": "to_storage"}}``."""
    storage.trace(event, details)
