"""The optional fast JSON encoder: orjson when it is installed (the ``fast`` extra), else ``None``.

The one place that looks for it; the record encoder and the argument path each build on what it found,
and fall back to the standard library's ``json`` without it.
"""

from __future__ import annotations

from typing import Any

orjson: Any
try:
    import orjson
except ImportError:  # pragma: no cover - exercised in the no-orjson tox env
    orjson = None

ENCODER: str = "json" if orjson is None else "orjson"
"""The encoder trace lines are written with: ``orjson`` or ``json``."""
