"""Quantiles of durations in bounded memory, for the ``summary`` tables' p50, p95 and max."""

from __future__ import annotations

import math
from typing import Final

__all__ = ["DurationSketch"]

_GAMMA: Final = 1.02
_LOG_GAMMA: Final = math.log(_GAMMA)
_ZERO: Final = 1e-6  # a microsecond: below what a trace timestamp can tell apart
_ceil, _log = math.ceil, math.log


class DurationSketch:
    """Quantiles of a stream of durations in bounded memory, within 1% of the true value.

    Durations are counted in logarithmic buckets (the DDSketch idea): bucket ``i`` holds values in
    ``(g**(i-1), g**i]`` with g = 1.02, so any quantile read back is within 1% relative error, and a
    range from a microsecond to a day needs about 1,300 buckets however many values are added.
    ``max`` is exact.
    """

    __slots__ = ("_buckets", "_zero", "count", "max", "total")

    GAMMA: Final = _GAMMA

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self._zero = 0
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        """Count one duration (negative ones, from clock skew between hosts, count as zero)."""
        self.count += 1
        if seconds <= _ZERO:
            self._zero += 1
            return
        self.total += seconds
        if seconds > self.max:
            self.max = seconds
        index = _ceil(_log(seconds) / _LOG_GAMMA)
        buckets = self._buckets
        buckets[index] = buckets.get(index, 0) + 1

    def merge(self, other: DurationSketch) -> None:
        """Add every duration ``other`` counted (a sketch of another part of the same input)."""
        self.count += other.count
        self._zero += other._zero
        self.total += other.total
        self.max = max(self.max, other.max)
        buckets = self._buckets
        for index, count in other._buckets.items():
            buckets[index] = buckets.get(index, 0) + count

    def quantile(self, q: float) -> float | None:
        """Return the ``q`` quantile (0 < q <= 1, nearest rank), or ``None`` when nothing was added."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = self._zero
        if seen >= rank:
            return 0.0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                # The bucket's midpoint in relative terms, never above the exact maximum.
                return min(2 * self.GAMMA**index / (self.GAMMA + 1), self.max)
        return self.max  # pragma: no cover - the counts always reach rank
