"""Selinon's ``global.trace`` forms, read with Selinon's meaning, for ``selinon_trace``.

Selinon (its ``global_config.py``) reads the section so: ``false`` traces nothing; a list of entries,
or one entry without the list; each entry a mapping whose every key is a sink (``logging``, ``json``,
``sentry``, ``function``, ``storage``), so an entry with several keys is several sinks; a sink whose
value is ``false`` adds nothing. Its earliest releases (and its own test YAML) also wrote
``trace: true`` for logging. Here ``null`` (the key unset) traces nothing too, and a ``storage`` entry
fails: it names an adapter that Selinon's storage pool builds from the YAML's ``storages`` section,
which does not exist outside Selinon (the error says what to write instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["entries"]


def entries(value: Any, key: str) -> list[tuple[str, Any, Any]]:
    """``(where, sink name, options)`` for each sink of a ``global.trace`` value, in the order written.

    Raises ``ValueError`` naming ``key`` and the entry when the value has no Selinon meaning here.
    """
    if value is None or value is False:
        return []
    if value is True:
        return [(key, "logging", True)]
    if isinstance(value, Mapping):
        listed: list[tuple[str, Any]] = [(key, value)]
    elif isinstance(value, (list, tuple)):
        listed = [(f"{key}[{index}]", entry) for index, entry in enumerate(value)]
    else:
        raise ValueError(f"{key}: expected a list of sinks such as [{{'logging': True}}], got {value!r}")
    found = []
    for where, entry in listed:
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: each entry maps sink names to options, such as {{'json': True}}")
        for name, options in entry.items():
            if name == "storage":
                raise ValueError(_storage(f"{where}.storage", options))
            found.append((where, name, options))
    return found


def _storage(where: str, options: Any) -> str:
    known = options if isinstance(options, Mapping) else {}
    name, method = known.get("name"), known.get("method", "trace")
    return (
        f"{where}: Selinon's storage tracing calls {method!r} of the storage adapter {name!r} that "
        "Selinon's storage pool builds, and there is no storage pool here. Use a function sink instead, "
        "{'function': {'import': 'myapp.trace', 'name': 'to_storage'}}, where to_storage(event, details) "
        f"calls your adapter's {method!r} method (see docs/trace-api.md)"
    )
