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
MIN_CARD: Final = 13
_MIN_CARD, _MAX_CARD = MIN_CARD, 19
_SHORTEST: Final = 7  # characters of the shortest text a default pattern matches ("a://:b@")
_GROUP: Final = re.compile(r"\d+")
_DOUBLED: Final = bytes.maketrans(b"0123456789", b"0246813579")  # a digit doubled, its digits summed
# For _long_run and _card_runs: digits, spaces and hyphens become "0", every other byte ".".
_RUN_BYTES: Final = bytes(48 if 48 <= b <= 57 or b in b" -" else 46 for b in range(256))
_LONG_RUN: Final = b"0" * MIN_CARD
_LONG_RUNS: Final = re.compile(re.escape(_LONG_RUN) + b"0*")


def _needs(pattern: str) -> Callable[[str], bool] | None:
    """The cheap test a default pattern's match cannot do without (see :func:`_clear`)."""
    return {
        URL_CREDENTIALS: lambda s: "@" in s and "://" in s,
        AUTHORIZATION: lambda s: "uthoriz" in s or "UTHORIZ" in s,
        BEARER: lambda s: "earer" in s or "EARER" in s,
        JWT: lambda s: "eyJ" in s,
        PEM_PRIVATE_KEY: lambda s: "-----" in s,
        AWS_ACCESS_KEY: lambda s: "IA" in s,
        CARD_NUMBER: _long_run,
    }.get(pattern)


def _long_run(text: str) -> bool:
    """True when ``text`` has 13 digits, spaces or hyphens in a row: where a card number can be."""
    return text.encode("utf-8", "surrogatepass").translate(_RUN_BYTES).find(_LONG_RUN) >= 0


def luhn(digits: str) -> bool:
    """True when ``digits`` (digits only) pass the Luhn check, as every payment card number does."""
    # Every second digit from the right doubled (its digits summed): a table, then sums of bytes.
    data = digits.encode("ascii")
    total = sum(data[-1::-2]) + sum(data[-2::-2].translate(_DOUBLED)) - 48 * len(data)
    return total % 10 == 0


def _card_spans(run: str) -> list[tuple[int, int]]:
    """Where in ``run`` (digit groups joined by single spaces or hyphens) a card number stands.

    The whole run, when it has 13 to 19 digits passing the Luhn check; else the first such stretch of
    whole groups of 3 to 6 digits each (as cards are printed: 4-4-4-4, 4-6-5), so that a card beside
    other numbers is found ("order 12 4111 1111 1111 1111") and a list of small numbers is not one.
    """
    digits = run.replace(" ", "").replace("-", "")
    if _MIN_CARD <= len(digits) <= _MAX_CARD and luhn(digits):
        return [(0, len(run))]
    if len(digits) == len(run):  # one group: no stretch of whole groups inside it
        return []
    groups = [(found.start(), found.end()) for found in _GROUP.finditer(run)]
    spans: list[tuple[int, int]] = []
    first = 0
    while first < len(groups):
        size, last, hit = 0, first, None
        while last < len(groups) and 3 <= groups[last][1] - groups[last][0] <= 6:
            size += groups[last][1] - groups[last][0]
            if size > _MAX_CARD:
                break
            if size >= _MIN_CARD and luhn(
                run[groups[first][0] : groups[last][1]].replace(" ", "").replace("-", "")
            ):
                hit = last
            last += 1
        if hit is not None:
            spans.append((groups[first][0], groups[hit][1]))
            first = hit + 1
        else:
            first += 1
    return spans


def _card_runs(text: str) -> list[tuple[int, int]]:
    """Where CARD_NUMBER matches in ASCII ``text``, found without that regular expression.

    The runs of digits, spaces and hyphens from a digit to a digit, 13 characters or more, not right
    after a ``.`` (a decimal's fraction). ``bytes.translate`` marks the run characters, and a pattern
    with a literal prefix (which the regular expression engine skips to) finds runs of 13 or more:
    the card pattern itself tries every position of the text, several times slower.
    """
    found: list[tuple[int, int]] = []
    for match in _LONG_RUNS.finditer(text.encode("ascii").translate(_RUN_BYTES)):
        start, end = match.span()
        while start < end and text[start] in " -":
            start += 1
        while end > start and text[end - 1] in " -":
            end -= 1
        if end - start >= _MIN_CARD and (start == 0 or text[start - 1] != "."):
            found.append((start, end))
    return found


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
    __slots__ = ("compiled", "luhn", "needs", "secret")

    def __init__(self, source: str) -> None:
        self.compiled = re.compile(source)
        self.secret = "secret" in self.compiled.groupindex
        self.luhn = "luhn" in self.compiled.groupindex
        self.needs = _needs(source)

    def spans(self, text: str, json: bool = False) -> list[tuple[int, int]]:
        """Where this pattern masks ``text``; ``json``: ``text`` is a JSON encoding with no escape."""
        found: list[tuple[int, int]] = []
        if self.needs is not None and self.luhn and text.isascii():  # the default card pattern
            for start, end in _card_runs(text):
                # In JSON, a run outside any string is a number: never masked (only strings are).
                if json and not text.count('"', 0, start) % 2:
                    continue
                found.extend((start + a, start + b) for a, b in _card_spans(text[start:end]))
            return found
        for match in self.compiled.finditer(text):
            if self.luhn:
                start = match.start("luhn")
                if start >= 0:
                    found.extend((start + a, start + b) for a, b in _card_spans(match["luhn"]))
            elif self.secret and match.start("secret") >= 0:
                found.append(match.span("secret"))
            elif match.end() > match.start():
                found.append(match.span())
        return found


class ValueMasker:
    """Masks what a list of patterns recognises (see the module docstring)."""

    __slots__ = ("defaults_only", "guarded", "json_safe", "min_length", "patterns", "unguarded")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = tuple(_Pattern(source) for source in patterns if isinstance(source, str) and source)
        self.guarded = tuple(p for p in self.patterns if p.needs is not None)
        self.unguarded = tuple(p for p in self.patterns if p.needs is None)
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
            found.extend(p for p in self.guarded if p.needs(text))  # type: ignore[misc]
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
        if not self.unguarded:  # _clear's first step, before any decoding (callers may do it first)
            classes = encoded.translate(CLASSES)
            if LETTER not in classes and classes.count(DIGIT) < _MIN_CARD:
                return False
        text = encoded.decode()
        candidates = self._candidates(text, encoded, clear=not self.defaults_only)
        if not candidates:
            return False
        if not self.json_safe or "\\" in text:
            return True
        return any(p.spans(text, json=True) for p in candidates)


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
        return classes.count(DIGIT) < _MIN_CARD
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
    return classes.count(DIGIT) < _MIN_CARD


# ``key: value`` or ``key=value`` in free text (a message, a repr, a query string), the value quoted or
# not. The value is only looked at (a lookahead), so a value that holds a pair itself is read too.
_PAIR: Final = re.compile(
    r"(?P<key>[A-Za-z_][\w.\-]{0,63})[\"']?[ \t]*[:=][ \t]*"
    r"(?=(?:'(?P<sq>[^'\n]*)'|\"(?P<dq>[^\"\n]*)\"|(?P<bare>(?:\[redacted\]|[^\s'\",;&)}\]])+)))"
)


def mask_pairs(text: str, masks: Callable[[str], bool]) -> str:
    """``text`` with the value of every ``key=value`` / ``key: value`` whose key ``masks`` replaced."""
    if "=" not in text and ":" not in text:
        return text
    spans: list[tuple[int, int]] = []
    for match in _PAIR.finditer(text):
        if not masks(match["key"]):
            continue
        group = "sq" if match["sq"] is not None else "dq" if match["dq"] is not None else "bare"
        if not match[group].startswith(REDACTED[:-1]):
            spans.append(match.span(group))
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
