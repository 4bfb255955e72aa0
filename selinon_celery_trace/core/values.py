"""Secrets recognised by their form, wherever they are: the ``selinon_trace_redact_values`` patterns.

Each pattern is a regular expression; what it matches is replaced by ``[redacted]``, or only its group
named ``secret`` when it has one (a URL keeps its scheme, user and host). A pattern with a group named
``luhn`` masks that group only where its digits pass the Luhn check (card numbers, not any long number).

Every string of every event is matched, so the defaults are guarded: each needs some characters
(13 digits; ``@``; ``eyJ``; ``-----BEGIN``; ``AKIA``; ``Bearer``; ``Authorization``) that one C pass
over the text rules out, and a string without them is never given to a regular expression
(:func:`_clear`). A task's arguments are tested once, in their JSON encoding
(:meth:`ValueMasker.found_in_json`). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from .cards import LONG_RUN, MIN_CARD, RUN_BYTES, card_runs, card_spans, long_run, luhn

__all__ = [
    "CLASSES",
    "DEFAULT_REDACT_VALUES",
    "DIGIT",
    "LETTER",
    "MIN_CARD",
    "REDACTED",
    "ValueMasker",
    "check_pattern",
    "luhn",
    "mask_pairs",
]

REDACTED: Final = "[redacted]"

URL_CREDENTIALS: Final = r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@\"']*:(?P<secret>[^\s/?#\"']+)@"
AUTHORIZATION: Final = (
    r"(?i)\bauthorization[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"(?:(?:bearer|basic|digest|token|negotiate|apikey)[ \t]+)?(?P<secret>[^\s\"',;]+)"
)
BEARER: Final = r"(?i)\bbearer[ \t]+(?P<secret>(?=[^\s\"']*[\d\-._~+/=])[A-Za-z0-9\-._~+/]{8,}=*)"
JWT: Final = r"\beyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*)?"
PEM_PRIVATE_KEY: Final = (
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|\Z)"
)
AWS_ACCESS_KEY: Final = r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"
CARD_NUMBER: Final = r"(?<![\d.])(?P<luhn>\d[\d \-]{11,}\d)"

DEFAULT_REDACT_VALUES: Final[tuple[str, ...]] = (
    URL_CREDENTIALS,
    AUTHORIZATION,
    BEARER,
    JWT,
    PEM_PRIVATE_KEY,
    AWS_ACCESS_KEY,
    CARD_NUMBER,
)
"""The default patterns: credentials in URLs, ``Authorization`` values, bearer tokens, JWTs, PEM private
keys, AWS access key ids, card numbers (Luhn-checked)."""

_DIGITS: Final = b"0123456789"
_LETTERS: Final = b"@JIBbzZ"  # besides digits, what some default pattern cannot match without
DIGIT: Final = 1
LETTER: Final = 2
CLASSES: Final = bytes(LETTER if b in _LETTERS else DIGIT if b in _DIGITS else 0 for b in range(256))
"""Each byte's class (for ``bytes.translate``): DIGIT, LETTER (a letter some default needs), else 0.

Text whose classes hold no LETTER and fewer than MIN_CARD DIGITs holds nothing a default masks."""
_SHORTEST: Final = 7  # characters of the shortest text a default pattern matches ("a://:b@")


# The default patterns by kind: each kind's guard is in _Pattern.needed.
_KINDS: Final = {
    URL_CREDENTIALS: "url",
    AUTHORIZATION: "authorization",
    BEARER: "bearer",
    JWT: "jwt",
    PEM_PRIVATE_KEY: "pem",
    AWS_ACCESS_KEY: "aws",
    CARD_NUMBER: "card",
}


def check_pattern(pattern: object) -> str | None:
    """Why ``pattern`` cannot be a value pattern, or None when it can."""
    if not isinstance(pattern, str) or not pattern:
        return f"{pattern!r} is not a non-empty string"
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return f"{pattern!r} is not a regular expression: {exc}"
    if compiled.search(""):
        return f"{pattern!r} matches the empty string"
    return None


class _Pattern:
    __slots__ = ("compiled", "kind", "luhn", "secret")

    def __init__(self, source: str) -> None:
        self.compiled = re.compile(source)
        self.secret = "secret" in self.compiled.groupindex
        self.luhn = "luhn" in self.compiled.groupindex
        self.kind = _KINDS.get(source)  # a default's kind (it has a guard), None for one's own

    def needed(self, text: str, data: bytes) -> bool:
        """The guard of a default pattern: the text its matches cannot do without (see _clear)."""
        kind = self.kind
        if kind == "card":
            return long_run(data)
        if kind == "url":
            return "@" in text and "://" in text
        if kind == "jwt":
            return "eyJ" in text
        if kind == "pem":
            return "-----" in text
        if kind == "aws":
            return "IA" in text
        if kind == "bearer":
            return "earer" in text or "EARER" in text
        return "uthoriz" in text or "UTHORIZ" in text

    def spans(self, text: str, json: bool = False) -> list[tuple[int, int]]:
        """Where this pattern masks ``text``; ``json``: ``text`` is a JSON encoding with no escape."""
        found: list[tuple[int, int]] = []
        if self.kind == "card" and text.isascii():
            for start, end in card_runs(text):
                # In JSON, a run outside any string is a number: never masked (only strings are).
                if json and not text.count('"', 0, start) % 2:
                    continue
                found.extend((start + a, start + b) for a, b in card_spans(text[start:end]))
            return found
        for match in self.compiled.finditer(text):
            if self.luhn:
                start = match.start("luhn")
                if start >= 0:
                    found.extend((start + a, start + b) for a, b in card_spans(match["luhn"]))
            elif self.secret and match.start("secret") >= 0:
                found.append(match.span("secret"))
            elif match.end() > match.start():
                found.append(match.span())
        return found


class ValueMasker:
    """Masks what a list of patterns recognises (see the module docstring)."""

    __slots__ = ("by_kind", "defaults_only", "guarded", "json_safe", "min_length", "patterns", "unguarded")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = tuple(_Pattern(source) for source in patterns if isinstance(source, str) and source)
        self.guarded = tuple(p for p in self.patterns if p.kind is not None)
        self.unguarded = tuple(p for p in self.patterns if p.kind is None)
        self.by_kind = {p.kind: p for p in self.guarded}
        # No default pattern matches fewer characters than "a://:b@": shorter strings are skipped.
        self.min_length = 1 if self.unguarded else _SHORTEST
        # Only guarded patterns (defaults): text passing _clear's first step needs no more.
        self.defaults_only = bool(self.guarded) and not self.unguarded
        # A user's pattern anchored at a string's start or end cannot be tried on an encoding of
        # several strings: arguments then always take the full walk, where each string is tried.
        self.json_safe = not any(
            re.search(r"(?<!\\)[$]|\\[AZ]|(?<![\\\[])\^", p.compiled.pattern) for p in self.unguarded
        )

    def _candidates(self, text: str, encoded: bytes | None = None, clear: bool = True) -> list[_Pattern]:
        """The patterns worth trying on ``text``: the unguarded ones, and those whose guard passes.

        ``clear=False``: the caller has run :func:`_clear`'s first step already (it found something).
        """
        found = list(self.unguarded)
        if self.guarded and not (clear and _clear(text, encoded)):
            data = encoded if encoded is not None else text.encode("utf-8", "surrogatepass")
            found.extend(p for p in self.guarded if p.needed(text, data))
        return found

    def found(self, text: str) -> bool:
        """True when some pattern would mask part of ``text``."""
        return any(p.spans(text) for p in self._candidates(text))

    def mask(self, text: str) -> str:
        """``text`` with what the patterns recognise replaced by ``[redacted]``."""
        if not self.patterns or len(text) < self.min_length:
            return text
        spans: list[tuple[int, int]] = []
        for pattern in self._candidates(text):
            spans.extend(pattern.spans(text))
        return _replace(text, spans) if spans else text

    def found_in_json(self, encoded: bytes) -> bool:
        """True unless the strings encoded in ``encoded`` (JSON) surely hold nothing to mask.

        The per-task path: plain arguments pass the guards (a few substring tests) and are done. When a
        guard passes, the patterns are tried on the encoding itself: JSON writes a string's characters
        as they are, but for quotes, backslashes and control characters, which it escapes; an encoding
        with an escape in it is therefore not tried but answered True (its strings take the full walk).
        """
        if not self.patterns:
            return False
        if self.defaults_only:  # _clear's first step, before any decoding (callers may do it first)
            classes = encoded.translate(CLASSES)
            if LETTER not in classes and classes.count(DIGIT) < MIN_CARD:
                return False
            return self._defaults_in_json(encoded.decode(), encoded, classes)
        text = encoded.decode()
        candidates = self._candidates(text, encoded)
        if not candidates:
            return False
        if not self.json_safe or "\\" in text:
            return True
        return any(p.spans(text, json=True) for p in candidates)

    def _defaults_in_json(self, text: str, encoded: bytes, classes: bytes) -> bool:
        """found_in_json for the default patterns, inline: a substring test each, a search if it passes.

        ``classes`` is ``encoded`` translated by CLASSES (it has a LETTER or 13 DIGITs).
        """
        if "\\" in text:
            return True  # an escape: the strings take the full walk (see found_in_json)
        kinds = self.by_kind
        for kind, found in (
            ("url", "@" in text and "://" in text),
            ("jwt", "eyJ" in text),
            ("pem", "-----" in text),
            ("aws", "IA" in text),
            ("bearer", "earer" in text or "EARER" in text),
            ("authorization", "uthoriz" in text or "UTHORIZ" in text),
        ):
            if found and kind in kinds and kinds[kind].compiled.search(text) is not None:
                return True
        if "card" not in kinds or classes.count(DIGIT) < MIN_CARD:
            return False
        marked = encoded.translate(RUN_BYTES)
        if marked.find(LONG_RUN) < 0:
            return False
        if not text.isascii():
            return True  # byte and character offsets differ: the full walk decides
        for start, end in card_runs(text, marked):
            # A run outside any string is a JSON number: never masked (only strings are).
            if text.count('"', 0, start) % 2 and card_spans(text[start:end]):
                return True
        return False


def _clear(text: str, encoded: bytes | None) -> bool:
    """True when no default pattern can match ``text`` (its UTF-8 ``encoded``, if at hand).

    The per-string (and per-task) cost of the common case, so the guards of all the defaults are here,
    inline. First one C pass (``bytes.translate``) marks the characters some default needs: digits, and
    ``@`` (a URL's credentials), ``J`` (``eyJ``), ``I`` (``AKIA``, ``ASIA``, ``-----BEGIN``), ``B``/``b``
    (bearer, ``-----BEGIN``), ``z``/``Z`` (authorization). Plain text has none of those letters and
    fewer than 13 digits. Only text with one of the letters is searched for the substrings themselves.
    Bearer and Authorization are recognised capitalised, in lower case and in upper case.
    """
    data = encoded if encoded is not None else text.encode("utf-8", "surrogatepass")
    classes = data.translate(CLASSES)
    if LETTER not in classes:
        return classes.count(DIGIT) < MIN_CARD
    if (
        "@" in text
        or "eyJ" in text
        or "-----" in text
        or "IA" in text
        or "earer" in text
        or "EARER" in text
        or "uthoriz" in text
        or "UTHORIZ" in text
    ):
        return False
    return classes.count(DIGIT) < MIN_CARD


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
    return _replace(text, spans) if spans else text


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    spans.sort()
    parts: list[str] = []
    position = 0
    for start, end in spans:
        if end <= position:
            continue  # inside a span already masked
        start = max(start, position)
        parts.append(text[position:start])
        parts.append(REDACTED)
        position = end
    parts.append(text[position:])
    return "".join(parts)
