"""Secrets in free text (an exception's message, a traceback, a reason), found by the key words around them.

Two forms: ``key=value`` / ``key: value`` pairs, and a key word followed by a secret-looking token
(``bad password hunter2``). Which key words count is the caller's ``masks`` (the key list of
``selinon_trace_redact``). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from .values import REDACTED, replace_spans

__all__ = ["mask_pairs"]

# ``key: value`` or ``key=value`` in free text (a message, a repr, a query string), the value quoted or
# not. The value is only looked at (a lookahead), so a value that holds a pair itself is read too.
_PAIR: Final = re.compile(
    r"(?P<key>[A-Za-z_][\w.\-]{0,63})[\"']?[ \t]*[:=][ \t]*"
    r"(?=(?:'(?P<sq>[^'\n]*)'|\"(?P<dq>[^\"\n]*)\"|(?P<bare>(?:\[redacted\]|[^\s'\",;&)}\]])+)))"
)


# ``password hunter2`` in a message (``f"bad password {pw}"``): a masked key word, then (after at most
# one linking word) a token. Prose has such pairs too ("password incorrect"), so the token is masked only
# when it looks like a secret rather than a word (see _secret_like).
_PHRASE: Final = re.compile(
    r"(?<![\w.\-/])(?P<key>[A-Za-z][A-Za-z_\-]{1,63})"
    r"(?=[ \t]+(?:(?:is|was|of|for)[ \t]+)?(?P<value>[^\s'\"`,;:=()\[\]{}<>]{4,}))"
)
_WORDLIKE: Final = re.compile(r"[A-Za-z]?[a-z]+|[A-Z]+")


def _secret_like(token: str) -> bool:
    """True unless ``token`` reads as a word: a secret has a digit or a sign, mixed case, or is long."""
    if token.startswith(REDACTED[:-1]) or token.endswith("..."):
        return False
    return _WORDLIKE.fullmatch(token) is None or len(token) >= 12


def mask_pairs(text: str, masks: Callable[[str], bool]) -> str:
    """``text`` with the value of every ``key=value`` / ``key: value`` whose key ``masks`` replaced, and
    the secret-like token that follows a masked key word (``bad password hunter2``)."""
    spans: list[tuple[int, int]] = []
    if "=" in text or ":" in text:
        for match in _PAIR.finditer(text):
            if not masks(match["key"]):
                continue
            group = "sq" if match["sq"] is not None else "dq" if match["dq"] is not None else "bare"
            if not match[group].startswith(REDACTED[:-1]):
                spans.append(match.span(group))
    for match in _PHRASE.finditer(text):
        if _secret_like(match["value"]) and masks(match["key"]):
            spans.append(match.span("value"))
    return replace_spans(text, spans) if spans else text
