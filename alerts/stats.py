"""Delivery figures as plain data; the daemon exports them as Prometheus metrics when scraped."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

LATENCY_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class Histogram:
    """Cumulative-ready bucket counts: counts[i] observations <= buckets[i], the rest in +Inf."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    sum: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        """Add one observation."""
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, cumulative count) pairs, ending with +Inf, as Prometheus histograms want."""
        out, running = [], 0
        for le, n in zip([*map(str, self.buckets), "+Inf"], self.counts, strict=True):
            running += n
            out.append((le, running))
        return out


@dataclass
class DeliveryStats:
    """outwatch_notifications_total{receiver}, ..._failed_total{receiver,reason},
    ..._expired_total{receiver}, outwatch_notification_latency_seconds{receiver} and
    outwatch_outbox_pending."""

    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[tuple[str, str]] = field(default_factory=Counter)
    # dropped unsent because older than delivery.give_up_after (the maximum age)
    expired: Counter[str] = field(default_factory=Counter)
    latency: dict[str, Histogram] = field(default_factory=dict)
    outbox_pending: int = 0

    def observe_latency(self, receiver: str, seconds: float) -> None:
        """Record how long one successful send took."""
        self.latency.setdefault(receiver, Histogram()).observe(seconds)
