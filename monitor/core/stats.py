"""Bucket counts the program keeps and exports as Prometheus histograms (no prometheus_client here)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

DEFAULT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LAG_BUCKETS = (60, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)


@dataclass
class Histogram:
    """Cumulative bucket counts we own, exported as a Prometheus histogram."""

    buckets: Sequence[float] = DEFAULT_BUCKETS
    counts: list[int] = field(default_factory=list)
    sum: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        """Add one observation."""
        if not self.counts:
            self.counts = [0] * (len(self.buckets) + 1)
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> Sequence[tuple[str, float]]:
        """Buckets as (le, cumulative count), ending with +Inf."""
        counts = self.counts or [0] * (len(self.buckets) + 1)
        out, running = [], 0
        for le, c in zip([*map(_le, self.buckets), "+Inf"], counts, strict=True):
            running += c
            out.append((le, float(running)))
        return out


def _le(v: float) -> str:
    return f"{v:g}"


class HistogramLike(Protocol):
    """Bucket counts any part of the program keeps (alerts.stats.Histogram fits too)."""

    @property
    def sum(self) -> float: ...

    def cumulative(self) -> Sequence[tuple[str, float]]: ...
