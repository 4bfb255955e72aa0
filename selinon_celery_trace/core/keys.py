"""Which key names hide a secret: the ``selinon_trace_redact`` list and how a key is matched against it.

A key is read as the words it is made of, whatever its spelling: ``db_password``, ``dbPassword``,
``DB-PASSWORD``, ``db.password`` and ``DB Password`` are all ``db password``. An entry of the list
matches a key when it occurs in it (``password`` masks ``db_password`` and ``passwords``); an entry
written ``word:NAME`` matches only the whole word (``word:auth`` masks ``auth``, ``x-auth-token`` and
``authToken``, not ``author`` or ``oauth_provider``). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["DEFAULT_REDACT", "WORD", "KeyMatcher", "check_entry"]

WORD: Final = "word:"
"""The prefix of an entry that matches only a whole word of a key."""

DEFAULT_REDACT: Final[tuple[str, ...]] = (
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "auth_header",
    "credential",
    "private_key",
    "cookie",
    "session_key",
    "sessionid",
    "csrf",
    "dsn",
    "access_key",
    "signature",
    "jwt",
    "bearer",
    "word:auth",
    "word:pin",
)
"""Key names whose values are masked by default (spelling and case aside; ``word:`` entries whole only)."""

# Separators between the words of a key: dots, spaces, hyphens, underscores and other punctuation.
_SEPARATORS: Final = re.compile(r"[\W_]+")
# The words of one separator-free part: camelCase and ACRONYMCase are split, digits are their own word.
_WORDS: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^A-Za-z\d]+")


def _words(key: str) -> list[str]:
    found: list[str] = []
    for part in _SEPARATORS.split(key):
        if part:
            found.extend(word.lower() for word in _WORDS.findall(part))
    return found


def _joined(key: str) -> str:
    """``key`` lower-cased with every run of separators read as one ``_`` (``Api Key`` -> ``api_key``)."""
    return "_".join(part for part in _SEPARATORS.split(key.lower()) if part)


def check_entry(entry: object) -> str | None:
    """Why ``entry`` cannot be an entry of the key list, or None when it can."""
    if not isinstance(entry, str):
        return f"{entry!r} is not a string"
    name = entry[len(WORD) :] if entry.startswith(WORD) else entry
    if not _joined(name):
        return f"{entry!r} names no word"
    return None


class KeyMatcher:
    """Decides, for one key list, whether a key's value is masked (see the module docstring)."""

    __slots__ = ("fragments", "phrases")

    def __init__(self, entries: tuple[str, ...]) -> None:
        fragments: list[str] = []
        phrases: list[str] = []
        for entry in entries:
            if not isinstance(entry, str):
                continue
            if entry.startswith(WORD):
                words = _words(entry[len(WORD) :])
                if words:
                    phrases.append(f" {' '.join(words)} ")
            else:
                joined = _joined(entry)
                if joined:
                    fragments.append(joined)
        self.fragments = tuple(fragments)
        self.phrases = tuple(phrases)

    def masks(self, key: str) -> bool:
        """True when values under ``key`` are masked (not memoised: :class:`~.redact.Policy` is)."""
        if self.fragments:
            # Two spellings: separators kept as "_" ("session_id"), and camelCase split ("sessionId"
            # reads "session_id" too, "apiKey" "api_key").
            joined = _joined(key)
            if any(fragment in joined for fragment in self.fragments):
                return True
            words = _words(key)
            split = "_".join(words)
            if split != joined and any(fragment in split for fragment in self.fragments):
                return True
        else:
            words = _words(key)
        if self.phrases:
            spaced = f" {' '.join(words)} "
            return any(phrase in spaced for phrase in self.phrases)
        return False
