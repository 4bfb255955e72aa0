"""Card numbers in text: where runs of digits stand, and which of them pass the Luhn check.

The default card pattern of :mod:`.values` (``CARD_NUMBER``) is found here without its regular
expression, which would try every position of every string: one ``bytes.translate`` marks digits,
spaces and hyphens, and a search with a literal prefix finds the runs of 13 or more. Pure functions.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["LONG_RUN", "MIN_CARD", "RUN_BYTES", "card_runs", "card_spans", "long_run", "luhn"]

MIN_CARD: Final = 13
_MIN_CARD, _MAX_CARD = MIN_CARD, 19

_GROUP: Final = re.compile(r"\d+")
_DOUBLED: Final = bytes.maketrans(b"0123456789", b"0246813579")  # a digit doubled, its digits summed
# For long_run and card_runs: digits, spaces and hyphens become "0", every other byte ".".
RUN_BYTES: Final = bytes(48 if 48 <= b <= 57 or b in b" -" else 46 for b in range(256))
LONG_RUN: Final = b"0" * MIN_CARD
_LONG_RUNS: Final = re.compile(re.escape(LONG_RUN) + b"0*")


def long_run(data: bytes) -> bool:
    """True when ``data`` has 13 digits, spaces or hyphens in a row: where a card number can be."""
    return data.translate(RUN_BYTES).find(LONG_RUN) >= 0


def luhn(digits: str) -> bool:
    """True when ``digits`` (digits only) pass the Luhn check, as every payment card number does."""
    # Every second digit from the right doubled (its digits summed): a table, then sums of bytes.
    data = digits.encode("ascii")
    total = sum(data[-1::-2]) + sum(data[-2::-2].translate(_DOUBLED)) - 48 * len(data)
    return total % 10 == 0


def card_spans(run: str) -> list[tuple[int, int]]:
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


def card_runs(text: str, marked: bytes | None = None) -> list[tuple[int, int]]:
    """Where the card pattern matches in ASCII ``text``, found without that regular expression.

    The runs of digits, spaces and hyphens from a digit to a digit, 13 characters or more, not right
    after a ``.`` (a decimal's fraction). ``bytes.translate`` marks the run characters, and a pattern
    with a literal prefix (which the regular expression engine skips to) finds runs of 13 or more:
    the card pattern itself tries every position of the text, several times slower. ``marked``: the
    text so translated already.
    """
    found: list[tuple[int, int]] = []
    if marked is None:
        marked = text.encode("ascii").translate(RUN_BYTES)
    for match in _LONG_RUNS.finditer(marked):
        start, end = match.span()
        while start < end and text[start] in " -":
            start += 1
        while end > start and text[end - 1] in " -":
            end -= 1
        if end - start >= _MIN_CARD and (start == 0 or text[start - 1] != "."):
            found.append((start, end))
    return found
