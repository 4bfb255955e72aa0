"""``{ENV_VAR}`` placeholders, as Selinon's configuration writes them (``dsn: "{SENTRY_DSN}"``)."""

from __future__ import annotations

import os
import re

__all__ = ["expand_env"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(text: str) -> str:
    """Expand ``{ENV_VAR}`` placeholders in ``text`` from the environment.

    A missing variable raises ``ValueError`` naming it (the value itself is never echoed, since it is
    often a secret).

    >>> os.environ["EXAMPLE_DSN"] = "https://key@sentry.example/1"
    >>> expand_env("{EXAMPLE_DSN}")
    'https://key@sentry.example/1'
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            return os.environ[name]
        except KeyError:
            raise ValueError(f"environment variable {name!r} is not set") from None

    return _PLACEHOLDER.sub(replace, text)
